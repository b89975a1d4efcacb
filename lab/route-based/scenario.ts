// Route-based tunnel proof in an ESP kernel (run by test/daemon/route-based.test.ts, in the guest
// when the host has no ESP): two routers with ikeway owning XFRM interfaces, two LAN hosts.
// 1. LAN to LAN over the interfaces (routes installed by ikeway), IPv4 and IPv6 through one Child SA
//    (0.0.0.0/0 and ::/0), SA and interface counters count it;
// 2. router A's daemon killed: interface, if_id policies and route stay, no clear ICMP on the WAN;
// 3. restart: the interface is re-claimed, the tunnel and route come back; three bad reloads (an
//    interface name taken, an if_id used twice, a missing route table) are refused, tunnel untouched;
// 4. SIGTERM: interfaces, routes and policies are gone.
// Prints `IKW-RB-RESULT <json>`; never prints keys (xfrm state lines with keys are not kept).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { linkVeth, type Netns } from '../netns/netns.ts';
import { ping, readSaCounters, WanCapture } from '../two-site/checks.ts';
import { bundledCli } from '../guest/bundle.ts';
import { RouterLab, printAndExit, sleep } from './routers.ts';

const out: Record<string, unknown> = {};
const psk = `0x${randomBytes(32).toString('hex')}`;
const lab = new RouterLab('rb');
const dir = lab.dir;

function config(me: 'a' | 'b', extra = ''): string {
  // One child with 0.0.0.0/0 and ::/0 (the default of a route-based connection): IPv4 and IPv6 LANs
  // both cross the one interface over an IPv4 outer path.
  const [wan, peer, remoteLan, remoteLan6, tun] =
    me === 'a'
      ? ['192.0.2.1', '192.0.2.2', '10.2.0.0/24', 'fd02::/64', '169.254.10.1/30']
      : ['192.0.2.2', '192.0.2.1', '10.1.0.0/24', 'fd01::/64', '169.254.10.2/30'];
  const f = join(dir, `${me}.yaml`);
  writeFileSync(
    f,
    `local: { address: ${wan} }
state-dir: ${join(dir, `state-${me}`)}
control-socket: ${join(dir, `ctl-${me}`, 'ikeway.sock')}
connections:
  to-${me === 'a' ? 'b' : 'a'}:
    remote: ${peer}
    auth: { psk: { env: RB_PSK } }
    interface:
      name: ipsec-rb
      if-id: 42
      addresses: [${tun}]
      routes: { subnets: [${remoteLan}, ${remoteLan6}], metric: 10 }
${extra}`,
  );
  return f;
}

const startDaemon = (ns: Netns, me: 'a' | 'b', bin: string) =>
  lab.startDaemon(ns, me, config(me), bin, { RB_PSK: psk });

/** Polls every 200 ms for at most `ms` (bounded, generous: a loaded TCG guest is slow). */
const waitFor = async (what: string, f: () => boolean, ms = 90_000): Promise<boolean> =>
  (await lab.poll(what, ms, f, 200)) >= 0;
const stopDaemon = (me: string, signal: NodeJS.Signals) => lab.stopDaemon(me, signal);

const routeDev = (ns: Netns, dst: string) => ns.ip('route', 'show', dst);
const policiesWithIfId = (ns: Netns) => (ns.ip('xfrm', 'policy').match(/if_id 0x2a/g) ?? []).length;
const linkDetail = (ns: Netns) => ns.tryExec('ip', '-d', 'link', 'show', 'ipsec-rb');
const linkStats = (ns: Netns) => {
  const t = ns.tryExec('ip', '-s', 'link', 'show', 'ipsec-rb').stdout;
  const m = /TX:\s+bytes\s+packets[^\n]*\n\s*(\d+)\s+(\d+)/.exec(t);
  return m ? Number(m[2]) : -1;
};

try {
  const bin = await bundledCli();
  const { ra, rb, ha, hb, lanA, lanB } = lab;
  const [wanA] = linkVeth(ra, '192.0.2.1/24', rb, '192.0.2.2/24');
  // The IPv6 LANs on the same links.
  ha.ip('addr', 'add', 'fd01::2/64', 'dev', lanA[0], 'nodad');
  ra.ip('addr', 'add', 'fd01::1/64', 'dev', lanA[1], 'nodad');
  hb.ip('addr', 'add', 'fd02::2/64', 'dev', lanB[0], 'nodad');
  rb.ip('addr', 'add', 'fd02::1/64', 'dev', lanB[1], 'nodad');
  ha.ip('-6', 'route', 'add', 'default', 'via', 'fd01::1');
  hb.ip('-6', 'route', 'add', 'default', 'via', 'fd02::1');

  await Promise.all([startDaemon(ra, 'a', bin), startDaemon(rb, 'b', bin)]);
  out.routeUp = await waitFor('route into ipsec-rb on a', () =>
    /dev ipsec-rb/.test(routeDev(ra, '10.2.0.0/24')),
  );
  await waitFor('route on b', () => /dev ipsec-rb/.test(routeDev(rb, '10.1.0.0/24')));
  out.link = linkDetail(ra).stdout.replace(/\s+/g, ' ').trim();
  out.routeA = routeDev(ra, '10.2.0.0/24').trim();
  let cap = await WanCapture.start(ra, wanA);
  out.ping1 = ping(ha, '10.1.0.2', '10.2.0.2', 5);
  // `ip route show` lists IPv4 routes unless told -6.
  out.routeA6 = ra.ip('-6', 'route', 'show', 'fd02::/64').trim();
  out.ping6 = ping(ha, 'fd01::2', 'fd02::2', 5);
  out.policies6 = ra
    .ip('xfrm', 'policy')
    .split(/\n(?=src )/)
    .filter((b) => b.startsWith('src ::/0 dst ::/0') && /if_id 0x2a/.test(b)).length;
  out.pingTunnelAddr = ping(ra, '169.254.10.1', '169.254.10.2', 2);
  out.capture1 = await cap.stop(['10.1.0.2', '10.2.0.2', '169.254.10.1', '169.254.10.2']);
  out.sas1 = readSaCounters(ra).map((s) => ({ src: s.src, dst: s.dst, packets: s.packets }));
  out.ifTxPackets1 = linkStats(ra);
  out.status = ra.tryExec(
    process.execPath,
    bin,
    'status',
    '--socket',
    join(dir, 'ctl-a', 'ikeway.sock'),
  ).stdout;

  // Killed outright: everything stays; nothing leaves in clear.
  await stopDaemon('a', 'SIGKILL');
  out.afterKill = {
    link: linkDetail(ra).status === 0,
    policies: policiesWithIfId(ra),
    route: routeDev(ra, '10.2.0.0/24').trim(),
  };
  cap = await WanCapture.start(ra, wanA);
  out.pingAfterKill = ping(ha, '10.1.0.2', '10.2.0.2', 3);
  out.captureAfterKill = await cap.stop(['10.1.0.2', '10.2.0.2']);

  // Restart: re-claims the interface, the tunnel comes back.
  await startDaemon(ra, 'a', bin);
  out.reclaimed = lab.daemons.get('a')!.log.some((l) => /interface re-claimed/.test(l));
  await waitFor('route back on a', () => /dev ipsec-rb/.test(routeDev(ra, '10.2.0.0/24')));
  await sleep(1000);
  out.ping2 = ping(ha, '10.1.0.2', '10.2.0.2', 5);

  // Bad reloads (SIGHUP) while the tunnel runs: each refused with its precise error, no interface
  // made, the running tunnel keeps its SAs (same SPIs) and carries traffic.
  const extra = (iface: string) =>
    `  extra:\n    remote: 192.0.2.9\n    auth: { psk: { env: RB_PSK } }\n    start: wait\n    interface:\n${iface}`;
  const bad: [string, string][] = [
    ['nameTaken', extra(`      name: ${wanA}\n      if-id: 43\n`)],
    ['ifIdTwice', extra('      name: ipsec-x\n      if-id: 42\n')],
    ['noTable', extra('      name: ipsec-x\n      if-id: 43\n      routes: { table: no-such-table }\n')],
  ];
  const spis = () =>
    readSaCounters(ra)
      .map((s) => s.spi)
      .sort()
      .join(',');
  const spisBefore = spis();
  const badReloads: Record<string, unknown> = {};
  for (const [label, text] of bad) {
    config('a', text);
    const d = lab.daemons.get('a')!;
    const mark = d.log.length;
    d.child.kill('SIGHUP');
    await waitFor(
      `reload rejected (${label})`,
      () => d.log.slice(mark).some((l) => /reload rejected/.test(l)),
      60_000,
    );
    badReloads[label] = {
      errors: d.log
        .slice(mark)
        .filter((l) => /error/.test(l))
        .map((l) => l.replace(/^\S+\s+/, '')),
      links: ra
        .ip('-o', 'link', 'show')
        .split('\n')
        .filter((l) => /ipsec-x|extra/.test(l)).length,
    };
  }
  config('a'); // the good file back, as a later restart would read it
  out.badReloads = badReloads;
  out.spisUnchanged = spis() === spisBefore && spisBefore !== '';
  out.pingAfterBadReloads = ping(ha, '10.1.0.2', '10.2.0.2', 3);

  // Clean stop: nothing of ours is left.
  await stopDaemon('a', 'SIGTERM');
  out.afterStop = {
    link: linkDetail(ra).status === 0,
    policies: policiesWithIfId(ra),
    route: routeDev(ra, '10.2.0.0/24').trim(),
  };
  out.logA = lab.daemons
    .get('a')!
    .log.filter((l) => /iface|error|warn/.test(l))
    .slice(-20);
} catch (e) {
  out.error = String((e as Error).stack ?? e);
} finally {
  await lab.close();
}
printAndExit('IKW-RB-RESULT', out);
