// The Libreswan 4.10 lab harness on the host: rendering and parsing (pure), then pluto in one
// namespace and an ikeway peer (in-memory kernel) in another, over real UDP 500, both roles, PSK
// (RFC 7296 §2.15). The IKE SA must come up as BOTH sides report it. The host kernel has no ESP
// (docs/KERNEL-LAB.md), so pluto cannot install its Child SA here: the test asserts that failure
// by pluto's own log line, and asserts success instead where the host kernel has ESP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import { hostHasEsp } from '../../lab/guest/guest.ts';
import {
  LIBRESWAN_ROOT,
  LswConfError,
  Pluto,
  libreswanUnavailable,
  parseChildSpis,
  parseIkeSpis,
  parseStates,
  parseTrafficStatus,
  plutoArgs,
  renderIpsecConf,
  renderIpsecSecrets,
  type LswConnection,
} from '../../lab/peers/libreswan.ts';
import type { ConnectionSpec } from '../../lab/load/spec.ts';
import { PeerProcess } from '../realnet/peer-process.ts';
import { toLibreswanProposal } from '../../lab/interop/libreswan-peer.ts';
import { connection as connectionSpec } from '../../src/config/spec-connection.ts';

const skip = libreswanUnavailable();
const LSW = { addr: '198.51.100.1', net: '10.1.0.0/24', fqdn: 'lsw.example' };
const IKW = { addr: '198.51.100.2', net: '10.2.0.0/24', fqdn: 'ikeway.example' };
const PSK = 'interop-psk-libreswan-0123456789';

const lswConn: LswConnection = {
  name: 'site',
  left: LSW.addr,
  right: IKW.addr,
  leftId: `@${LSW.fqdn}`,
  rightId: `@${IKW.fqdn}`,
  auth: 'psk',
  leftSubnets: [LSW.net],
  rightSubnets: [IKW.net],
  ike: 'aes_gcm256-sha2_256;dh31',
  esp: 'aes_gcm256',
  retransmitTimeout: 10,
};

const CLASSIC = 'aes256gcm16-prfsha256-x25519';
/** ikeway's default `ike-proposals` as the config defines it: the ML-KEM hybrid first, then X25519. */
const DEFAULT_IKE = (connectionSpec.fields['ike-proposals'] as { default?: readonly string[] }).default ?? [];

function ikewayConn(ike = CLASSIC): ConnectionSpec {
  return {
    name: 'site',
    localAddr: IKW.addr,
    remoteAddr: LSW.addr,
    localId: `fqdn:${IKW.fqdn}`,
    remoteId: `fqdn:${LSW.fqdn}`,
    psk: PSK,
    ike,
    esp: 'aes256gcm16',
    localTs: [IKW.net],
    remoteTs: [LSW.net],
  };
}

test('renderIpsecConf: kernel XFRM, IKEv2 only, the typed fields as ipsec.conf lines', () => {
  const text = renderIpsecConf([{ ...lswConn, leftSubnets: ['10.1.0.0/24', '10.1.1.0/24'] }], {
    logfile: '/tmp/x/pluto.log',
  });
  assert.match(text, /^config setup\n\tprotostack=xfrm\n\tlogfile=\/tmp\/x\/pluto.log\n/);
  assert.match(text, /\nconn site\n\tikev2=insist\n\tauthby=secret\n\ttype=tunnel\n/);
  assert.match(text, /\n\tleftsubnets=\{10.1.0.0\/24 10.1.1.0\/24\}\n/);
  assert.match(text, /\n\trightsubnet=10.2.0.0\/24\n/);
  assert.match(text, /\n\tike=aes_gcm256-sha2_256;dh31\n\tesp=aes_gcm256\n/);
  assert.match(text, /\n\tretransmit-timeout=10s\n\tauto=add\n$/);
  const dn = renderIpsecConf([{ ...lswConn, auth: 'ecdsa', leftCert: 'me', rightId: 'C=XX, CN=b' }], {
    logfile: '/l',
  });
  assert.match(dn, /\n\tauthby=ecdsa\n/);
  assert.match(dn, /\n\tleftcert=me\n\tleftsendcert=always\n/);
  assert.match(dn, /\n\trightid="C=XX, CN=b"\n/);
});

test('renderIpsecConf/renderIpsecSecrets reject values that would break the files, never echo a PSK', () => {
  const bad = (c: Partial<LswConnection>) => () => renderIpsecConf([{ ...lswConn, ...c }], { logfile: '/l' });
  assert.throws(bad({ leftId: '@a"\n\tauto=start' }), LswConfError);
  assert.throws(bad({ esp: 'aes gcm' }), LswConfError);
  assert.throws(bad({ auth: 'rsa' }), /leftCert/);
  assert.throws(bad({ dpdDelay: -1 }), LswConfError);
  assert.throws(bad({ extra: { 'bad key': 'x' } }), LswConfError);
  assert.throws(
    () => renderIpsecConf([lswConn, lswConn], { logfile: '/l' }),
    (e: Error) => e instanceof LswConfError && e.field === 'conn name',
  );
  assert.throws(
    () => renderIpsecSecrets({ psk: [{ secret: 'hunter2"\nx' }] }),
    (e: Error) => e instanceof LswConfError && !JSON.stringify({ m: e.message, ...e }).includes('hunter2'),
  );
  assert.equal(
    renderIpsecSecrets({ psk: [{ secret: 'abc def', ids: ['@a', '@b'] }, { secret: '0x00ff' }] }),
    '@a @b : PSK "abc def"\n: PSK 0x00ff\n',
  );
});

test('plutoArgs: private mount namespace, unpacked libexec over /usr/libexec, per-instance paths', () => {
  const args = plutoArgs('/tmp/inst', '/opt/lsw');
  assert.deepEqual(args.slice(0, 3), ['--mount', '--propagation', 'private']);
  assert.ok(args.includes('/opt/lsw/usr/libexec'));
  for (const [opt, val] of [
    ['--rundir', '/tmp/inst/run'],
    ['--nssdir', '/tmp/inst/nss'],
    ['--secretsfile', '/tmp/inst/ipsec.secrets'],
    ['--config', '/tmp/inst/ipsec.conf'],
  ])
    assert.equal(args[args.indexOf(opt!) + 1], val, opt);
});

test('parseStates / parseTrafficStatus read whack output of pluto 4.10', () => {
  const states = parseStates(
    [
      '000 #1: "site":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); REKEY in 28508s; REPLACE in 28778s; idle;',
      '000 #2: "site":500 STATE_V2_ESTABLISHED_CHILD_SA (established Child SA); REKEY in 28000s; newest; eroute owner; IKE SA #1; idle;',
      '000 #2: "site" esp.c2e0ccc3@198.51.100.2 esp.1234abcd@198.51.100.1 tun.0@198.51.100.2 Traffic: ESPin=0B',
      '000 #3: "site":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); REKEY in 28526s; newest; idle;',
    ].join('\n'),
  );
  assert.deepEqual(
    states.map((s) => [s.serial, s.conn, s.kind, s.ikeSerial, s.newest]),
    [
      [1, 'site', 'ike', undefined, false],
      [2, 'site', 'child', 1, true],
      [3, 'site', 'ike', undefined, true],
    ],
  );
  const [t0, ...rest] = parseTrafficStatus(
    '006 #2: "site", type=ESP, add_time=1700000000, inBytes=840, outBytes=1680, maxBytes=2^63B, id=\'@ikeway.example\'\n',
  );
  assert.equal(rest.length, 0);
  assert.deepEqual(t0, {
    serial: 2,
    conn: 'site',
    type: 'ESP',
    inBytes: 840,
    outBytes: 1680,
    id: '@ikeway.example',
  });
});

test('ikeway default IKE proposals: an ML-KEM hybrid first, a classic X25519 one after it', () => {
  assert.deepEqual(DEFAULT_IKE, ['aes256gcm16-prfsha256-x25519-ke1_mlkem768', CLASSIC]);
});

// Libreswan 4.10 has no ML-KEM and no RFC 9370 (transform types 6..12 are unknown to it): against
// ikeway's default proposals it must pick the classic one (RFC 7296 §3.3.6: a proposal with a
// transform type the responder does not understand is unacceptable), and ikeway must accept
// Libreswan's classic proposal when Libreswan initiates.
for (const [ikewayInitiates, proposals] of [
  [true, 'classic'],
  [false, 'classic'],
  [true, 'default'],
  [false, 'default'],
] as const) {
  const role = ikewayInitiates ? 'ikeway initiates' : 'pluto initiates';
  const ikeOffer = proposals === 'default' ? DEFAULT_IKE.join(',') : CLASSIC;
  const what =
    proposals === 'default' ? "ikeway's default proposals (hybrid, classic): classic chosen" : 'PSK';
  test(
    `Libreswan 4.10 <-> ikeway on the host: ${what}, IKE SA up, ${role}`,
    { skip, timeout: 60_000 },
    async (t) => {
      const nl = Netns.create('lswh');
      const nk = Netns.create('lswh');
      const live: { pluto?: Pluto; peer?: PeerProcess } = {};
      t.after(async () => {
        await live.peer?.stop();
        await live.pluto?.stop();
        nl.delete();
        nk.delete();
      });
      linkVeth(nl, `${LSW.addr}/24`, nk, `${IKW.addr}/24`);
      const pluto = (live.pluto = await Pluto.start({
        ns: nl,
        tag: ikewayInitiates ? 'r' : 'i',
        connections: [lswConn],
        secrets: { psk: [{ secret: PSK, ids: [`@${LSW.fqdn}`, `@${IKW.fqdn}`] }] },
        listen: LSW.addr,
      }));
      // Everything of this instance lives in its own directory; the PSK file is private.
      assert.ok(existsSync(pluto.ctlSocket));
      // Libreswan's own updown, never `ipsec _updown` (the host's `ipsec` is strongSwan's).
      assert.match(
        readFileSync(join(pluto.dir, 'ipsec.conf'), 'utf8'),
        /\n\tleftupdown=\/usr\/libexec\/ipsec\/_updown\n/,
      );
      assert.match(
        readFileSync(join(LIBRESWAN_ROOT, 'usr/libexec/ipsec/_updown'), 'utf8'),
        /_updown\.\$\{PLUTO_STACK\}/,
      );
      assert.ok(existsSync(join(pluto.dir, 'run', 'pluto.pid')));
      assert.equal(
        readFileSync(join(pluto.dir, 'run', 'pluto.pid'), 'utf8').trim(),
        String(await plutoPid(pluto)),
      );
      const peer = (live.peer = PeerProcess.start(nk, 'ikeway', {
        kernel: 'memory',
        addresses: [IKW.addr],
        connections: [ikewayConn(ikeOffer)],
        ...(ikewayInitiates ? { initiate: ['site'] } : {}),
      }));
      await peer.waitEvent('ready', 30_000);
      // whack --initiate blocks until pluto reports the outcome, with pluto's own status lines.
      const upOut = ikewayInitiates ? '' : await pluto.up('site');
      const fail = (e: unknown) => {
        throw new Error(`${String(e)}\n--- pluto log ---\n${pluto.logText().slice(-5000)}`);
      };
      const ike = await peer.waitEvent('ike-established', 20_000).catch(fail);
      assert.equal(ike.initiator, ikewayInitiates);
      assert.equal(ike.peerId, LSW.fqdn);
      assert.equal(ike.proposal, CLASSIC);
      if (ikewayInitiates && proposals === 'default') {
        // pluto saw both proposals (it drops the hybrid's transform type 6 as unknown) and chose #2.
        const chosen =
          /proposal 2:IKE=AES_GCM_C_256-HMAC_SHA2_256-CURVE25519 chosen from remote proposals 1:IKE:\S+ 2:IKE:/;
        await waitFor(() => pluto.logLines(chosen).length > 0, fail);
      }
      // pluto's own view: it established the IKE SA, authenticated with the PSK (RFC 7296 §2.15).
      const authLine = new RegExp(
        `${ikewayInitiates ? 'responder' : 'initiator'} established IKE SA; ` +
          `authenticated peer using authby=secret and ID_FQDN '@${IKW.fqdn}'`,
      );
      await waitFor(() => pluto.logLines(authLine).length > 0, fail);
      if (!ikewayInitiates) assert.match(upOut, authLine);
      if (ikewayInitiates) {
        const states = await pluto.waitStates((s) =>
          s.some((x) => x.state === 'STATE_V2_ESTABLISHED_IKE_SA'),
        );
        assert.equal(states.filter((s) => s.kind === 'ike').length, 1, JSON.stringify(states));
      }

      if (hostHasEsp()) {
        // A host kernel with ESP: the Child SA comes up on both sides.
        await peer.waitEvent('child-installed', 20_000).catch(fail);
        await pluto.waitStates((s) => s.some((x) => x.state === 'STATE_V2_ESTABLISHED_CHILD_SA'));
        return;
      }
      // No ESP in the host kernel: pluto's XFRM_MSG_NEWSA fails, and pluto says so in its log.
      await waitFor(() => pluto.logLines(/netlink response for Add SA esp\.[0-9a-f]+@/).length > 0, fail);
      const [line] = pluto.logLines(/netlink response for Add SA esp\.[0-9a-f]+@/);
      assert.match(line!, /(Function not implemented|No such file|Protocol not supported)/);
      const established = (await pluto.states()).filter((s) => s.state === 'STATE_V2_ESTABLISHED_CHILD_SA');
      assert.deepEqual(established, [], 'no Child SA can be established by pluto without kernel ESP');
      assert.deepEqual(await pluto.traffic(), []);
      if (ikewayInitiates) {
        // RFC 7296 §2.21.2: the responder refuses the Child SA in IKE_AUTH; the IKE SA stays up.
        const failed = await peer.waitEvent('child-failed', 10_000);
        assert.equal(typeof failed.notify, 'number');
      }
      const dir = pluto.dir;
      await pluto.stop();
      assert.equal(pluto.running, false);
      assert.ok(!existsSync(dir), 'instance directory removed on stop');
    },
  );
}

async function plutoPid(p: Pluto): Promise<number> {
  // The pid file holds pluto's pid, which is the unshare child after exec: read the status line.
  const status = await p.status();
  const m = /pid:(\d+)/.exec(p.logText()) ?? /pid:(\d+)/.exec(status);
  return Number(m?.[1]);
}

async function waitFor(cond: () => boolean, fail: (e: unknown) => never, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail(new Error('condition not reached'));
}

test('toLibreswanProposal maps the matrix proposals; parseChildSpis/parseIkeSpis read pluto output', () => {
  const cases: [string, 'ike' | 'esp', string][] = [
    ['aes256gcm16-prfsha256-x25519', 'ike', 'aes_gcm256-sha2_256;dh31'],
    ['aes256gcm16-x25519', 'esp', 'aes_gcm256;dh31'],
    ['chacha20poly1305-prfsha256-x25519', 'ike', 'chacha20_poly1305-sha2_256;dh31'],
    ['aes256-sha256-modp2048', 'esp', 'aes256-sha2_256;modp2048'],
    ['aes256-sha256-ecp256', 'ike', 'aes256-sha2_256;dh19'],
    ['aes128gcm16', 'esp', 'aes_gcm128'],
  ];
  for (const [p, kind, want] of cases) assert.equal(toLibreswanProposal(p, kind), want, p);
  assert.throws(() => toLibreswanProposal('aes256-md5-modp768', 'ike'), /md5/);
  const [c, ...more] = parseChildSpis(
    '000 #2: "site" esp.c2e0ccc3@198.51.100.2 esp.1234abcd@198.51.100.1 tun.0@198.51.100.2 Traffic: ESPin=0B\n' +
      '000 #1: "site":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); idle;\n',
  );
  assert.equal(more.length, 0);
  assert.deepEqual(c, {
    serial: 2,
    conn: 'site',
    spis: [
      { proto: 'esp', spi: 'c2e0ccc3', at: '198.51.100.2' },
      { proto: 'esp', spi: '1234abcd', at: '198.51.100.1' },
    ],
  });
  const [v6] = parseChildSpis(
    '000 #4: "site" esp:c2e0ccc3@2001:db8:0:1::1 esp:0badf00d@2001:db8:0:1::2 tun:0@2001:db8:0:1::1 Traffic: ESPin=0B\n',
  );
  assert.deepEqual(v6?.spis, [
    { proto: 'esp', spi: 'c2e0ccc3', at: '2001:db8:0:1::1' },
    { proto: 'esp', spi: '0badf00d', at: '2001:db8:0:1::2' },
  ]);
  const log = [
    'Nov 22 09:46:44.315168: | entry state hash_table_entries.ike_spis@0x55 "site" #1: de 62 8b 2b  4a 92 eb 74  00 00 00 00  00 00 00 00 added to hash table bucket 0x1',
    'Nov 22 09:46:44.400196: | entry state hash_table_entries.ike_spis@0x55 "site" #1: de 62 8b 2b  4a 92 eb 74  96 64 b9 f6  33 c7 77 4c added to hash table bucket 0x2',
  ].join('\n');
  assert.deepEqual(parseIkeSpis(log).get(1), { spiI: 'de628b2b4a92eb74', spiR: '9664b9f633c7774c' });
  assert.equal(parseIkeSpis(log.split('\n')[0]!).size, 0, 'a zero SPIr is not an established SA');
});
