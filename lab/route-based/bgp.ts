// BGP failover over two route-based tunnels, in an ESP kernel (run by test/daemon/route-based.test.ts;
// examples/route-based-bgp/ is what it brings up, copied to a temp dir with lab state paths added).
//
//   ha 10.1.0.2 ── ra ══ link1 (192.0.2.0/24) ════ rb ── hb 10.2.0.2
//                  203.0.113.1 ══ link2 (198.51.100.0/24) ══
//
// Router A has one IKE address (203.0.113.1 on lo) reached over both links; router B has a tunnel
// endpoint on each link (192.0.2.2, 198.51.100.2), each served by its own ikeway daemon, since a
// daemon binds one local address today (B's replies from 198.51.100.2 leave by link2 through a
// source rule). ikeway makes the XFRM interfaces wan1/wan2; FRR bgpd+zebra on both routers peer over
// their /30s and announce the LANs, wan1 preferred. A steady ping crosses; link1 is cut (nftables
// drops everything on A's link1 end); BGP moves the traffic to wan2; link1 comes back, ikeway
// re-establishes the tunnel, BGP moves the traffic back. Prints `IKW-RB-BGP-RESULT <json>` (figures
// only; no keys: xfrm state lines with keys are never kept).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Netns, linkVeth } from '../netns/netns.ts';
import { ping, readSaCounters } from '../two-site/checks.ts';
import { bundledCli } from '../guest/bundle.ts';
import { Frr } from './frr.ts';
import { startPing, type SteadyPing } from './steady-ping.ts';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'route-based-bgp');
const out: Record<string, unknown> = {};
const log = (m: string) => process.stderr.write(`[rb-bgp] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'ikw-rbbgp-'));
const nss: Netns[] = [];
const frrs: Frr[] = [];
const daemons = new Map<string, { child: ChildProcess; log: string[] }>();
const B1 = '192.0.2.2';
const B2 = '198.51.100.2';

/** The example's file with this run's state-dir and control socket (all else as shipped). */
function exampleConfig(file: string, me: string): string {
  const text = readFileSync(join(EXAMPLE, file), 'utf8');
  const f = join(dir, file);
  writeFileSync(
    f,
    `${text}\n# added by the lab\nstate-dir: ${join(dir, `state-${me}`)}\n` +
      `control-socket: ${join(dir, `ctl-${me}`, 'ikeway.sock')}\n`,
  );
  return f;
}

async function startDaemon(ns: Netns, me: string, file: string, bin: string): Promise<void> {
  const child = ns.spawn(
    process.execPath,
    [bin, 'daemon', '-c', exampleConfig(file, me), '--log-format', 'text'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const d = { child, log: [] as string[] };
  daemons.set(me, d);
  const onData = (b: Buffer) => d.log.push(...b.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // Generous: a TCG guest on a loaded machine starts node slowly.
  for (let i = 0; i < 1500 && !d.log.some((l) => /\bready\b/.test(l)); i++) {
    if (child.exitCode !== null) throw new Error(`daemon ${me} exited: ${d.log.slice(-5).join(' | ')}`);
    await sleep(200);
  }
  if (!d.log.some((l) => /\bready\b/.test(l)))
    throw new Error(`daemon ${me} not ready after 300 s: ${d.log.slice(-8).join(' | ')}`);
}

const stopDaemon = async (me: string): Promise<void> => {
  const d = daemons.get(me);
  if (!d || d.child.exitCode !== null) return;
  const done = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGTERM');
  await Promise.race([done, sleep(15_000)]);
};

/** Polls `f` every 100 ms for at most `ms`; the time it took, or -1. */
async function within(what: string, ms: number, f: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (f()) return Date.now() - t0;
    await sleep(100);
  }
  log(`timed out after ${ms} ms waiting for ${what}`);
  return -1;
}

const lanRouteDev = (ns: Netns, dst: string) => /dev (\S+)/.exec(ns.ip('route', 'show', dst))?.[1] ?? '';
/** SPIs and packet counters of the SAs with router B's endpoint `peer` (as seen on router A). */
const sasWith = (ra: Netns, peer: string) =>
  readSaCounters(ra)
    .filter((s) => s.src === peer || s.dst === peer)
    .map((s) => ({ dir: s.dst === peer ? 'out' : 'in', spi: s.spi, packets: s.packets }));
const packetsOut = (ra: Netns, peer: string) =>
  sasWith(ra, peer)
    .filter((s) => s.dir === 'out')
    .reduce((n, s) => n + s.packets, 0);

try {
  const bin = await bundledCli();
  const [ra, rb, ha, hb] = ['bga', 'bgb', 'bgha', 'bghb'].map((t) => Netns.create(t)) as [
    Netns,
    Netns,
    Netns,
    Netns,
  ];
  nss.push(ra, rb, ha, hb);
  const [link1A] = linkVeth(ra, '192.0.2.1/24', rb, '192.0.2.2/24');
  const [, link2B] = linkVeth(ra, '198.51.100.1/24', rb, '198.51.100.2/24');
  linkVeth(ha, '10.1.0.2/24', ra, '10.1.0.1/24');
  linkVeth(hb, '10.2.0.2/24', rb, '10.2.0.1/24');
  ha.ip('route', 'add', 'default', 'via', '10.1.0.1');
  hb.ip('route', 'add', 'default', 'via', '10.2.0.1');
  for (const r of [ra, rb])
    r.exec(
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
    );
  ra.ip('addr', 'add', '203.0.113.1/32', 'dev', 'lo');
  rb.ip('route', 'add', '203.0.113.1/32', 'via', '192.0.2.1');
  rb.ip('rule', 'add', 'from', B2, 'lookup', '102', 'pref', '100');
  rb.ip('route', 'add', '203.0.113.1/32', 'via', '198.51.100.1', 'dev', link2B, 'table', '102');

  // The example's secrets: one PSK per tunnel, mode 600, random per run.
  mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
  for (const n of ['wan1', 'wan2']) {
    const f = join(dir, 'secrets', `${n}.psk`);
    writeFileSync(f, `LAB-ONLY-${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    chmodSync(f, 0o600);
  }
  const tUp = Date.now();
  await Promise.all([
    startDaemon(ra, 'a', 'router-a.yaml', bin),
    startDaemon(rb, 'b1', 'router-b-wan1.yaml', bin),
    startDaemon(rb, 'b2', 'router-b-wan2.yaml', bin),
  ]);
  frrs.push(await Frr.start(ra, join(dir, 'frr-a'), join(EXAMPLE, 'frr-a.conf')));
  frrs.push(await Frr.start(rb, join(dir, 'frr-b'), join(EXAMPLE, 'frr-b.conf')));
  const [fa, fb] = frrs as [Frr, Frr];
  const established = (f: Frr, peer: string) => f.peers().get(peer)?.state === 'Established';
  out.bgpUpMs = await within(
    'both BGP sessions on A and B',
    120_000,
    () =>
      ['169.254.10.2', '169.254.20.2'].every((p) => established(fa, p)) &&
      ['169.254.10.1', '169.254.20.1'].every((p) => established(fb, p)),
  );
  out.startToBgpMs = Date.now() - tUp;
  await within('LAN B route via wan1 on A', 30_000, () => lanRouteDev(ra, '10.2.0.0/24') === 'wan1');
  await within('LAN A route via wan1 on B', 30_000, () => lanRouteDev(rb, '10.1.0.0/24') === 'wan1');
  out.links = ['wan1', 'wan2'].map((n) =>
    ra.tryExec('ip', '-d', 'link', 'show', n).stdout.replace(/\s+/g, ' ').trim(),
  );
  out.routesA = ra.ip('route', 'show', 'proto', 'bgp').trim();
  out.routesB = rb.ip('route', 'show', 'proto', 'bgp').trim();
  out.bgpA = Object.fromEntries(fa.peers());

  // 1. LAN to LAN over wan1 (the preferred path), counted by wan1's SAs. BGP keepalives cross both
  // tunnels at the same rate, so the difference between the two tunnels' counts is the ping.
  const counted = () => {
    const [w1, w2] = [packetsOut(ra, B1), packetsOut(ra, B2)];
    const p = ping(ha, '10.1.0.2', '10.2.0.2', 20);
    return { ping: p, wan1: packetsOut(ra, B1) - w1, wan2: packetsOut(ra, B2) - w2 };
  };
  out.ping1 = counted();
  out.sasWan1Before = sasWith(ra, B1);

  // 2. Cut link1 under a steady ping: everything on A's link1 end is dropped (IKE and ESP).
  const steady: SteadyPing = startPing(ha, '10.1.0.2', '10.2.0.2', 100);
  await sleep(2000);
  const w2Before = packetsOut(ra, B2);
  // One nft transaction, so the cut takes effect at once; times are counted from its return.
  ra.exec(
    'nft',
    `add table inet ikwcut; ` +
      `add chain inet ikwcut pre { type filter hook prerouting priority -300 ; } ; ` +
      `add chain inet ikwcut post { type filter hook postrouting priority 300 ; } ; ` +
      `add rule inet ikwcut pre iifname ${link1A} drop ; ` +
      `add rule inet ikwcut post oifname ${link1A} drop`,
  );
  const cutAt = Date.now();
  out.routeMovedMs = await within(
    'LAN B route via wan2 on A',
    60_000,
    () => lanRouteDev(ra, '10.2.0.0/24') === 'wan2',
  );
  const movedB = await within(
    'LAN A route via wan2 on B',
    60_000,
    () => lanRouteDev(rb, '10.1.0.0/24') === 'wan2',
  );
  // Both counted from the cut.
  out.routeMovedBMs = movedB < 0 ? -1 : Date.now() - cutAt;
  await sleep(3000);
  out.wan2OutDeltaCut = packetsOut(ra, B2) - w2Before;
  // ikeway's liveness check (5 s / 15 s in the example) should clear the dead wan1 tunnel; whether
  // it did within 30 s is reported (-1: not), the failover does not depend on it.
  out.wan1ClearedMs = await within('wan1 SAs cleared on A', 30_000, () => sasWith(ra, B1).length === 0);

  // 3. Restore link1: ikeway re-initiates wan1, BGP comes back on it and takes the traffic back.
  const restoreAt = Date.now();
  ra.exec('nft', 'delete', 'table', 'inet', 'ikwcut');
  out.tunnelBackMs = await within('wan1 SAs back on A', 120_000, () =>
    sasWith(ra, B1).some((s) => s.dir === 'out'),
  );
  out.bgpBackMs = await within('wan1 BGP back on A', 120_000, () => established(fa, '169.254.10.2'));
  out.routeBackMs = await within(
    'LAN B route via wan1 again on A',
    60_000,
    () => lanRouteDev(ra, '10.2.0.0/24') === 'wan1',
  );
  await within('LAN A route via wan1 again on B', 60_000, () => lanRouteDev(rb, '10.1.0.0/24') === 'wan1');
  await sleep(2000);
  const pr = await steady.stop();
  out.steady = pr.summary(cutAt, restoreAt);
  out.sasWan1After = sasWith(ra, B1);
  out.ping2 = counted();
  out.logA = daemons
    .get('a')!
    .log.filter((l) => /wan1/.test(l) && /warn|error|dead|timeout|establish|deleted/i.test(l))
    .slice(-12);
} catch (e) {
  out.error = String((e as Error).stack ?? e);
  for (const f of frrs) out[`frrLog-${f.dir.slice(-5)}`] = f.logTail('bgpd');
  for (const [me, d] of daemons) out[`log-${me}`] = d.log.slice(-15);
} finally {
  for (const f of frrs) f.stop();
  for (const me of daemons.keys()) await stopDaemon(me);
  for (const n of nss) n.delete();
  rmSync(dir, { recursive: true, force: true });
}
// Exit once the line is out: a poll still running for a lab that already failed must not hold
// the (guest) run open.
process.stdout.write(`IKW-RB-BGP-RESULT ${JSON.stringify(out)}\n`, () => process.exit(0));
