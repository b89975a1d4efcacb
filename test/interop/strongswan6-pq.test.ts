// IKE-level interop of RFC 9370 hybrids over RFC 9242 IKE_INTERMEDIATE against strongSwan 6.0.6 (its
// `ml` plugin) and the classic fallback against strongSwan 5.9.8, on the host: two network namespaces,
// the ikeway daemon with the in-memory kernel (the host kernel has no ESP), charon with kernel-libipsec.
// It proves the exchanges, the key updates and the IntAuth-extended AUTH agree with an independent
// implementation (both AUTH payloads verify, both Child SAs are installed with matching SPIs); it does
// not carry traffic (that needs the guest kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { StatusReport } from '../../src/control/status-types.ts';
import { request } from '../../src/control/client.ts';
import {
  Charon,
  ensureStrongswan6,
  STRONGSWAN_5,
  STRONGSWAN_6,
  type StrongswanBuild,
  type SwanConnection,
} from '../../lab/peers/strongswan.ts';
import { Lab, PSK, configText, isRoot } from '../daemon/lab.ts';

const A = '192.0.2.1'; // ikeway
const B = '192.0.2.2'; // charon

const skip6 = !isRoot ? 'needs root' : (ensureStrongswan6() ?? false);
const skip5 = !isRoot ? 'needs root' : !existsSync(STRONGSWAN_5.charon) && 'strongSwan 5.9.8 not installed';

interface Cell {
  readonly build: StrongswanBuild;
  /** charon's IKE proposals */
  readonly swan: readonly string[];
  /** ikeway's ike-proposals, undefined = the default */
  readonly ours?: readonly string[];
  readonly ikewayInitiates: boolean;
  /** key exchanges ikeway's status must show */
  readonly expect: readonly string[];
  /** charon's IKE SA must name this key exchange (list-sas dh-group / ke fields) */
  readonly swanKe: RegExp;
  readonly fragmented?: boolean;
  /** ESP proposal of both sides (default aes256gcm16, no PFS). */
  readonly esp?: string;
  /** Then a Child SA rekey and an IKE SA rekey, started by the side that initiated. */
  readonly rekeys?: boolean;
}

async function status(socket: string): Promise<StatusReport> {
  return (await request(socket, 'status')) as StatusReport;
}

async function runCell(t: { after(fn: () => unknown): void }, c: Cell): Promise<void> {
  const lab = new Lab([A, B]);
  t.after(() => lab.close());
  const nsB = lab.side(1).ns;
  // kernel-libipsec routes remote_ts via ipsec0 from an address inside local_ts (5.9.8 fails the
  // Child SA without one).
  execFileSync('ip', ['-n', nsB, 'addr', 'add', '10.2.0.1/32', 'dev', 'lo']);
  execFileSync('ip', ['-n', nsB, 'route', 'add', 'default', 'via', A]);
  const swanConn: SwanConnection = {
    name: 'site',
    localAddrs: [B],
    remoteAddrs: [A],
    localId: B,
    remoteId: A,
    localAuth: 'psk',
    remoteAuth: 'psk',
    proposals: c.swan,
    mobike: false,
    children: [
      {
        name: 'net',
        localTs: ['10.2.0.0/24'],
        remoteTs: ['10.1.0.0/24'],
        espProposals: [c.esp ?? 'aes256gcm16'],
      },
    ],
  };
  const charon = await Charon.start({
    ns: {
      spawn: (cmd, args, opts) =>
        spawn('ip', ['netns', 'exec', nsB, cmd, ...args], { stdio: 'pipe', ...opts }),
    },
    tag: `pq${c.build.version}`,
    build: c.build,
    connections: [swanConn],
    secrets: { psk: [{ secret: PSK }] },
    logLevels: { default: 1, ike: 2 },
  });
  t.after(() => charon.stop());
  await charon.loadAll();
  const extra =
    (c.ours ? `    ike-proposals: [${c.ours.join(', ')}]\n` : '') +
    (c.esp ? `    esp-proposals: ${c.esp}\n` : '');
  lab.writeConfig(
    0,
    configText(A, [
      {
        name: 'site',
        remote: B,
        local: '10.1.0.0/24',
        remoteNet: '10.2.0.0/24',
        start: c.ikewayInitiates ? 'now' : 'wait',
        extra: `    local-id: ${A}\n    remote-id: ${B}\n${extra}`,
      },
    ]),
  );
  const d = await lab.startDaemon(0, 'memory');
  if (!c.ikewayInitiates) await charon.initiate('net', 'site', 20_000);
  let ike: StatusReport['connections'][number]['ikeSas'][number] | undefined;
  for (let i = 0; i < 100 && !(ike?.state === 'established' && ike.children.length > 0); i++) {
    ike = (await status(lab.side(0).socket)).connections[0]?.ikeSas[0];
    if (!(ike?.state === 'established' && ike.children.length > 0))
      await new Promise((r) => setTimeout(r, 200));
  }
  const log = charon.logText();
  assert.equal(
    ike?.state,
    'established',
    `ikeway log:\n${d.log.slice(-3000)}\ncharon log:\n${log.slice(-3000)}`,
  );
  assert.deepEqual(ike.keyExchanges, c.expect);
  const [sw] = await charon.listSas();
  assert.equal(sw?.fields.state, 'ESTABLISHED');
  assert.match(JSON.stringify(sw?.fields), c.swanKe);
  assert.equal(
    sw?.children[0]?.fields.state,
    'INSTALLED',
    `charon log:\n${log.slice(-4000)}\n${d.log.slice(-3000)}`,
  );
  assert.equal(sw?.children[0]?.fields['spi-in'], ike.children[0]?.spiOut);
  assert.equal(sw?.children[0]?.fields['spi-out'], ike.children[0]?.spiIn);
  if (c.expect.length > 1) assert.match(log, /IKE_INTERMEDIATE/);
  else assert.doesNotMatch(log, /IKE_INTERMEDIATE/);
  if (c.fragmented) {
    assert.match(log, /received fragment #\d+ of \d+/);
    assert.match(log, /splitting IKE message .* into \d+ fragments/);
  }
  if (c.rekeys) await rekeys(lab.side(0).socket, charon, c, ike);
}

type IkeStatus = StatusReport['connections'][number]['ikeSas'][number];

/** Polls ikeway's status until `done` holds for the first IKE SA (bounded: 30 s). */
async function until(socket: string, done: (ike: IkeStatus | undefined) => boolean): Promise<IkeStatus> {
  let ike: IkeStatus | undefined;
  for (let i = 0; i < 150; i++) {
    ike = (await status(socket)).connections[0]?.ikeSas.find((x) => x.state === 'established');
    if (done(ike)) return ike!;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`status never reached the expected state: ${JSON.stringify(ike)}`);
}

/**
 * RFC 9370 §2.2.4 against charon: a Child SA rekey (PFS with the additional exchanges) and an IKE SA
 * rekey, each with IKE_FOLLOWUP_KE, started by the initiating side. The new SAs list every key
 * exchange on ikeway's side and match charon's SPIs.
 */
async function rekeys(socket: string, charon: Charon, c: Cell, before: IkeStatus): Promise<void> {
  const oldChild = before.children[0]!.spiIn;
  if (c.ikewayInitiates) await request(socket, 'rekey', { name: 'site', what: 'child' });
  else await charon.rekey({ child: 'net' });
  let ike = await until(socket, (x) =>
    (x?.children ?? []).some((ch) => ch.state === 'installed' && ch.spiIn !== oldChild),
  );
  const child = ike.children.find((ch) => ch.state === 'installed' && ch.spiIn !== oldChild)!;
  assert.deepEqual(child.keyExchanges, c.expect, 'the rekeyed Child SA ran every key exchange');
  if (c.ikewayInitiates) await request(socket, 'rekey', { name: 'site', what: 'ike' });
  else await charon.rekey({ ike: 'site' });
  ike = await until(socket, (x) => x !== undefined && x.spiI !== before.spiI && x.children.length > 0);
  assert.deepEqual(ike.keyExchanges, c.expect, 'the rekeyed IKE SA ran every key exchange');
  await new Promise((r) => setTimeout(r, 500)); // charon's side of the last exchange
  const log = charon.logText();
  assert.match(log, /IKE_FOLLOWUP_KE/);
  const [sw] = (await charon.listSas()).filter((x) => x.fields.state === 'ESTABLISHED');
  assert.equal(sw?.fields['initiator-spi'], ike.spiI, `charon log:\n${log.slice(-4000)}`);
  const swChild = sw?.children.find((x) => x.fields['spi-in'] === child.spiOut);
  assert.ok(swChild, `charon has the rekeyed Child SA ${child.spiOut}: ${JSON.stringify(sw?.children)}`);
}

const HYB768 = 'aes256gcm16-prfsha384-x25519-ke1_mlkem768';
const HYB1024 = 'aes256gcm16-prfsha384-ecp384-ke1_mlkem1024';
const T = { timeout: 90_000 };

for (const ikewayInitiates of [true, false]) {
  const role = ikewayInitiates ? 'ikeway initiates' : 'strongSwan initiates';
  test(`strongSwan 6.0.6, X25519 + ML-KEM-768 (${role})`, { ...T, skip: skip6 }, (t) =>
    runCell(t, {
      build: STRONGSWAN_6,
      swan: [HYB768],
      ours: [HYB768],
      ikewayInitiates,
      expect: ['x25519', 'mlkem768'],
      swanKe: /"dh-group":"CURVE_25519","ake1":"ML_KEM_768"/,
    }),
  );
  test(`strongSwan 6.0.6, ECP-384 + ML-KEM-1024 fragmented (${role})`, { ...T, skip: skip6 }, (t) =>
    runCell(t, {
      build: STRONGSWAN_6,
      swan: [HYB1024],
      ours: [HYB1024],
      ikewayInitiates,
      expect: ['ecp384', 'mlkem1024'],
      swanKe: /"dh-group":"ECP_384","ake1":"ML_KEM_1024"/,
      fragmented: true,
    }),
  );
  test(`strongSwan 6.0.6, ML-KEM-768 alone (${role})`, { ...T, skip: skip6 }, (t) =>
    runCell(t, {
      build: STRONGSWAN_6,
      swan: ['aes256gcm16-prfsha384-mlkem768'],
      ours: ['aes256gcm16-prfsha384-mlkem768'],
      ikewayInitiates,
      expect: ['mlkem768'],
      swanKe: /"dh-group":"ML_KEM_768","(?!ake1)/,
    }),
  );
  // ML-KEM-1024 alone: its 1568-octet encapsulation key and ciphertext ride in IKE_SA_INIT, which RFC
  // 7383 cannot fragment: the datagrams exceed the 1500-octet MTU and go as IP fragments.
  test(`strongSwan 6.0.6, ML-KEM-1024 alone (${role})`, { ...T, skip: skip6 }, (t) =>
    runCell(t, {
      build: STRONGSWAN_6,
      swan: ['aes256gcm16-prfsha384-mlkem1024'],
      ours: ['aes256gcm16-prfsha384-mlkem1024'],
      ikewayInitiates,
      expect: ['mlkem1024'],
      swanKe: /"dh-group":"ML_KEM_1024","(?!ake1)/,
    }),
  );
  test(`strongSwan 6.0.6 vs ikeway's default proposal: hybrid chosen (${role})`, { ...T, skip: skip6 }, (t) =>
    runCell(t, {
      build: STRONGSWAN_6,
      swan: ['aes256gcm16-prfsha256-x25519-ke1_mlkem768'],
      ikewayInitiates,
      expect: ['x25519', 'mlkem768'],
      swanKe: /"dh-group":"CURVE_25519","ake1":"ML_KEM_768"/,
    }),
  );
  test(
    `strongSwan 6.0.6, Child SA PFS X25519 + ML-KEM-768, Child and IKE rekey with IKE_FOLLOWUP_KE (${role})`,
    { ...T, skip: skip6 },
    (t) =>
      runCell(t, {
        build: STRONGSWAN_6,
        swan: [HYB768],
        ours: [HYB768],
        esp: 'aes256gcm16-x25519-ke1_mlkem768',
        ikewayInitiates,
        expect: ['x25519', 'mlkem768'],
        swanKe: /"dh-group":"CURVE_25519","ake1":"ML_KEM_768"/,
        rekeys: true,
      }),
  );
  test(
    `strongSwan 5.9.8 vs ikeway's default proposal: classic chosen (${role})`,
    { ...T, skip: skip5 },
    (t) =>
      runCell(t, {
        build: STRONGSWAN_5,
        swan: ['aes256gcm16-prfsha256-x25519'],
        ikewayInitiates,
        expect: ['x25519'],
        swanKe: /"dh-group":"CURVE_25519","(?!ake1)/,
      }),
  );
}
