// Real peer: strongSwan 5.9.8 (charon with kernel-libipsec) in one namespace, ikeway (in-memory
// kernel) in the other, over real UDP 500. Both roles, PSK (RFC 7296 §2.15) and ECDSA certificates
// (RFC 7427); the IKE SA and its first Child SA (§1.2) must be up as BOTH sides report them: charon's
// `swanctl --list-sas` (ESTABLISHED / INSTALLED, negotiated algorithms) and ikeway's events, with the
// SPIs equal crosswise (§3.3.1: my inbound SPI is the peer's outbound SPI).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import { CHARON_BIN, Charon, type SaInfo, type SwanConnection } from '../../lab/peers/strongswan.ts';
import type { ConnectionSpec } from '../../lab/load/spec.ts';
import { PeerProcess, type PeerEvent } from '../realnet/peer-process.ts';
import { makeLabPki, type LabPki } from './lab-pki.ts';

const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(CHARON_BIN) ? 'strongSwan not installed' : false;

const SWAN = { addr: '198.51.100.1', net: '10.1.0.0/24', host: '10.1.0.1/32', fqdn: 'charon.example' };
const IKW = { addr: '198.51.100.2', net: '10.2.0.0/24', fqdn: 'ikeway.example' };
const PSK = 'interop-psk-0123456789abcdef';

interface Suite {
  readonly auth: 'psk' | 'cert';
  /** Proposals as both sides write them (the same strongSwan syntax). */
  readonly ike: string;
  readonly esp: string;
  /** What charon reports for the negotiated IKE and ESP algorithms. */
  readonly swanIke: Record<string, string>;
  readonly swanEsp: Record<string, string>;
}

const SUITES: readonly Suite[] = [
  {
    auth: 'psk',
    ike: 'aes256gcm16-prfsha256-x25519',
    esp: 'aes256gcm16',
    swanIke: {
      'encr-alg': 'AES_GCM_16',
      'encr-keysize': '256',
      'prf-alg': 'PRF_HMAC_SHA2_256',
      'dh-group': 'CURVE_25519',
    },
    swanEsp: { 'encr-alg': 'AES_GCM_16', 'encr-keysize': '256' },
  },
  {
    auth: 'cert',
    ike: 'aes128-sha256-prfsha256-ecp256',
    esp: 'aes128-sha256',
    swanIke: {
      'encr-alg': 'AES_CBC',
      'encr-keysize': '128',
      'integ-alg': 'HMAC_SHA2_256_128',
      'prf-alg': 'PRF_HMAC_SHA2_256',
      'dh-group': 'ECP_256',
    },
    swanEsp: { 'encr-alg': 'AES_CBC', 'encr-keysize': '128', 'integ-alg': 'HMAC_SHA2_256_128' },
  },
];

let pki: LabPki;
before(() => {
  if (!skip) pki = makeLabPki();
});
after(() => pki?.cleanup());

function swanConn(s: Suite): SwanConnection {
  return {
    name: 'site',
    localAddrs: [SWAN.addr],
    remoteAddrs: [IKW.addr],
    localId: SWAN.fqdn,
    remoteId: IKW.fqdn,
    localAuth: s.auth === 'psk' ? 'psk' : 'pubkey',
    remoteAuth: s.auth === 'psk' ? 'psk' : 'pubkey',
    ...(s.auth === 'cert' ? { localCerts: ['charon.pem'], remoteCaCerts: ['ca.pem'] } : {}),
    proposals: [s.ike],
    mobike: false,
    children: [{ name: 'net', localTs: [SWAN.net], remoteTs: [IKW.net], espProposals: [s.esp] }],
  };
}

function ikewayConn(s: Suite): ConnectionSpec {
  const auth =
    s.auth === 'psk'
      ? { psk: PSK }
      : (() => {
          const me = pki.issue(IKW.fqdn);
          return { cert: { cert: me.certPath, key: me.keyPath, ca: [pki.ca.certPath] } };
        })();
  return {
    name: 'site',
    localAddr: IKW.addr,
    remoteAddr: SWAN.addr,
    localId: `fqdn:${IKW.fqdn}`,
    remoteId: `fqdn:${SWAN.fqdn}`,
    ike: s.ike,
    esp: s.esp,
    localTs: [IKW.net],
    remoteTs: [SWAN.net],
    ...auth,
  };
}

function charonFiles(s: Suite): Record<string, string> {
  if (s.auth === 'psk') return {};
  const me = pki.issue(SWAN.fqdn);
  return { 'x509/charon.pem': me.certPem, 'pkcs8/charon.pem': me.keyPem, 'x509ca/ca.pem': pki.ca.certPem };
}

/** Both sides agree: ESTABLISHED + INSTALLED at charon, events at ikeway, SPIs crosswise. */
function checkBothSides(s: Suite, sas: SaInfo[], ike: PeerEvent, child: PeerEvent, ikewayInitiated: boolean) {
  assert.equal(sas.length, 1, JSON.stringify(sas));
  const sa = sas[0]!;
  assert.equal(sa.fields.state, 'ESTABLISHED');
  assert.equal(sa.fields.initiator, ikewayInitiated ? undefined : 'yes');
  assert.equal(sa.fields['initiator-spi'], ike.spiI);
  assert.equal(sa.fields['responder-spi'], ike.spiR);
  assert.equal(sa.fields['remote-id'], IKW.fqdn);
  for (const [k, v] of Object.entries(s.swanIke)) assert.equal(sa.fields[k], v, k);
  assert.equal(ike.initiator, ikewayInitiated);
  // Same transforms; their order follows whichever side built the SA payload.
  const tokens = (p: unknown) => String(p).split('-').sort();
  assert.deepEqual(tokens(ike.proposal), tokens(s.ike));
  assert.equal(sa.children.length, 1);
  const c = sa.children[0]!;
  assert.equal(c.fields.state, 'INSTALLED');
  assert.equal(c.fields.protocol, 'ESP');
  assert.equal(c.fields.mode, 'TUNNEL');
  for (const [k, v] of Object.entries(s.swanEsp)) assert.equal(c.fields[k], v, k);
  // RFC 7296 §3.3.1: each side's inbound SPI is what the other side sends with.
  assert.equal(c.fields['spi-in'], child.spiOut);
  assert.equal(c.fields['spi-out'], child.spiIn);
  assert.deepEqual(c.localTs, [SWAN.net]);
  assert.deepEqual(c.remoteTs, [IKW.net]);
  assert.deepEqual(child.localTs, [IKW.net]);
  assert.deepEqual(child.remoteTs, [SWAN.net]);
  assert.equal(child.proposal, `${s.esp}-noesn`);
}

for (const s of SUITES) {
  for (const ikewayInitiates of [true, false]) {
    const role = ikewayInitiates ? 'ikeway initiates' : 'charon initiates';
    test(
      `strongSwan 5.9.8 <-> ikeway: ${s.auth}, ${s.ike}/${s.esp}, ${role}`,
      { skip, timeout: 40_000 },
      async (t) => {
        const ns = Netns.create('swe');
        const nk = Netns.create('swe');
        const live: { charon?: Charon; peer?: PeerProcess } = {};
        t.after(async () => {
          await live.peer?.stop();
          await live.charon?.stop();
          ns.delete();
          nk.delete();
        });
        linkVeth(ns, `${SWAN.addr}/24`, nk, `${IKW.addr}/24`);
        // kernel-libipsec needs a default route and an address inside its local_ts (KERNEL-LAB.md).
        ns.ip('addr', 'add', SWAN.host, 'dev', 'lo');
        ns.ip('route', 'add', 'default', 'via', IKW.addr);
        const charon = (live.charon = await Charon.start({
          ns,
          tag: `e-${s.auth}-${ikewayInitiates ? 'r' : 'i'}`,
          connections: [swanConn(s)],
          ...(s.auth === 'psk' ? { secrets: { psk: [{ secret: PSK }] } } : {}),
          files: charonFiles(s),
          logLevels: { default: 1, ike: 2, cfg: 2 },
        }));
        await charon.loadAll();
        const peer = (live.peer = PeerProcess.start(nk, 'ikeway', {
          kernel: 'memory',
          addresses: [IKW.addr],
          connections: [ikewayConn(s)],
          ...(ikewayInitiates ? { initiate: ['site'] } : {}),
        }));
        await peer.waitEvent('ready');
        if (!ikewayInitiates) await charon.initiate('net', 'site');
        const fail = (e: unknown) => {
          throw new Error(`${String(e)}\n--- charon log ---\n${charon.logText().slice(-6000)}`);
        };
        const ike = await peer.waitEvent('ike-established').catch(fail);
        const child = await peer.waitEvent('child-installed').catch(fail);
        // charon may list the Child SA a moment after ikeway saw the response: poll briefly.
        let sas = await charon.listSas();
        for (let i = 0; i < 40 && sas[0]?.children[0]?.fields.state !== 'INSTALLED'; i++) {
          await new Promise((r) => setTimeout(r, 50));
          sas = await charon.listSas();
        }
        checkBothSides(s, sas, ike, child, ikewayInitiates);
        assert.equal(peer.of('child-failed').length + peer.of('ike-failed').length, 0);
      },
    );
  }
}
