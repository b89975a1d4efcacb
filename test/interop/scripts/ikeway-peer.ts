// A small ikeway peer for lab tests (run with `node --import tsx`, usually inside a namespace): builds
// an Engine from a JSON description (argv[2], or stdin when argv[2] is "-"), listens on real UDP 500/4500,
// optionally initiates, and prints one JSON line per engine event and per kernel call (key bytes
// replaced by their length). SIGTERM closes the engine (removing what it installed) and exits.
// When the daemon (`ikeway daemon`) lands, the tests can move to it.
import { readFileSync } from 'node:fs';
import { Engine } from '../../../src/ike/engine.ts';
import { RealClock } from '../../../src/base/clock.ts';
import type { EngineOptions } from '../../../src/ike/config.ts';
import { formatProposal } from '../../../src/ike/proposal-string.ts';
import { formatTs } from '../../../src/ike/traffic-selectors.ts';
import { TimerQueue } from '../../../src/base/timers.ts';
import {
  FakeKernel,
  installIkeBypass,
  openXfrmKernel,
  removeIkeBypass,
  type Kernel,
  type KernelError,
  type KernelOp,
} from '../../../src/kernel/index.ts';
import { UdpTransport } from '../../../src/net/udp.ts';
import { connectionFromSpec, type ConnectionSpec } from '../../../lab/load/spec.ts';
import { KeyExchangePool } from '../../../src/crypto/index.ts';
import { TransformType } from '../../../src/codec/index.ts';

export interface PeerDescription {
  /**
   * 'memory': FakeKernel. 'xfrm': the host kernel over netlink. 'xfrm-policies': SAs in memory,
   * policies in the host kernel (a host without ESP still shows the engine's policies in `ip xfrm`).
   */
  readonly kernel: 'memory' | 'xfrm' | 'xfrm-policies';
  /** Addresses to bind UDP 500/4500 on. */
  readonly addresses: readonly string[];
  readonly connections: readonly ConnectionSpec[];
  /** Connection names to initiate once listening. */
  readonly initiate?: readonly string[];
  /** Install the IKE bypass policies (kernel 'xfrm'). */
  readonly bypass?: boolean;
  readonly options?: EngineOptions;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const printable = (b: Uint8Array) =>
  /^[\x21-\x7e]+$/.test(Buffer.from(b).toString('latin1')) ? Buffer.from(b).toString('latin1') : hex(b);
const spi32 = (n: number) => n.toString(16).padStart(8, '0');
const out = (o: Record<string, unknown>) =>
  process.stdout.write(JSON.stringify(o, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) + '\n');

function redact(x: unknown): unknown {
  if (x instanceof Uint8Array) return { keyLength: x.length };
  if (Array.isArray(x)) return x.map(redact);
  if (x && typeof x === 'object')
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, redact(v)]));
  return x;
}

const LOGGED = new Set([
  'allocSpi',
  'addSa',
  'updateSa',
  'deleteSa',
  'addPolicy',
  'updatePolicy',
  'deletePolicy',
]);

/** Every mutating kernel call becomes a `kernel` line: method, argument without keys, result or error. */
function recording(k: Kernel): Kernel {
  return new Proxy(k, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      // A batch is logged as its operations, each with its own outcome (what the kernel was asked).
      if (prop === 'batch')
        return async (ops: readonly KernelOp[]) => {
          const res = (await fn(ops)) as (KernelError | null)[];
          ops.forEach((op, i) => {
            const arg = 'sa' in op ? op.sa : 'policy' in op ? op.policy : op.id;
            const e = res[i];
            if (!e) out({ event: 'kernel', method: op.op, arg: redact(arg), ok: true });
            else {
              const code = (e as { code?: string }).code;
              out({ event: 'kernel', method: op.op, arg: redact(arg), ok: false, code, error: String(e) });
            }
          });
          return res;
        };
      if (typeof prop !== 'string' || !LOGGED.has(prop)) return fn;
      return async (arg: unknown) => {
        try {
          const result = await fn(arg);
          out({ event: 'kernel', method: prop, arg: redact(arg), ok: true, result });
          return result;
        } catch (e) {
          const code = (e as { code?: string }).code;
          out({ event: 'kernel', method: prop, arg: redact(arg), ok: false, code, error: String(e) });
          throw e;
        }
      };
    },
  });
}

const POLICY_METHODS = new Set(['addPolicy', 'updatePolicy', 'deletePolicy', 'getPolicy', 'dumpPolicies']);

/** SAs (and SPI allocation) in `sas`, policies in `policies`. */
function split(sas: Kernel, policies: Kernel): Kernel {
  return new Proxy(sas, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => (await sas.close(), await policies.close());
      // A batch is split the same way: policy operations to `policies`, the rest to `sas`, in order.
      if (prop === 'batch')
        return async (ops: readonly KernelOp[]) => {
          const isPol = (op: KernelOp) => op.op.endsWith('Policy');
          const [rp, rs] = await Promise.all([
            policies.batch(ops.filter(isPol)),
            sas.batch(ops.filter((op) => !isPol(op))),
          ]);
          return ops.map((op) => (isPol(op) ? rp.shift()! : rs.shift()!));
        };
      const from = typeof prop === 'string' && POLICY_METHODS.has(prop) ? policies : target;
      const v = Reflect.get(from, prop, from === target ? receiver : from) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(from) : v;
    },
  });
}

async function openKernel(kind: PeerDescription['kernel']): Promise<Kernel> {
  if (kind === 'memory') return new FakeKernel();
  if (kind === 'xfrm') return openXfrmKernel();
  return split(new FakeKernel(), await openXfrmKernel());
}

function readDescription(): PeerDescription {
  const arg = process.argv[2];
  if (arg === undefined) throw new Error('usage: ikeway-peer.ts <json | file | ->');
  const text =
    arg === '-' ? readFileSync(0, 'utf8') : arg.trim().startsWith('{') ? arg : readFileSync(arg, 'utf8');
  return JSON.parse(text) as PeerDescription;
}

async function main(): Promise<void> {
  const d = readDescription();
  const connections = d.connections.map((c, i) => connectionFromSpec(c, `connections[${i}]`));
  const base = await openKernel(d.kernel);
  if (d.bypass) {
    const pols = await installIkeBypass(base, { addresses: d.addresses });
    out({ event: 'bypass', policies: pols.length });
  }
  const kernel = recording(base);
  const transport = await UdpTransport.open({ addresses: d.addresses });
  const timers = new TimerQueue(new RealClock());
  const groups = [...new Set(connections.flatMap((c) => c.ikeProposals.flatMap((p) => p.transforms)))]
    .filter((t) => t.type === TransformType.KE)
    .map((t) => t.id);
  const engine = new Engine({
    transport,
    kernel,
    timers,
    connections,
    pool: new KeyExchangePool({ groups, size: 2 }),
    ...(d.options ? { options: d.options } : {}),
  });
  engine.onEvent((e) => {
    const sa = e.sa;
    const ike = { name: sa.config.name, initiator: sa.initiator, spiI: hex(sa.spiI), spiR: hex(sa.spiR) };
    switch (e.type) {
      case 'ike-established':
        return out({
          event: e.type,
          ...ike,
          proposal: sa.proposal ? formatProposal(sa.proposal) : undefined,
          // ID data as text (FQDN, RFC822) or hex (addresses, DNs): enough to tell peers apart.
          peerId: sa.peerId ? printable(sa.peerId.data) : undefined,
        });
      case 'child-installed': {
        const c = e.child;
        return out({
          event: e.type,
          ...ike,
          spiIn: spi32(c.spiIn),
          spiOut: spi32(c.spiOut),
          reqid: c.reqid,
          mode: c.mode,
          proposal: c.proposal ? formatProposal(c.proposal) : undefined,
          localTs: c.localTs.map(formatTs),
          remoteTs: c.remoteTs.map(formatTs),
        });
      }
      case 'child-failed':
        return out({ event: e.type, ...ike, reason: e.reason, notify: e.notify });
      case 'ike-failed':
        return out({ event: e.type, ...ike, reason: e.reason });
      default:
        return out({ event: e.type, ...ike });
    }
  });
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await engine.close();
    await transport.close();
    timers.clear();
    if (d.bypass) await removeIkeBypass(base, { addresses: d.addresses });
    await base.close();
    out({ event: 'closed' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  out({ event: 'ready', addresses: d.addresses });
  for (const name of d.initiate ?? []) engine.initiate(name);
}

main().catch((e: unknown) => {
  out({ event: 'fatal', error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
