// Raw public keys (RFC 7670, ikeway's `auth.pubkey`) against strongSwan 6.0.6 (swanctl `auth = pubkey`
// with `pubkeys`), IKE level on the host: the ikeway daemon with the in-memory kernel in one network
// namespace, charon with kernel-libipsec in the other, ECDSA P-256 and Ed25519 keys, both roles. Each
// side holds only its own private key and the peer's public key: no CA, no certificate. The IKE SA must
// be established on both sides with the Child SA's SPIs matching crosswise; then a charon configured with
// another public key for ikeway must refuse it (AUTHENTICATION_FAILED on ikeway's side or charon's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusReport } from '../../src/control/status-types.ts';
import { request } from '../../src/control/client.ts';
import { Charon, ensureStrongswan6, STRONGSWAN_6 } from '../../lab/peers/strongswan.ts';
import { Lab, isRoot, type Daemon } from '../daemon/lab.ts';

const skip = !isRoot ? 'needs root' : (ensureStrongswan6() ?? false);
const A = '192.0.2.1'; // ikeway
const B = '192.0.2.2'; // charon
const T = { timeout: 60_000, skip };

type KeyType = 'ec' | 'ed25519';
function keyPair(type: KeyType): { key: string; pub: string } {
  const kp =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
  return {
    key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    pub: kp.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

async function ikeSa(socket: string) {
  return ((await request(socket, 'status')) as StatusReport).connections[0]?.ikeSas[0];
}

interface Setup {
  readonly type: KeyType;
  readonly ikewayInitiates: boolean;
  /** charon is given a public key for ikeway that is not ikeway's. */
  readonly wrongKey?: boolean;
}

async function run(t: { after(fn: () => unknown): void }, s: Setup) {
  const lab = new Lab([A, B]);
  t.after(() => lab.close());
  const nsB = lab.side(1).ns;
  execFileSync('ip', ['-n', nsB, 'addr', 'add', '10.2.0.1/32', 'dev', 'lo']);
  execFileSync('ip', ['-n', nsB, 'route', 'add', 'default', 'via', A]);
  const ours = keyPair(s.type);
  const theirs = keyPair(s.type);
  const dir = lab.side(0).dir;
  writeFileSync(join(dir, 'me.key'), ours.key, { mode: 0o600 });
  writeFileSync(join(dir, 'peer.pub'), theirs.pub);
  const charon = await Charon.start({
    ns: {
      spawn: (cmd, args, opts) =>
        spawn('ip', ['netns', 'exec', nsB, cmd, ...args], { stdio: 'pipe', ...opts }),
    },
    tag: `rpk-${s.type}`,
    build: STRONGSWAN_6,
    connections: [
      {
        name: 'site',
        localAddrs: [B],
        remoteAddrs: [A],
        localId: B,
        remoteId: A,
        localAuth: 'pubkey',
        remoteAuth: 'pubkey',
        localPubkeys: ['charon.pub'],
        remotePubkeys: ['ikeway.pub'],
        proposals: ['aes256gcm16-prfsha256-x25519'],
        mobike: false,
        children: [
          { name: 'net', localTs: ['10.2.0.0/24'], remoteTs: ['10.1.0.0/24'], espProposals: ['aes256gcm16'] },
        ],
      },
    ],
    files: {
      'pkcs8/charon.pem': theirs.key,
      'pubkey/charon.pub': theirs.pub,
      'pubkey/ikeway.pub': s.wrongKey ? keyPair(s.type).pub : ours.pub,
    },
    logLevels: { default: 1, ike: 2, cfg: 2 },
  });
  t.after(() => charon.stop());
  const loaded = await charon.loadAll();
  assert.match(loaded, /loaded connection 'site'/);
  lab.writeConfig(
    0,
    [
      'log: { level: debug, format: text }',
      'control-socket: ./ctl.sock',
      'state-dir: ./state',
      'retransmit: { timeout: 500ms, tries: 3, base: 1.5 }',
      `local: { address: ${A} }`,
      'connections:',
      '  site:',
      `    remote: ${B}`,
      '    auth: { pubkey: { key: me.key, peer: peer.pub } }',
      '    local-subnets: [10.1.0.0/24]',
      '    remote-subnets: [10.2.0.0/24]',
      `    start: ${s.ikewayInitiates ? 'now' : 'wait'}`,
      '    liveness: false',
      '    ike-proposals: [aes256gcm16-prfsha256-x25519]',
      '',
    ].join('\n'),
  );
  const d = await lab.startDaemon(0, 'memory');
  if (!s.ikewayInitiates) await charon.initiate('net', 'site', 20_000).catch(() => undefined);
  return { lab, charon, d };
}

function logs(charon: Charon, d: Daemon): string {
  const ikw = d.log
    .split('\n')
    .filter((l) => !/control request/.test(l))
    .join('\n');
  return `ikeway log:\n${ikw.slice(-3000)}\ncharon log:\n${charon.logText().slice(-3000)}`;
}

for (const type of ['ec', 'ed25519'] as const)
  for (const ikewayInitiates of [true, false]) {
    const name = `${type === 'ec' ? 'ECDSA P-256' : 'Ed25519'} (${ikewayInitiates ? 'ikeway' : 'strongSwan'} initiates)`;
    test(`strongSwan 6.0.6, raw public keys (RFC 7670): ${name}`, T, async (t) => {
      const { lab, charon, d } = await run(t, { type, ikewayInitiates });
      const socket = lab.side(0).socket;
      let ike = await ikeSa(socket);
      for (let i = 0; i < 100 && !(ike?.state === 'established' && ike.children.length > 0); i++) {
        await new Promise((r) => setTimeout(r, 200));
        ike = await ikeSa(socket);
      }
      assert.equal(ike?.state, 'established', logs(charon, d));
      const [sw] = await charon.listSas();
      assert.equal(sw?.fields.state, 'ESTABLISHED', logs(charon, d));
      assert.equal(sw?.children[0]?.fields.state, 'INSTALLED', logs(charon, d));
      assert.equal(sw?.children[0]?.fields['spi-in'], ike.children[0]?.spiOut);
      assert.equal(sw?.children[0]?.fields['spi-out'], ike.children[0]?.spiIn);
      // charon authenticated ikeway by the configured raw key (no certificate anywhere).
      assert.match(charon.logText(), /authentication of '192\.0\.2\.1' with \S+ successful/);
    });
  }

// RFC 7296 §2.21.2: the side that fails the AUTH answers (or follows up with an INFORMATIONAL) with
// AUTHENTICATION_FAILED; neither side keeps an IKE SA.
for (const ikewayInitiates of [true, false])
  test(
    `strongSwan 6.0.6, raw public keys: charon holds another key for ikeway, refused (${ikewayInitiates ? 'ikeway' : 'strongSwan'} initiates)`,
    T,
    async (t) => {
      const { lab, charon, d } = await run(t, { type: 'ec', ikewayInitiates, wrongKey: true });
      const refused = () =>
        /signature validation failed/.test(charon.logText()) && /N\(AUTH_FAILED\)/.test(charon.logText());
      for (let i = 0; i < 100 && !refused(); i++) await new Promise((r) => setTimeout(r, 200));
      assert.ok(refused(), logs(charon, d));
      if (ikewayInitiates) await d.waitFor(/IKE_AUTH refused with notify 24\b/, 10_000); // AUTHENTICATION_FAILED
      let ike = await ikeSa(lab.side(0).socket);
      for (let i = 0; i < 50 && ike?.state === 'established'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        ike = await ikeSa(lab.side(0).socket);
      }
      assert.notEqual(ike?.state, 'established', logs(charon, d));
      assert.equal((await charon.listSas()).filter((x) => x.fields.state === 'ESTABLISHED').length, 0);
    },
  );
