// Fuzz targets that drive the responder engine: whole datagrams before decryption, and inner payload
// chains AFTER decryption (the fuzzer holds the initiator's keys, seals each mutated chain with the
// right SK_e/SK_a and the message ID the responder expects, so the parsers and tasks behind the SK
// payload are reached: IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL), and RFC 7383 fragments.
import {
  AuthMethod,
  ExchangeType,
  decodeMessage,
  decodePayloads,
  encodePayloads,
  openProtected,
  type Payload,
} from '../../../src/codec/index.ts';
import { pskAuth, signedOctets } from '../../../src/crypto/index.ts';
import type { IkeSa } from '../../../src/ike/ike-sa.ts';
import { idBody } from '../../../src/ike/tasks/ike-auth.ts';
import { ADDR_A, PSK } from '../../exchange/harness.ts';
import { FuzzPair, TO_B, sealRaw } from './engine-pair.ts';
import { FuzzFinding, type FuzzSession, type FuzzTarget } from './runner.ts';

/** Bounds for the responder's tables after any number of hostile inputs. */
const MAX_SAS = 8;
const MAX_KERNEL_SAS = 16;

type Inner = { exchange: number; plain: Uint8Array };

/** Inner chains as [first payload type, ...plaintext]: the first byte is mutated like the rest. */
const pack = (firstType: number, bytes: Uint8Array): Uint8Array => Uint8Array.of(firstType, ...bytes);

/** A's requests as B decrypted them (the plaintext inner chains of real exchanges). */
async function captureSeeds(): Promise<Inner[]> {
  const p = new FuzzPair();
  const seen: Inner[] = [];
  const grab = (b: IkeSa, from: number) => {
    for (const d of p.net.log.filter((x) => x.seq >= from && x.srcAddr === ADDR_A)) {
      const msg = decodeMessage(d.data);
      if (msg.header.flags & 0x20 || msg.header.exchangeType === ExchangeType.IKE_SA_INIT) continue;
      const inner = openProtected(d.data, msg, b.keymat!.inbound);
      const e = encodePayloads(inner);
      seen.push({ exchange: msg.header.exchangeType, plain: pack(e.firstType, e.bytes) });
    }
  };
  try {
    const { a, b } = await p.establish();
    grab(b, 0);
    const step = async (fn: () => void) => {
      const from = p.net.log.at(-1)!.seq + 1;
      fn();
      await p.settle(0);
      grab(b, from);
    };
    await step(() => p.a.engine.createChild('site'));
    await step(() => p.a.engine.rekeyChild(a, a.children[0]!));
    await step(() => p.a.engine.lifecycle.checkLiveness(a));
    await step(() => p.a.engine.terminateChild(a, a.children.at(-1)!));
    await step(() => p.a.engine.rekeyIke(a));
  } finally {
    await p.close();
  }
  return seen;
}

/** Re-signs a decodable IKE_AUTH chain with the PSK for this SA (RFC 7296 §2.15), so AUTH passes. */
function resign(a: IkeSa, plain: Uint8Array): Uint8Array | undefined {
  let payloads: Payload[];
  try {
    payloads = decodePayloads(plain.subarray(1), plain[0]!, 0, { rejectUnknownCritical: false });
  } catch {
    return undefined;
  }
  const id = payloads.find((x) => x.kind === 'IDi');
  const auth = payloads.findIndex((x) => x.kind === 'AUTH');
  if (id?.kind !== 'IDi' || auth < 0) return undefined;
  const hash = a.algorithms!.prf.hash;
  const octets = signedOctets(hash, {
    realMessage: a.initRequest!,
    peerNonce: a.nonceR!,
    skP: a.keymat!.skP(true),
    idPayloadBody: idBody({ type: id.idType, data: id.data }),
  });
  payloads[auth] = { kind: 'AUTH', method: AuthMethod.SHARED_KEY_MIC, data: pskAuth(hash, PSK, octets) };
  try {
    const e = encodePayloads(payloads);
    return pack(e.firstType, e.bytes);
  } catch {
    return undefined;
  }
}

abstract class EngineSession implements FuzzSession {
  readonly p = new FuzzPair();
  corpus: Uint8Array[] = [];
  readonly counts = { established: 0, answered: 0 };
  abstract run(input: Uint8Array): Promise<void>;

  protected async after(input: Uint8Array): Promise<void> {
    await this.p.settle(0);
    const problems = this.p.take();
    if (problems.length > 0) throw new FuzzFinding(problems.join('\n'), input);
  }

  /** Bounded tables; then a new IKE SA still establishes (the engine kept working). */
  async check(): Promise<void> {
    await this.p.settle(35_000); // half-open timeouts, rekey grace periods run out
    const b = this.p.b;
    const sas = b.engine.sas().length;
    if (sas > MAX_SAS || b.engine.halfOpenCount > MAX_SAS || b.kernel.saCount > MAX_KERNEL_SAS)
      throw new FuzzFinding(
        `responder tables grew: ${sas} IKE SAs, ${b.engine.halfOpenCount} half-open, ${b.kernel.saCount} kernel SAs`,
      );
    await this.fresh();
  }

  /** A new IKE SA pair; every older one is removed locally (keeps the tables small). */
  protected async fresh(): Promise<{ a: IkeSa; b: IkeSa }> {
    for (const sa of [...this.p.a.engine.sas(), ...this.p.b.engine.sas()]) await sa.destroy();
    let pair: { a: IkeSa; b: IkeSa };
    try {
      pair = await this.p.establish();
    } catch (e) {
      throw new FuzzFinding(`after hostile input no new IKE SA: ${(e as Error).message}`);
    }
    this.counts.established++;
    return pair;
  }

  stats(): Record<string, number> {
    return { ...this.counts, ...this.p.b.counters.nonZero() };
  }

  close(): Promise<void> {
    return this.p.close();
  }
}

/** Inner chains of CREATE_CHILD_SA / INFORMATIONAL on an established IKE SA. */
class InnerSession extends EngineSession {
  #sa: { a: IkeSa; b: IkeSa } | undefined;
  constructor(readonly exchange: number) {
    super();
  }
  async open(seeds: Inner[]): Promise<this> {
    this.corpus = seeds.filter((s) => s.exchange === this.exchange).map((s) => s.plain);
    this.#sa = await this.fresh();
    return this;
  }
  async run(input: Uint8Array): Promise<void> {
    if (input.length === 0) return;
    if (this.#sa?.b.state !== 'established') this.#sa = await this.fresh();
    const { a, b } = this.#sa;
    const mid = b.runner.expectedRequestId;
    const before = this.p.b.counters.get('ike.response_sent');
    this.p.net.inject(sealRaw(a, a.keymat!.outbound, this.exchange, mid, input[0]!, input.subarray(1)), TO_B);
    await this.after(input);
    if (this.p.b.counters.get('ike.response_sent') > before) this.counts.answered++;
  }
}

/** IKE_AUTH inner chains on a fresh half-open SA each time (AUTH re-signed for most inputs). */
class AuthSession extends EngineSession {
  #injecting = false;
  #n = 0;
  /** A's own IKE_AUTH never leaves: the fuzzer sends the IKE_AUTH of this SA. */
  readonly #faults = {
    drop: (d: { srcAddr: string; data: Uint8Array }) =>
      !this.#injecting && d.srcAddr === ADDR_A && d.data[18] === ExchangeType.IKE_AUTH,
  };
  async open(seeds: Inner[]): Promise<this> {
    this.corpus = seeds.filter((s) => s.exchange === ExchangeType.IKE_AUTH).map((s) => s.plain);
    this.p.net.faults = this.#faults;
    return this;
  }
  async run(input: Uint8Array): Promise<void> {
    if (input.length === 0) return;
    const a = this.p.a.engine.initiate('site');
    await this.p.settle(0);
    const b = a.spiR && this.p.b.engine.findBySpi(a.spiR);
    if (!a.keymat || !b) throw new FuzzFinding(`IKE_SA_INIT did not complete (${a.state})`);
    // Three of four inputs carry a valid AUTH, so the Child SA part behind it is reached too.
    const plain = this.#n++ % 4 !== 3 ? (resign(a, input) ?? input) : input;
    this.#injecting = true;
    this.p.net.inject(
      sealRaw(a, a.keymat.outbound, ExchangeType.IKE_AUTH, 1, plain[0]!, plain.subarray(1)),
      TO_B,
    );
    this.#injecting = false;
    await this.after(input);
    if (b.state === 'established') this.counts.answered++;
    await a.destroy();
    await b.destroy();
  }
  override async check(): Promise<void> {
    this.p.net.faults = {};
    await super.check();
    this.p.net.faults = this.#faults;
  }
}

/**
 * RFC 7383 fragments: the input is [count, (number, total) x count, first type, plaintext]; the
 * plaintext is cut into `count` pieces, each sealed as its own SKF with the given numbers.
 */
class FragmentSession extends EngineSession {
  #sa: { a: IkeSa; b: IkeSa } | undefined;
  async open(seeds: Inner[]): Promise<this> {
    this.corpus = seeds
      .filter((s) => s.exchange !== ExchangeType.IKE_AUTH)
      .map((s) => {
        const n = 3;
        const hdr = [n, ...Array.from({ length: n }, (_, i) => [i + 1, n]).flat()];
        return Uint8Array.of(...hdr, ...s.plain);
      });
    this.#sa = await this.fresh();
    return this;
  }
  async run(input: Uint8Array): Promise<void> {
    const n = Math.min(input[0] ?? 0, 8);
    const head = 1 + 2 * n;
    if (n === 0 || input.length < head + 1) return;
    if (this.#sa?.b.state !== 'established') this.#sa = await this.fresh();
    const { a, b } = this.#sa;
    const mid = b.runner.expectedRequestId;
    const first = input[head]!;
    const plain = input.subarray(head + 1);
    const size = Math.ceil(plain.length / n);
    const exchange = (first & 1) === 0 ? ExchangeType.INFORMATIONAL : ExchangeType.CREATE_CHILD_SA;
    for (let i = 0; i < n; i++) {
      const piece = plain.subarray(i * size, (i + 1) * size);
      const skf = { number: input[1 + 2 * i]!, total: input[2 + 2 * i]! };
      const f = i === 0 ? first : 0;
      this.p.net.inject(sealRaw(a, a.keymat!.outbound, exchange, mid, f, piece, skf), TO_B);
    }
    await this.after(input);
  }
}

/** Whole datagrams to the responder: IKE_SA_INIT requests and SK messages with live SPIs. */
class OuterSession extends EngineSession {
  #sa: { a: IkeSa; b: IkeSa } | undefined;
  async open(): Promise<this> {
    this.#sa = await this.fresh();
    const from = this.p.net.log.filter((d) => d.srcAddr === ADDR_A).map((d) => d.data);
    this.corpus = from;
    return this;
  }
  async run(input: Uint8Array): Promise<void> {
    if (this.#sa?.b.state !== 'established') this.#sa = await this.fresh();
    const m = input.slice();
    // Half the inputs get the live SA's SPIs so they pass the SPI lookup (RFC 7296 §3.1).
    if (m.length >= 16 && (m[19]! & 1) === 0 && m[18] !== ExchangeType.IKE_SA_INIT) {
      m.set(this.#sa.a.spiI, 0);
      m.set(this.#sa.a.spiR!, 8);
    }
    this.p.net.inject(m, TO_B);
    await this.after(input);
    // Half-open SAs created by mutated IKE_SA_INITs are bounded by check(); drop them here too.
    for (const sa of this.p.b.engine.sas()) if (!sa.established && sa !== this.#sa.b) await sa.destroy();
  }
}

let seedCache: Promise<Inner[]> | undefined;
const seeds = (): Promise<Inner[]> => (seedCache ??= captureSeeds());

export const ENGINE_TARGETS: readonly FuzzTarget[] = [
  {
    name: 'engine-outer',
    description: 'whole datagrams to the responder (before decryption): header, SPI lookup, SK checks',
    open: () => new OuterSession().open(),
  },
  {
    name: 'engine-ike-auth',
    description: 'IKE_AUTH inner chains sealed with the half-open SA keys (AUTH re-signed)',
    open: async () => new AuthSession().open(await seeds()),
  },
  {
    name: 'engine-create-child',
    description: 'CREATE_CHILD_SA inner chains (new Child SA, Child and IKE rekey) on a live SA',
    open: async () => new InnerSession(ExchangeType.CREATE_CHILD_SA).open(await seeds()),
  },
  {
    name: 'engine-informational',
    description: 'INFORMATIONAL inner chains (Delete, liveness, notifies) on a live SA',
    open: async () => new InnerSession(ExchangeType.INFORMATIONAL).open(await seeds()),
  },
  {
    name: 'engine-fragments',
    description: 'RFC 7383 SKF fragments with hostile numbers/totals, each sealed correctly',
    open: async () => new FragmentSession().open(await seeds()),
  },
];
