// Per-packet cost of answering a fresh IKE_SA_INIT with a COOKIE (RFC 7296 §2.6), the path a flood
// takes: the admission path of src/ike/admission.ts against the steps the engine did before it
// (decode, exchange rules, connection pick, cookie, encode), on the same crafted requests. Bounded:
// `n` requests per round, three rounds each, alternating.
//   node --import tsx bench/cookie-path.ts [n=20000]
import {
  ExchangeType,
  HeaderFlag,
  NotifyType,
  checkExchangeRules,
  decodeMessage,
  encodeMessage,
} from '../src/codec/index.ts';
import { randomBytes } from 'node:crypto';
import { Counters } from '../src/base/counters.ts';
import { nullLogger } from '../src/base/logger.ts';
import { Admission } from '../src/ike/admission.ts';
import { CookieJar } from '../src/ike/cookie.ts';
import { PUZZLE_DEFAULTS, type IkeConnection } from '../src/ike/config.ts';
import { AdmissionLimits } from '../src/ike/limits.ts';
import { findNotify, findPayload, notify } from '../src/ike/wire.ts';
import { floodTemplate, freshRequest } from '../lab/robust/flood.ts';

const n = Number(process.argv[2] ?? 20_000);
const tpl = floodTemplate();
const packets = Array.from({ length: n }, () => freshRequest(tpl));
const paths = packets.map((_, i) => ({
  localAddr: '192.0.2.1',
  localPort: 500,
  remoteAddr: `198.51.100.${i % 200}`,
  remotePort: 500,
}));
const rnd = (k: number) => new Uint8Array(randomBytes(k));
const conn = {} as IkeConnection; // the pick result is only passed through on this path
let sent = 0;

function admissionRound(): number {
  const counters = new Counters();
  const limits = new AdmissionLimits(
    { halfOpenLimit: 1000, ikeSasPerPeer: 64 },
    () => performance.now(),
    counters,
    nullLogger,
  );
  const a = new Admission(
    {
      halfOpenLimit: 1000,
      halfOpenPerSource: 5,
      halfOpenReserved: 64,
      cookieThreshold: 0,
      cookieSecretLifetimeMs: 120_000,
      puzzles: PUZZLE_DEFAULTS,
    },
    {
      now: () => performance.now(),
      randomBytes: rnd,
      counters,
      logger: nullLogger,
      limits,
      send: () => sent++,
    },
  );
  const t0 = performance.now();
  for (let i = 0; i < n; i++) a.request(packets[i]!, paths[i]!, () => conn);
  const us = ((performance.now() - t0) * 1000) / n;
  a.destroy();
  return us;
}

/** The engine's steps before src/ike/admission.ts (commit 8eb8d46~1), as they were. */
function oldRound(): number {
  const jar = new CookieJar(() => performance.now(), rnd, 120_000);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const msg = decodeMessage(packets[i]!);
    checkExchangeRules(msg);
    const nonce = findPayload(msg.payloads, 'NONCE')!;
    if (findNotify(msg.payloads, NotifyType.COOKIE)) continue;
    const data = jar.make(nonce.data, paths[i]!.remoteAddr, msg.header.spiI);
    const header = {
      spiI: msg.header.spiI,
      spiR: new Uint8Array(8),
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: HeaderFlag.RESPONSE,
      messageId: 0,
    };
    encodeMessage({ header, payloads: [notify(NotifyType.COOKIE, data)] });
    sent++;
  }
  const us = ((performance.now() - t0) * 1000) / n;
  jar.destroy();
  return us;
}

const adm: number[] = [];
const old: number[] = [];
for (let r = 0; r < 3; r++) {
  old.push(oldRound());
  adm.push(admissionRound());
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[1]!.toFixed(1);
console.log(
  `cookie path, µs per request (median of 3 rounds of ${n}): before admission ${med(old)}, admission ${med(adm)}`,
);
console.log(
  `rounds: before ${old.map((x) => x.toFixed(1)).join(' ')}; admission ${adm.map((x) => x.toFixed(1)).join(' ')}; answers ${sent}`,
);
