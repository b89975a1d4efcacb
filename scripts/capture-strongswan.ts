// Captures real strongSwan 5.9.8 IKEv2 exchanges as test vectors (test/vectors/strongswan/*.json + .pcap).
//
// Two namespaces joined by a veth pair (198.51.100.1 initiator, .2 responder), one charon in each
// (kernel-libipsec, so Child SAs complete without kernel ESP), tcpdump on the initiator's veth, and
// charon's DBG4 key dumps ("shared Diffie Hellman secret", "SKEYSEED", "Sk_d secret", child
// "encryption initiator key" ...) parsed from its log. Rerunnable:
//   node --import tsx scripts/capture-strongswan.ts [scenario-name ...] [--out DIR]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, linkVeth, sh } from '../lab/netns/netns.ts';
import { Charon, type SwanConnection } from '../lab/peers/strongswan.ts';

const PSK = 'ikeway-strongswan-test-psk-0001';
const I_ADDR = '198.51.100.1';
const R_ADDR = '198.51.100.2';
const I_NET = '10.1.0.1/32';
const R_NET = '10.2.0.1/32';
const EXCHANGES: Record<number, string> = {
  34: 'IKE_SA_INIT',
  35: 'IKE_AUTH',
  36: 'CREATE_CHILD_SA',
  37: 'INFORMATIONAL',
};

interface Scenario {
  name: string;
  description: string;
  proposal: string;
  esp: string;
  auth: 'psk' | 'ecdsa' | 'rsa-pss';
  ids: [string, string];
  rekey?: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'a-psk-aesgcm256-x25519',
    description:
      'PSK; AES-GCM-256 / PRF-HMAC-SHA256 / X25519; ESP AES-GCM-256 with X25519 PFS; then one Child SA rekey and one IKE SA rekey',
    proposal: 'aes256gcm16-prfsha256-x25519',
    esp: 'aes256gcm16-x25519',
    auth: 'psk',
    ids: [I_ADDR, R_ADDR],
    rekey: true,
  },
  {
    name: 'b-psk-aescbc256-sha256-modp2048',
    description:
      'PSK; AES-CBC-256 / HMAC-SHA256-128 / PRF-HMAC-SHA256 / MODP-2048; ESP AES-CBC-256 + HMAC-SHA256-128',
    proposal: 'aes256-sha256-modp2048',
    esp: 'aes256-sha256',
    auth: 'psk',
    ids: ['initiator.example.net', 'responder.example.net'],
  },
  {
    name: 'c-psk-aesgcm128-prfsha384-ecp256',
    description: 'PSK; AES-GCM-128 / PRF-HMAC-SHA384 / ECP-256; ESP AES-GCM-128',
    proposal: 'aes128gcm16-prfsha384-ecp256',
    esp: 'aes128gcm16',
    auth: 'psk',
    ids: [I_ADDR, R_ADDR],
  },
  {
    name: 'd-psk-chacha20poly1305-prfsha512-x25519',
    description: 'PSK; ChaCha20-Poly1305 / PRF-HMAC-SHA512 / X25519; ESP ChaCha20-Poly1305',
    proposal: 'chacha20poly1305-prfsha512-x25519',
    esp: 'chacha20poly1305',
    auth: 'psk',
    ids: ['initiator.example.net', 'responder.example.net'],
  },
  {
    name: 'e-ecdsa-p256-rfc7427',
    description:
      'ECDSA P-256 certificates (openssl-made CA), RFC 7427 digital-signature AUTH; AES-GCM-256 / PRF-HMAC-SHA256 / ECP-256',
    proposal: 'aes256gcm16-prfsha256-ecp256',
    esp: 'aes256gcm16',
    auth: 'ecdsa',
    ids: ['initiator.example.net', 'responder.example.net'],
  },
  {
    name: 'f-rsa-pss-rfc7427',
    description:
      'RSA-2048 certificates, RSASSA-PSS SHA-256 signatures via RFC 7427; AES-GCM-256 / PRF-HMAC-SHA256 / X25519',
    proposal: 'aes256gcm16-prfsha256-x25519',
    esp: 'aes256gcm16',
    auth: 'rsa-pss',
    ids: ['initiator.example.net', 'responder.example.net'],
  },
];

// ---- charon log parsing ------------------------------------------------------------------------

export interface Dump {
  thread: string;
  group: string;
  label: string;
  hex: string;
}

/** Extracts every `label => N bytes @ 0x...` hex dump from a charon log, in order, per thread. */
export function parseDumps(log: string): Dump[] {
  const out: Dump[] = [];
  const pending = new Map<string, { dump: Dump; left: number }>();
  for (const line of log.split('\n')) {
    const h = /^(\d+)\[(\w+)\] (.*?) => (\d+) bytes @ /.exec(line);
    if (h) {
      const dump: Dump = { thread: h[1]!, group: h[2]!, label: h[3]!.trim(), hex: '' };
      out.push(dump);
      const n = Number(h[4]);
      if (n > 0) pending.set(dump.thread, { dump, left: n });
      continue;
    }
    const d = /^(\d+)\[\w+\]\s+\d+: (.*)$/.exec(line);
    const p = d && pending.get(d[1]!);
    if (!d || !p) continue;
    const take = Math.min(16, p.left);
    const bytes = d[2]!
      .slice(0, take * 3)
      .trim()
      .split(' ');
    p.dump.hex += bytes.join('').toLowerCase();
    p.left -= take;
    if (p.left === 0) pending.delete(d[1]!);
  }
  return out;
}

const IKE_LABELS: Record<string, string> = {
  'shared Diffie Hellman secret': 'gir',
  SKEYSEED: 'SKEYSEED',
  'Sk_d secret': 'SK_d',
  'Sk_ai secret': 'SK_ai',
  'Sk_ar secret': 'SK_ar',
  'Sk_ei secret': 'SK_ei',
  'Sk_er secret': 'SK_er',
  'Sk_pi secret': 'SK_pi',
  'Sk_pr secret': 'SK_pr',
};
const CHILD_LABELS: Record<string, string> = {
  'DH secret': 'gir',
  seed: 'seed',
  'encryption initiator key': 'encrI',
  'encryption responder key': 'encrR',
  'integrity initiator key': 'integI',
  'integrity responder key': 'integR',
};

/** Groups IKE key dumps into one record per derivation (each starts with the DH secret). */
function ikeKeySets(dumps: readonly Dump[]): Record<string, string>[] {
  const sets: Record<string, string>[] = [];
  for (const d of dumps) {
    const k = IKE_LABELS[d.label];
    if (!k || d.group !== 'IKE') continue;
    if (k === 'gir') sets.push({});
    const cur = sets.at(-1);
    if (cur) cur[k] = d.hex;
  }
  return sets;
}

/** Groups Child SA key dumps; a set starts at `seed`, or at `DH secret` (PFS) just before it. */
function childKeySets(dumps: readonly Dump[]): Record<string, string>[] {
  const sets: Record<string, string>[] = [];
  let dh: string | undefined;
  for (const d of dumps) {
    const k = CHILD_LABELS[d.label];
    if (!k || d.group !== 'CHD') continue;
    if (k === 'gir') dh = d.hex;
    else if (k === 'seed') {
      sets.push(dh ? { gir: dh, seed: d.hex } : { seed: d.hex });
      dh = undefined;
    } else if (sets.at(-1)) sets.at(-1)![k] = d.hex;
  }
  return sets;
}

/** IV||ciphertext -> plaintext of every SK payload charon encrypted or decrypted (ENC dumps). */
function skPlaintexts(dumps: readonly Dump[]): Map<string, string> {
  const byThread = new Map<string, { iv: string; plain?: string; ct?: string }>();
  const out = new Map<string, string>();
  for (const d of dumps) {
    if (d.group !== 'ENC') continue;
    if (d.label === 'IV') byThread.set(d.thread, { iv: d.hex });
    const b = byThread.get(d.thread);
    if (!b) continue;
    if (d.label === 'plain') b.plain = d.hex;
    if (d.label === 'encrypted') b.ct = d.hex;
    if (b.plain !== undefined && b.ct) {
      out.set(b.iv + b.ct, b.plain);
      byThread.delete(d.thread);
    }
  }
  return out;
}

/** PSK AUTH computations charon logged, in order (octets and the resulting AUTH value). */
function authDumps(dumps: readonly Dump[]): { octets: string; auth: string }[] {
  const out: { octets: string; auth: string }[] = [];
  let octets = '';
  for (const d of dumps) {
    if (d.label.startsWith('octets = ')) octets = d.hex;
    if (d.label.startsWith('AUTH = ')) out.push({ octets, auth: d.hex });
  }
  return out;
}

// ---- pcap and IKE parsing (independent of src/codec on purpose) --------------------------------

interface Packet {
  src: string;
  sport: number;
  dport: number;
  data: Buffer;
}

/** Reads a classic pcap (Ethernet, IPv4, UDP) into UDP datagrams. */
export function readPcap(buf: Buffer): Packet[] {
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian pcap');
  if (buf.readUInt32LE(20) !== 1) throw new Error('pcap link type is not Ethernet');
  const out: Packet[] = [];
  for (let off = 24; off + 16 <= buf.length;) {
    const len = buf.readUInt32LE(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + len);
    off += 16 + len;
    if (frame.length < 42 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    if (ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    const src = Array.from(ip.subarray(12, 16)).join('.');
    out.push({
      src,
      sport: udp.readUInt16BE(0),
      dport: udp.readUInt16BE(2),
      data: udp.subarray(8, udp.readUInt16BE(4)),
    });
  }
  return out;
}

interface Payload {
  type: number;
  body: Buffer;
}

/** Walks a payload chain (RFC 7296 §3.2); SK (46) or SKF (53) ends it, `inner` is its Next Payload. */
function payloads(first: number, buf: Buffer): { list: Payload[]; inner?: number } {
  const list: Payload[] = [];
  let type = first;
  for (let off = 0; type !== 0 && off + 4 <= buf.length;) {
    const len = buf.readUInt16BE(off + 2);
    list.push({ type, body: buf.subarray(off + 4, off + len) });
    if (type === 46 || type === 53) return { list, inner: buf[off]! };
    type = buf[off]!;
    off += len;
  }
  return { list };
}

function find(ps: readonly Payload[], type: number): Buffer | undefined {
  return ps.find((p) => p.type === type)?.body;
}
const hex = (b: Buffer | undefined): string | undefined => b?.toString('hex');

// ---- one capture run ---------------------------------------------------------------------------

function connection(s: Scenario, side: 'i' | 'r'): SwanConnection {
  const i = side === 'i';
  // RSA-PSS via charon.rsa_pss (auth = rsa/pss-... would also demand PSS-signed certificates).
  const auth = s.auth === 'psk' ? 'psk' : 'pubkey';
  return {
    name: 'lab',
    localAddrs: [i ? I_ADDR : R_ADDR],
    remoteAddrs: [i ? R_ADDR : I_ADDR],
    localId: i ? s.ids[0] : s.ids[1],
    remoteId: i ? s.ids[1] : s.ids[0],
    localAuth: auth,
    remoteAuth: auth,
    ...(s.auth !== 'psk' ? { localCerts: ['me.pem'], remoteCaCerts: ['ca.pem'] } : {}),
    proposals: [s.proposal],
    mobike: false,
    children: [
      {
        name: 'net',
        localTs: [i ? I_NET : R_NET],
        remoteTs: [i ? R_NET : I_NET],
        espProposals: [s.esp],
      },
    ],
  };
}

function makeCerts(s: Scenario, dir: string): Record<string, string> {
  const ec = s.auth === 'ecdsa';
  const keyArgs = ec
    ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
    : ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
  const files: Record<string, string> = {};
  sh('openssl', [...keyArgs, '-out', join(dir, 'ca.key')]);
  sh('openssl', ['req', '-x509', '-new', '-key', join(dir, 'ca.key'), '-days', '3650', '-subj', '/C=XX/O=ikeway test/CN=ikeway test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
    '-out', join(dir, 'ca.pem')]); // prettier-ignore
  files['ca.pem'] = readFileSync(join(dir, 'ca.pem'), 'utf8');
  for (const [who, id] of [
    ['initiator', s.ids[0]],
    ['responder', s.ids[1]],
  ] as const) {
    const key = join(dir, `${who}.key`);
    sh('openssl', [...keyArgs, '-out', key]);
    sh('openssl', [
      'req',
      '-new',
      '-key',
      key,
      '-subj',
      `/C=XX/O=ikeway test/CN=${id}`,
      '-out',
      join(dir, `${who}.csr`),
    ]);
    writeFileSync(join(dir, `${who}.ext`), `subjectAltName=DNS:${id}\nkeyUsage=critical,digitalSignature\n`);
    sh('openssl', ['x509', '-req', '-in', join(dir, `${who}.csr`), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
      '-CAcreateserial', '-days', '3650', '-extfile', join(dir, `${who}.ext`), '-out', join(dir, `${who}.pem`)]); // prettier-ignore
    files[`${who}.pem`] = readFileSync(join(dir, `${who}.pem`), 'utf8');
    files[`${who}.key`] = readFileSync(key, 'utf8');
  }
  return files;
}

async function startTcpdump(ns: Netns, dev: string, file: string) {
  const p = ns.spawn('tcpdump', ['-i', dev, '-U', '--immediate-mode', '-n', '-s', '0', '-w', file, 'udp']);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump not listening: ${err}`)), 5_000);
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    p.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
  });
  return async () => {
    const exit = new Promise((r) => p.once('exit', r));
    p.kill('SIGINT');
    await Promise.race([exit, new Promise((r) => setTimeout(r, 3_000))]);
    if (p.exitCode === null) p.kill('SIGKILL');
  };
}

async function capture(s: Scenario, outDir: string): Promise<void> {
  const a = Netns.create('swcap');
  const b = Netns.create('swcap');
  const tmp = mkdtempSync(join(tmpdir(), 'ikw-swcap-'));
  const charons: Charon[] = [];
  let stopDump: (() => Promise<void>) | undefined;
  try {
    const [va] = linkVeth(a, `${I_ADDR}/24`, b, `${R_ADDR}/24`);
    for (const [ns, net, gw] of [
      [a, I_NET, R_ADDR],
      [b, R_NET, I_ADDR],
    ] as const) {
      ns.ip('addr', 'add', net, 'dev', 'lo');
      ns.ip('route', 'add', 'default', 'via', gw);
    }
    const certs = s.auth === 'psk' ? {} : makeCerts(s, tmp);
    const keyDir = s.auth === 'ecdsa' ? 'ecdsa' : 'rsa';
    const logLevels = { default: 1, ike: 4, chd: 4, enc: 4, cfg: 1, net: 1, knl: 1 };
    for (const [ns, side, who] of [
      [a, 'i', 'initiator'],
      [b, 'r', 'responder'],
    ] as const) {
      const files: Record<string, string> = s.auth === 'psk' ? {} : {
        'x509ca/ca.pem': certs['ca.pem']!, 'x509/me.pem': certs[`${who}.pem`]!, [`${keyDir}/me.key`]: certs[`${who}.key`]!,
      }; // prettier-ignore
      const secrets = s.auth === 'psk' ? { psk: [{ secret: PSK }] } : {};
      charons.push(
        await Charon.start({
          ns,
          tag: `cap-${side}`,
          connections: [connection(s, side)],
          secrets,
          files,
          logLevels,
          extraCharonConf: s.auth === 'rsa-pss' ? '  rsa_pss = yes' : '',
        }),
      );
    }
    const [ci, cr] = charons as [Charon, Charon];
    await ci.loadAll();
    await cr.loadAll();
    const pcapPath = join(outDir, `${s.name}.pcap`);
    stopDump = await startTcpdump(a, va, pcapPath);
    await ci.initiate('net', 'lab');
    const sasBefore = await ci.listSas();
    let sasAfter = sasBefore;
    if (s.rekey) {
      // swanctl --rekey only queues the rekey; wait for the new SA and the DELETE of the old one.
      const oldSpi = sasBefore[0]?.children[0]?.fields['spi-in'];
      await ci.rekey({ child: 'net' });
      await settle(ci, (sas) => sas[0]?.children.every((c) => c.fields['spi-in'] !== oldSpi) ?? false);
      const oldIke = sasBefore[0]?.fields['initiator-spi'];
      await ci.rekey({ ike: 'lab' });
      await settle(ci, (sas) => sas.length === 1 && sas[0]!.fields['initiator-spi'] !== oldIke);
      sasAfter = await ci.listSas();
    }
    await stopDump();
    stopDump = undefined;
    const logI = ci.logText();
    const logR = cr.logText();
    const vec = buildVector(s, readPcap(readFileSync(pcapPath)), logI, logR, sasBefore, sasAfter);
    if (s.auth !== 'psk') (vec as Record<string, unknown>).certificates = certs;
    writeFileSync(join(outDir, `${s.name}.json`), JSON.stringify(vec, null, 2) + '\n');
    console.log(`${s.name}: ${(vec.messages as unknown[]).length} messages`);
  } finally {
    await stopDump?.();
    for (const c of charons) await c.stop({ keep: process.env.SWCAP_KEEP === '1' });
    a.delete();
    b.delete();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Polls listSas (bounded, 5 s) until `done` holds and every SA is ESTABLISHED with INSTALLED children. */
async function settle(c: Charon, done: (sas: SaInfoList) => boolean): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const sas = await c.listSas();
    const stable = sas.every(
      (sa) => sa.fields.state === 'ESTABLISHED' && sa.children.every((ch) => ch.fields.state === 'INSTALLED'),
    );
    if (stable && done(sas)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('rekey did not settle within 5 s');
}

// ---- vector assembly ---------------------------------------------------------------------------

interface Message {
  dir: 'i->r' | 'r->i';
  exchange: string;
  messageId: number;
  response: boolean;
  port: number;
  spiI: string;
  spiR: string;
  hex: string;
  /** Plaintext of the SK payload's inner payloads, as charon logged it; first type in `plainFirst`. */
  plain?: string;
  plainFirst?: number;
}

function toMessages(pkts: readonly Packet[], plains: Map<string, string>): Message[] {
  const out: Message[] = [];
  for (const p of pkts) {
    let d = p.data;
    const port = p.sport === 4500 || p.dport === 4500 ? 4500 : p.dport;
    if (port === 4500) {
      if (d.length < 4 || d.readUInt32BE(0) !== 0) continue; // ESP or keepalive (RFC 3948 §2.2)
      d = d.subarray(4);
    }
    if (d.length < 28) continue;
    const m: Message = {
      dir: p.src === I_ADDR ? 'i->r' : 'r->i',
      exchange: EXCHANGES[d[18]!] ?? String(d[18]),
      messageId: d.readUInt32BE(20),
      response: (d[19]! & 0x20) !== 0,
      port,
      spiI: d.subarray(0, 8).toString('hex'),
      spiR: d.subarray(8, 16).toString('hex'),
      hex: d.toString('hex'),
    };
    const pl = payloads(d[16]!, d.subarray(28));
    // SK (46), or SKF (53) whose body starts with Fragment Number and Total Fragments (RFC 7383 §2.5)
    const sk = find(pl.list, 46) ?? find(pl.list, 53)?.subarray(4);
    if (sk) {
      const body = sk.toString('hex');
      for (const [ivCt, plain] of plains) if (body.startsWith(ivCt)) m.plain = plain;
      if (m.plain === undefined)
        throw new Error(`no logged plaintext for ${m.exchange} ${m.messageId} ${m.dir}`);
      m.plainFirst = pl.inner!;
    }
    out.push(m);
  }
  return out;
}

/** Nonce, KE data and first proposal (protocol, SPI) of a message (cleartext or SK plaintext). */
function exchangeParts(m: Message) {
  const d = Buffer.from(m.hex, 'hex');
  const list =
    m.plain !== undefined
      ? payloads(m.plainFirst!, Buffer.from(m.plain, 'hex')).list
      : payloads(d[16]!, d.subarray(28)).list;
  const sa = find(list, 33);
  const ke = find(list, 34);
  return {
    nonce: hex(find(list, 40)),
    ke: ke && { group: ke.readUInt16BE(0), data: hex(ke.subarray(4)) },
    protocol: sa?.[5],
    spi: sa && hex(sa.subarray(8, 8 + sa[6]!)),
  };
}

function pair(msgs: readonly Message[], pred: (m: Message) => boolean): [Message, Message] {
  const req = msgs.find((m) => !m.response && pred(m));
  const resp =
    req &&
    msgs.find(
      (m) =>
        m.response && m.messageId === req.messageId && m.spiI === req.spiI && m.exchange === req.exchange,
    );
  if (!req || !resp) {
    const seen = msgs.map((m) => `${m.exchange}#${m.messageId}${m.response ? 'r' : ''}`).join(' ');
    throw new Error(`exchange not captured; seen: ${seen}`);
  }
  return [req, resp];
}

function same(a: Record<string, string> | undefined, b: Record<string, string> | undefined, what: string) {
  if (!a || !b || JSON.stringify(a) !== JSON.stringify(b))
    throw new Error(`initiator and responder disagree on ${what}`);
  return a;
}

function buildVector(
  s: Scenario,
  pkts: readonly Packet[],
  logI: string,
  logR: string,
  sasBefore: SaInfoList,
  sasAfter: SaInfoList,
): Record<string, unknown> {
  const dumpsI = parseDumps(logI);
  const dumpsR = parseDumps(logR);
  const plains = new Map([...skPlaintexts(dumpsI), ...skPlaintexts(dumpsR)]);
  const messages = toMessages(pkts, plains);
  const [initReq, initResp] = pair(messages, (m) => m.exchange === 'IKE_SA_INIT');
  const pi = exchangeParts(initReq);
  const pr = exchangeParts(initResp);
  const ikeI = ikeKeySets(dumpsI);
  const ikeR = ikeKeySets(dumpsR);
  const childI = childKeySets(dumpsI);
  const childR = childKeySets(dumpsR);
  const sa0 = sasBefore[0]!;
  const ch0 = sa0.children[0]!;
  const auth = authDumps(dumpsI);
  const vec: Record<string, unknown> = {
    scenario: s.name,
    description: s.description,
    strongswan: charonVersion(),
    proposals: { ike: s.proposal, esp: s.esp },
    negotiated: { ike: pick(sa0.fields, ALG_FIELDS), esp: pick(ch0.fields, ALG_FIELDS) },
    auth: s.auth,
    ...(s.auth === 'psk' ? { psk: PSK, pskHex: Buffer.from(PSK).toString('hex') } : {}),
    initiator: { id: s.ids[0], address: I_ADDR, ts: I_NET },
    responder: { id: s.ids[1], address: R_ADDR, ts: R_NET },
    note: 'kernel-libipsec forces UDP encapsulation, so charon fakes NAT detection and moves to port 4500 after IKE_SA_INIT; hex omits the 4-byte non-ESP marker (RFC 3948 §2.2)',
    messages,
    keys: {
      ...same(ikeI[0], ikeR[0], 'IKE keys'),
      Ni: pi.nonce,
      Nr: pr.nonce,
      KEi: pi.ke,
      KEr: pr.ke,
      SPIi: initResp.spiI,
      SPIr: initResp.spiR,
    },
    child: {
      espProposal: s.esp,
      spiI: ch0.fields['spi-in'],
      spiR: ch0.fields['spi-out'],
      keys: same(childI[0], childR[0], 'child keys'),
    },
    ...(s.auth === 'psk' && auth.length >= 2 ? { pskAuth: { initiator: auth[0], responder: auth[1] } } : {}),
  };
  if (s.rekey) vec.rekey = rekeyVectors(messages, ikeI, ikeR, childI, childR, sasAfter);
  return vec;
}

function rekeyVectors(
  messages: readonly Message[],
  ikeI: Record<string, string>[],
  ikeR: Record<string, string>[],
  childI: Record<string, string>[],
  childR: Record<string, string>[],
  sasAfter: SaInfoList,
) {
  const isProto = (p: number) => (m: Message) =>
    m.exchange === 'CREATE_CHILD_SA' && exchangeParts(m).protocol === p;
  const [cq, cr] = pair(messages, isProto(3));
  const [iq, ir] = pair(messages, isProto(1));
  const [cqp, crp, iqp, irp] = [cq, cr, iq, ir].map(exchangeParts) as [P, P, P, P];
  const sa = sasAfter[0]!;
  const ch = sa.children.find((c) => c.fields.state === 'INSTALLED')!;
  return {
    child: {
      messageIds: [cq.messageId],
      Ni: cqp.nonce,
      Nr: crp.nonce,
      KEi: cqp.ke,
      KEr: crp.ke,
      spiI: cqp.spi,
      spiR: crp.spi,
      installedSpis: { in: ch.fields['spi-in'], out: ch.fields['spi-out'] },
      keys: same(childI[1], childR[1], 'rekeyed child keys'),
    },
    ike: {
      messageIds: [iq.messageId],
      oldSK_d: ikeI[0]!.SK_d,
      Ni: iqp.nonce,
      Nr: irp.nonce,
      KEi: iqp.ke,
      KEr: irp.ke,
      SPIi: iqp.spi,
      SPIr: irp.spi,
      listedSpis: { i: sa.fields['initiator-spi'], r: sa.fields['responder-spi'] },
      keys: same(ikeI[1], ikeR[1], 'rekeyed IKE keys'),
    },
  };
}
type P = ReturnType<typeof exchangeParts>;
type SaInfoList = Awaited<ReturnType<Charon['listSas']>>;

const ALG_FIELDS = ['encr-alg', 'encr-keysize', 'integ-alg', 'prf-alg', 'dh-group'];
function pick(f: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => f[k] !== undefined).map((k) => [k, f[k]!]));
}

function charonVersion(): string {
  return sh('/usr/lib/ipsec/charon', ['--version']).trim();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const o = args.indexOf('--out');
  const outDir = o >= 0 ? args.splice(o, 2)[1]! : 'test/vectors/strongswan';
  mkdirSync(outDir, { recursive: true });
  const chosen = SCENARIOS.filter((s) => args.length === 0 || args.some((a) => s.name.startsWith(a)));
  for (const s of chosen) {
    try {
      await capture(s, outDir);
    } catch (e) {
      rmSync(join(outDir, `${s.name}.pcap`), { force: true });
      console.error(`${s.name}: FAILED: ${(e as Error).stack}`);
      process.exitCode = 1;
    }
  }
}

await main();
