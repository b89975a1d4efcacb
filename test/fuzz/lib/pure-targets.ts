// Fuzz targets for the pure parsers: IKE messages and each payload codec alone (src/codec), the
// XFRM codec and the netlink channel's reply path (src/kernel/xfrm), YAML configs (src/config).
// Invariant everywhere: the input parses or the module's typed error comes out, nothing else.
import {
  CodecError,
  checkExchangeRules,
  decodeMessage,
  decodePayloads,
  encodePayloads,
  type Payload,
} from '../../../src/codec/index.ts';
import { dissect } from '../../../src/codec/dissect.ts';
import { ConfigErrors, parseConfig } from '../../../src/config/index.ts';
import { GOLDEN_CHAINS, GOLDEN_MESSAGES } from '../../vectors/codec/golden.ts';
import { strongswanMessages } from '../../codec/strongswan-vectors.ts';
import { FuzzFinding, type FuzzSession, type FuzzTarget } from './runner.ts';
import { NETLINK_TARGETS } from './netlink-targets.ts';

const untyped = (e: unknown, input: Uint8Array, where: string): FuzzFinding =>
  new FuzzFinding(`${where}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, input);

function pureSession(corpus: Uint8Array[], run: (input: Uint8Array) => void): FuzzSession {
  let ok = 0;
  return {
    corpus,
    run(input) {
      run(input);
      ok++;
    },
    stats: () => ({ inputs: ok }),
    close: () => undefined,
  };
}

/** decodeMessage, the per-exchange payload rules and the dissector (`ikeway decode` reads pcaps). */
const message: FuzzTarget = {
  name: 'codec-message',
  description: 'whole IKE messages: header, payload chain, exchange rules, dissector',
  open: async () =>
    pureSession([...Object.values(GOLDEN_MESSAGES), ...strongswanMessages().map((m) => m.bytes)], (input) => {
      let msg;
      try {
        msg = decodeMessage(input, { rejectUnknownCritical: false });
      } catch (e) {
        if (e instanceof CodecError) return;
        throw untyped(e, input, 'decodeMessage');
      }
      try {
        dissect(msg);
      } catch (e) {
        throw untyped(e, input, 'dissect');
      }
      try {
        checkExchangeRules(msg);
      } catch (e) {
        if (!(e instanceof CodecError)) throw untyped(e, input, 'checkExchangeRules');
      }
    }),
};

/** One payload of every kind we have a golden sample of, as [type, ...chain of that one payload]. */
function payloadSeeds(): Uint8Array[] {
  const all: Payload[] = [];
  for (const c of GOLDEN_CHAINS) all.push(...decodePayloads(c.bytes, c.first));
  for (const m of strongswanMessages()) all.push(...decodeMessage(m.bytes).payloads);
  const seen = new Map<string, Uint8Array>();
  for (const p of all) {
    const key = `${p.kind}/${(p as { notifyType?: number }).notifyType ?? ''}`;
    if (seen.has(key)) continue;
    const e = encodePayloads([p]);
    seen.set(key, Uint8Array.of(e.firstType, ...e.bytes));
  }
  return [...seen.values()];
}

/** Each payload body codec alone: decode, then re-encode must give the same bytes (RFC 7296 §3.2). */
const payloads: FuzzTarget = {
  name: 'codec-payloads',
  description: 'each payload codec alone (SA, KE, ID, CERT, AUTH, Nonce, Notify, Delete, TS, CP, SK...)',
  open: async () =>
    pureSession(payloadSeeds(), (input) => {
      if (input.length === 0) return;
      const body = input.subarray(1);
      let decoded: Payload[];
      try {
        decoded = decodePayloads(body, input[0]!, 0, { rejectUnknownCritical: false });
      } catch (e) {
        if (e instanceof CodecError) return;
        throw untyped(e, input, 'decodePayloads');
      }
      let again: Uint8Array;
      try {
        again = encodePayloads(decoded).bytes;
      } catch (e) {
        throw untyped(e, input, 're-encode of a decoded chain');
      }
      if (Buffer.compare(again, body) !== 0)
        throw new FuzzFinding('decoded chain re-encodes to different bytes', input);
    }),
};

const YAML_SEED = `local:
  address: 192.0.2.1
connections:
  hq:
    remote: 198.51.100.1
    auth:
      psk: { env: PSK }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.2.0.0/24]
    ike-proposals: [aes256gcm16-prfsha256-x25519]
    esp-proposals: [aes256gcm16]
    liveness: { interval: 30s, timeout: 2m, action: restart }
    start: on-traffic
  branch:
    remote: any
    mode: transport
    auth:
      psk: { env: PSK }
limits:
  half-open: 256
  ike-sas-per-peer: 4
cookie-threshold: 64
retransmit: { timeout: 4s, tries: 5 }
`;

const ENV = { PSK: 'correct-horse-battery-staple-0123456789' };

/** parseConfig on mutated YAML (as UTF-8 bytes): a Config or ConfigErrors, nothing else. */
const config: FuzzTarget = {
  name: 'config-yaml',
  description: 'parseConfig on mutated YAML documents',
  open: async () =>
    pureSession([new TextEncoder().encode(YAML_SEED)], (input) => {
      const text = new TextDecoder().decode(input);
      try {
        parseConfig(text, 'fuzz.yaml', { env: ENV, baseDir: '/nonexistent' });
      } catch (e) {
        if (!(e instanceof ConfigErrors)) throw untyped(e, input, 'parseConfig');
        if (e.errors.length === 0) throw new FuzzFinding('ConfigErrors without an error', input);
        if (e.message.includes(ENV.PSK)) throw new FuzzFinding('the PSK appears in a config error', input);
      }
    }),
};

export const PURE_TARGETS: readonly FuzzTarget[] = [message, payloads, ...NETLINK_TARGETS, config];
