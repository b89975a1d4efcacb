// A flooder that answers cookies (test-only, for test/robust/cookie-flood.test.ts), run inside the
// flooder's namespace: `cookie-flood.ts '<options as JSON>'`. Sends fresh IKE_SA_INIT requests from
// many source addresses at a fixed rate and, like an attacker who owns those addresses, answers every
// COOKIE at once (RFC 7296 §2.6: the same request with the COOKIE first). It never solves a PUZZLE
// and never continues an exchange. Bounded in rate, count and time. Prints progress on stderr and one
// `IKW-CFLOOD <stats as JSON>` line on stdout.
import { createSocket, type Socket } from 'node:dgram';
import { ExchangeType, NotifyType, decodeMessage, encodeMessage } from '../../../src/codec/index.ts';
import { floodTemplate, freshRequest } from '../../../lab/robust/flood.ts';
import { notify } from '../../../src/ike/wire.ts';

interface Options {
  readonly target: string;
  readonly sources: readonly string[];
  /** Fresh requests per second (cookie answers come on top). */
  readonly rate: number;
  readonly durationMs: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
if (!(
  o.rate > 0 &&
  o.rate <= 20_000 &&
  o.durationMs > 0 &&
  o.durationMs <= 60_000 &&
  o.sources.length <= 1024
))
  throw new Error('cookie-flood: rate 1..20000/s, duration up to 60 s, at most 1024 sources');

const tpl = floodTemplate();
/** Requests awaiting their COOKIE, by SPIi (bounded: oldest forgotten first). */
const pending = new Map<string, Uint8Array>();
const MAX_PENDING = 100_000;
const stats = {
  sent: 0,
  cookieAnswers: 0,
  replies: { cookie: 0, puzzle: 0, saInit: 0, other: 0 },
  sendErrors: 0,
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const onErr = (e: Error | null) => {
  if (e) stats.sendErrors++;
};

function onReply(sock: Socket, b: Buffer): void {
  let m;
  try {
    m = decodeMessage(b);
  } catch {
    stats.replies.other++;
    return;
  }
  if (m.header.exchangeType !== ExchangeType.IKE_SA_INIT) return void stats.replies.other++;
  const has = (t: number) => m.payloads.some((p) => p.kind === 'NOTIFY' && p.notifyType === t);
  if (has(NotifyType.PUZZLE)) stats.replies.puzzle++;
  const cookie = m.payloads.find((p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.COOKIE);
  if (cookie?.kind === 'NOTIFY') {
    stats.replies.cookie++;
    const key = hex(m.header.spiI);
    const req = pending.get(key);
    if (!req) return;
    pending.delete(key); // one answer per request: the flooder does not loop on a second COOKIE
    const orig = decodeMessage(req);
    const again = encodeMessage({
      header: orig.header,
      payloads: [notify(NotifyType.COOKIE, cookie.data), ...orig.payloads],
    });
    sock.send(again, 500, o.target, onErr);
    stats.cookieAnswers++;
    return;
  }
  if (m.payloads.some((p) => p.kind === 'SA')) stats.replies.saInit++;
  else stats.replies.other++;
}

const sockets: Socket[] = [];
for (const a of o.sources) {
  const s = createSocket('udp4');
  s.on('message', (b) => onReply(s, b));
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(0, a, () => res());
  });
  sockets.push(s);
}
process.stderr.write(`cookie-flood ${o.target} from ${sockets.length} sources at ${o.rate}/s\n`);
const started = Date.now();
const max = Math.ceil((o.rate * o.durationMs) / 1000);
let lastProgress = started;
while (stats.sent < max && Date.now() - started < o.durationMs + 1000) {
  const due = Math.min(max, Math.floor(((Date.now() - started) * o.rate) / 1000));
  for (; stats.sent < due; stats.sent++) {
    const req = freshRequest(tpl);
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value as string);
    pending.set(hex(req.subarray(0, 8)), req);
    sockets[stats.sent % sockets.length]!.send(req, 500, o.target, onErr);
  }
  if (Date.now() - lastProgress >= 1000) {
    lastProgress = Date.now();
    process.stderr.write(`IKW-CFLOOD-PROGRESS ${JSON.stringify(stats)}\n`);
  }
  await new Promise((r) => setTimeout(r, 10));
}
const elapsedMs = Date.now() - started;
await new Promise((r) => setTimeout(r, 500));
for (const s of sockets) s.close();
const total = stats.sent + stats.cookieAnswers;
process.stdout.write(
  `IKW-CFLOOD ${JSON.stringify({
    ...stats,
    sources: sockets.length,
    elapsedMs,
    rate: Math.round((total * 1000) / elapsedMs),
    cookieAnswerRate: Math.round((stats.cookieAnswers * 1000) / elapsedMs),
  })}\n`,
);
