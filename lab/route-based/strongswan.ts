// Route-based interop with strongSwan 5.9.8 in an ESP kernel (run by test/daemon/route-based.test.ts):
// two labs side by side, each a two-site lab (two-site/lab.ts) with ikeway route-based on router A
// (an XFRM interface it owns, its route to LAN B) and charon (peers/strongswan.ts) on router B.
// - swan-route: charon route-based too: `if_id_in`/`if_id_out` on its child (0.0.0.0/0 and ::/0),
//   the XFRM interface created here with `ip link add ... type xfrm if_id`, LAN A routed into it;
//   ikeway initiates. Its if_id (9) differs from ikeway's (7): interface ids are local to a host.
// - swan-policy: charon policy-based (10.2.0.0/24 <-> 10.1.0.0/24, no if_id, the LAN route via the
//   WAN as any policy-based gateway has it); ikeway route-based narrowed to the same subnets, and the
//   responder: charon initiates.
// In both, pings from either LAN host are counted by both kernels' SAs in both directions and by the
// interfaces. Prints `IKW-RB-SWAN-RESULT <json>` per lab (SPIs and counters; keys are never read).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import { BASE_CELL, DEFAULT_ESP, DEFAULT_IKE } from '../interop/cells.ts';
import { IkewayDaemon, sleep, writeIkewayConfig } from '../interop/ikeway-side.ts';
import { CONN, IKEWAY_ID, PEER_ID } from '../interop/run-cell.ts';
import type { LabNs } from '../netns/lab-ns.ts';
import { Charon } from '../peers/strongswan.ts';
import { ping, readSaCounters } from '../two-site/checks.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { makeTopology } from '../two-site/topology.ts';

export type SwanScenario = 'swan-route' | 'swan-policy';
const [WAN_A, WAN_B, LAN_A, LAN_B] = ['192.0.2.1', '192.0.2.2', '10.1.0.0/24', '10.2.0.0/24'];
const [IFID_IKEWAY, IFID_SWAN] = [7, 9];
const norm = (s: string) => s.replace(/^0x/, '').toLowerCase();
const t0 = Date.now();

/** Packets counted by the SA with this SPI in `ns` (-1: no such SA). */
const saPackets = (ns: LabNs, spi: string) =>
  readSaCounters(ns).find((s) => norm(s.spi) === norm(spi))?.packets ?? -1;

/** RX and TX packets of an interface (`ip -s link`), or -1s. */
function ifPackets(ns: LabNs, dev: string): { rx: number; tx: number } {
  const t = ns.tryExec('ip', '-s', 'link', 'show', dev).stdout;
  const n = (dir: string) =>
    Number(new RegExp(`${dir}:\\s+bytes\\s+packets[^\\n]*\\n\\s*\\d+\\s+(\\d+)`).exec(t)?.[1] ?? -1);
  return { rx: n('RX'), tx: n('TX') };
}

/** XFRM states and policies in `ns` that carry `if_id` (counted; the state text, with keys, is not kept). */
function withIfId(ns: LabNs, id: number): { states: number; policies: number } {
  const re = new RegExp(`if_id 0x${id.toString(16)}\\b`, 'g');
  return {
    states: (ns.exec('ip', 'xfrm', 'state').match(re) ?? []).length,
    policies: (ns.exec('ip', 'xfrm', 'policy').match(re) ?? []).length,
  };
}

export async function runSwan(scenario: SwanScenario, bin: string): Promise<Record<string, unknown>> {
  const routed = scenario === 'swan-route';
  const tag = routed ? 'swr' : 'swp';
  const log = (m: string) =>
    process.stderr.write(`[${scenario} ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  const dir = mkdtempSync(join(tmpdir(), `ikw-${tag}-`));
  const psk = `0x${randomBytes(32).toString('hex')}`;
  const res: Record<string, unknown> = { scenario };
  let lab: Lab | undefined;
  let charon: Charon | undefined;
  let ikw: IkewayDaemon | undefined;
  try {
    lab = buildLab(
      makeTopology({
        name: scenario,
        a: { wan: WAN_A, lans: [LAN_A] },
        b: { wan: WAN_B, lans: [LAN_B] },
        nat: false,
      }),
      { tag },
    );
    const [ra, rb] = [lab.a.router, lab.b.router];
    const [hostA, hostB] = lab.topology.sites.map((s) => s.lans[0]!.host) as [string, string];
    // LAN B is ikeway's route into its interface: the lab's route via the WAN would win (metric 0).
    ra.ip('route', 'del', LAN_B);
    if (routed) {
      // charon's interface, made by hand as strongSwan expects; LAN A is routed into it.
      rb.ip('link', 'add', 'swan0', 'type', 'xfrm', 'dev', 'wan', 'if_id', String(IFID_SWAN));
      rb.ip('addr', 'add', '169.254.30.2/30', 'dev', 'swan0');
      rb.ip('link', 'set', 'swan0', 'up');
      rb.ip('route', 'replace', LAN_A, 'dev', 'swan0');
    }
    const [swanLocal, swanRemote] = routed
      ? [
          ['0.0.0.0/0', '::/0'],
          ['0.0.0.0/0', '::/0'],
        ]
      : [[LAN_B], [LAN_A]];
    charon = await Charon.start({
      ns: rb,
      tag,
      libipsec: false,
      connections: [
        {
          name: CONN,
          localAddrs: [WAN_B],
          remoteAddrs: [WAN_A],
          localId: PEER_ID,
          remoteId: IKEWAY_ID,
          localAuth: 'psk',
          remoteAuth: 'psk',
          proposals: [DEFAULT_IKE],
          mobike: false,
          children: [
            {
              name: 'rb',
              localTs: swanLocal,
              remoteTs: swanRemote,
              espProposals: [DEFAULT_ESP],
              ...(routed && { ifIdIn: IFID_SWAN, ifIdOut: IFID_SWAN }),
            },
          ],
        },
      ],
      secrets: { psk: [{ secret: psk, ids: [PEER_ID, IKEWAY_ID] }] },
      logLevels: { default: 1, ike: 1, cfg: 1, knl: 1, enc: 0, net: 0 },
      // Routes are the lab's (routed) or the WAN's (policy-based); charon installs none.
      extraCharonConf: '  install_routes = no\n  retransmit_timeout = 1.0\n  retransmit_tries = 4',
      startTimeoutMs: 180_000,
    });
    await charon.loadAll();
    const config = writeIkewayConfig({
      cell: { ...BASE_CELL, id: scenario },
      role: routed ? 'initiator' : 'responder',
      dir: join(dir, 'ikeway'),
      name: CONN,
      local: { address: WAN_A, id: IKEWAY_ID, subnets: routed ? ['0.0.0.0/0', '::/0'] : [LAN_A] },
      remote: { address: WAN_B, id: PEER_ID, subnets: routed ? ['0.0.0.0/0', '::/0'] : [LAN_B] },
      psk,
      extra: {
        interface: {
          name: 'ipsec-sw',
          'if-id': IFID_IKEWAY,
          addresses: ['169.254.30.1/30'],
          routes: { subnets: [LAN_B], metric: 10 },
        },
      },
    });
    ikw = await IkewayDaemon.start(ra, bin, config, CONN, 360_000);
    log('daemons ready');
    if (!routed) await charon.initiate('rb', CONN, 90_000);
    let children = await ikw.installedChildren();
    for (let i = 0; i < 600 && children.length === 0; i++) {
      await sleep(200);
      children = await ikw.installedChildren();
    }
    const c = children[0];
    if (!c) throw new Error('no Child SA installed on ikeway within 120 s');
    log(`child up: in ${c.spiIn} out ${c.spiOut}`);
    res.child = { spiIn: norm(c.spiIn), spiOut: norm(c.spiOut), localTs: c.localTs, remoteTs: c.remoteTs };
    const swan = (await charon.listSas()).flatMap((s) => s.children);
    res.swanChild = swan.map((ch) => ({
      state: ch.fields.state,
      spiIn: norm(ch.fields['spi-in'] ?? ''),
      spiOut: norm(ch.fields['spi-out'] ?? ''),
      ifIdIn: ch.fields['if-id-in'],
      ifIdOut: ch.fields['if-id-out'],
      localTs: ch.localTs,
      remoteTs: ch.remoteTs,
    }));
    // ikeway's route into its interface, installed once the child is up.
    for (let i = 0; i < 300 && !/dev ipsec-sw/.test(ra.ip('route', 'show', LAN_B)); i++) await sleep(200);
    res.routeA = ra.ip('route', 'show', LAN_B).trim();
    res.routeB = rb.ip('route', 'show', LAN_A).trim();
    res.ifIdA = withIfId(ra, IFID_IKEWAY);
    res.ifIdB = routed ? withIfId(rb, IFID_SWAN) : undefined;
    // Traffic from each side, counted by both kernels' SAs (ikeway's out SA is charon's in SA).
    const read = () => ({
      aOut: saPackets(ra, c.spiOut),
      aIn: saPackets(ra, c.spiIn),
      bIn: saPackets(rb, c.spiOut),
      bOut: saPackets(rb, c.spiIn),
      ifA: ifPackets(ra, 'ipsec-sw'),
      ifB: routed ? ifPackets(rb, 'swan0') : undefined,
    });
    const before = read();
    res.pingAB = ping(lab.a.host!, hostA, hostB, 5);
    res.pingBA = ping(lab.b.host!, hostB, hostA, 5);
    res.counters = { before, after: read() };
    log(`traffic: ${JSON.stringify(res.pingAB)} ${JSON.stringify(res.pingBA)}`);
  } catch (e) {
    res.error = String((e as Error).stack ?? e);
    res.ikewayLog = (ikw?.lines ?? [])
      .filter((l) => /warn|error|refus|unaccept|child|iface/i.test(l))
      .slice(-25);
    res.charonLog = (charon?.logText() ?? '')
      .split('\n')
      .filter((l) => /CHILD|TS|error|fail|unaccept|narrow|if_id|interface/i.test(l))
      .slice(-25);
  } finally {
    res.seconds = Math.round((Date.now() - t0) / 100) / 10;
    await ikw?.stop().catch(() => undefined);
    await charon?.stop({ graceMs: 5_000 }).catch(() => undefined);
    lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const bin = await bundledCli();
  // The labs are independent (own namespaces, own daemons): side by side.
  await Promise.all(
    (['swan-route', 'swan-policy'] as const).map(async (s) => {
      const r = await runSwan(s, bin);
      process.stdout.write(`IKW-RB-SWAN-RESULT ${JSON.stringify(r)}\n`);
    }),
  );
  process.exit(0);
}
