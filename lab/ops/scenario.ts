// The operator's tools against a real ESP kernel (run by test/daemon/ops-lab.test.ts, in the guest
// when the host has none): two routers with ikeway, a management namespace running Debian's
// Prometheus that scrapes both routers' /metrics, router A with debug-keys and a WAN capture.
// explain, plan and reload are the control requests the CLI sends (a node start costs seconds under
// TCG; the CLI's rendering is tested on the host).
// 1. tunnel up: Prometheus's query API shows ikeway_connection_up 1 on both; `explain` names the SA
//    that carries a LAN flow and a ping is then counted by exactly that SA; Prometheus's per-SA
//    byte counters equal `ip -s xfrm state` of the same router.
// 2. `plan` for a file with one more connection, then `reload`: the kernel then holds the policies
//    the plan listed, and the SAs it said stay are the same SPIs.
// 3. router B's daemon killed: Prometheus shows B's target down and A's connection_up 0; `explain`
//    says the fail-closed policy of the connection drops the flow; a ping is dropped (kernel's
//    XfrmOutNoStates counts it, nothing in clear on the WAN).
// The capture and key files go to $IKW_OPS_OUT for tshark and `ikeway decode --keys` on the host.
// Router B only answers (start: wait), so there is one IKE SA and one pair of ESP SAs per router.
// Prints `IKW-OPS-RESULT <json>`; never prints keys (xfrm state lines with keys are not kept).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Netns, linkVeth } from '../netns/netns.ts';
import { ping, readSaCounters, WanCapture } from '../two-site/checks.ts';
import { bundledCli } from '../guest/bundle.ts';
import { request } from '../../src/control/client.ts';
import { ControlError, type ControlCommand } from '../../src/control/protocol.ts';

const out: Record<string, unknown> = {};
const log = (m: string) => process.stderr.write(`[ops-lab ${(performance.now() / 1000).toFixed(1)}s] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'ikw-ops-'));
const share = process.env['IKW_OPS_OUT'] ?? dir;
const psk = `0x${randomBytes(32).toString('hex')}`;
const nss: Netns[] = [];
const procs = new Map<string, { child: ChildProcess; log: string[] }>();
const MGMT = { a: '198.51.100.1', b: '198.51.100.5' } as const;
const sock = (me: string) => join(dir, `ctl-${me}`, 'ikeway.sock');
const cfgPath = (me: string) => join(dir, `${me}.yaml`);

function config(me: 'a' | 'b', extra = ''): string {
  const [wan, peer, lan, remoteLan] =
    me === 'a'
      ? ['192.0.2.1', '192.0.2.2', '10.1.0.0/24', '10.2.0.0/24']
      : ['192.0.2.2', '192.0.2.1', '10.2.0.0/24', '10.1.0.0/24'];
  return `local: { address: ${wan} }
state-dir: ${join(dir, `state-${me}`)}
control-socket: ${sock(me)}
metrics: { address: ${MGMT[me]}, port: 9814 }
retransmit: { timeout: 1s, tries: 2 }
${me === 'a' ? `debug-keys: ${join(dir, 'keys')}\n` : ''}connections:
  site:
    remote: ${peer}
    start: ${me === 'a' ? 'now' : 'wait'}
    auth: { psk: { env: OPS_PSK } }
    local-subnets: [${lan}]
    remote-subnets: [${remoteLan}]
    liveness: { interval: 2s, timeout: 6s }
${extra}`;
}

function spawnLogged(name: string, ns: Netns, cmd: string, args: string[], env = process.env) {
  const child = ns.spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, log: [] as string[] };
  procs.set(name, p);
  const keep = (b: Buffer) => {
    p.log.push(...b.toString().split('\n').filter(Boolean));
    if (p.log.length > 400) p.log.splice(0, 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return p;
}

async function waitFor<T>(what: string, f: () => T | Promise<T>, tries = 150, ms = 300): Promise<T> {
  let v: T | undefined;
  for (let i = 0; i < tries; i++) {
    v = await f();
    if (v) return v;
    await sleep(ms);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const stop = async (name: string, signal: NodeJS.Signals): Promise<void> => {
  const p = procs.get(name);
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill(signal);
  await Promise.race([done, sleep(15_000)]);
};

/** One instant query against Prometheus's HTTP API: [{metric labels, value}]. */
function promQuery(mon: Netns, q: string): { metric: Record<string, string>; value: number }[] {
  const r = mon.tryExec(
    'curl',
    '-sS',
    '--max-time',
    '5',
    '-G',
    'http://127.0.0.1:9090/api/v1/query',
    '--data-urlencode',
    `query=${q}`,
  );
  if (r.status !== 0) return [];
  const j = JSON.parse(r.stdout) as {
    status: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return j.status === 'success'
    ? j.data!.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }))
    : [];
}

/** A control request to router `me`'s daemon (what the CLI sends; no node start per call under TCG). */
async function ctl(me: 'a' | 'b', cmd: ControlCommand, args?: Record<string, unknown>) {
  try {
    return { ok: true, result: await request(sock(me), cmd, args, { timeoutMs: 30_000 }) };
  } catch (e) {
    return { ok: false, error: e instanceof ControlError ? e.toBody() : String(e) };
  }
}
const noStates = (ns: Netns) =>
  Number(/XfrmOutNoStates\s+(\d+)/.exec(ns.exec('cat', '/proc/net/xfrm_stat'))?.[1] ?? -1);

try {
  mkdirSync(share, { recursive: true });
  const bin = await bundledCli();
  log('bundle ready');
  const [ra, rb, ha, hb, mon] = ['opa', 'opb', 'opha', 'ophb', 'opmon'].map((t) => Netns.create(t)) as [
    Netns,
    Netns,
    Netns,
    Netns,
    Netns,
  ];
  nss.push(ra, rb, ha, hb, mon);
  const [wanA] = linkVeth(ra, '192.0.2.1/24', rb, '192.0.2.2/24');
  linkVeth(ha, '10.1.0.2/24', ra, '10.1.0.1/24');
  linkVeth(hb, '10.2.0.2/24', rb, '10.2.0.1/24');
  linkVeth(ra, `${MGMT.a}/30`, mon, '198.51.100.2/30');
  linkVeth(rb, `${MGMT.b}/30`, mon, '198.51.100.6/30');
  ha.ip('route', 'add', 'default', 'via', '10.1.0.1');
  hb.ip('route', 'add', 'default', 'via', '10.2.0.1');
  // Each router reaches the other site through the WAN: the route lookup comes before the XFRM policy.
  ra.ip('route', 'add', 'default', 'via', '192.0.2.2');
  rb.ip('route', 'add', 'default', 'via', '192.0.2.1');
  for (const r of [ra, rb]) r.exec('sysctl', '-qw', 'net.ipv4.ip_forward=1');

  // Prometheus (Debian's package) in the management namespace, scraping both routers every second.
  const prom = join(dir, 'prometheus.yml');
  writeFileSync(
    prom,
    `global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }
scrape_configs:
  - job_name: ikeway
    static_configs: [{ targets: ['${MGMT.a}:9814', '${MGMT.b}:9814'] }]
`,
  );
  spawnLogged('prometheus', mon, 'prometheus', [
    `--config.file=${prom}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    '--web.listen-address=127.0.0.1:9090',
    '--log.level=warn',
  ]);
  out.prometheusVersion = spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];

  // The WAN capture of what router A sends (IKE and ESP; -Q out: no re-injected inner packets).
  const pcap = join(dir, 'wan.pcap');
  const cap = spawnLogged('tcpdump', ra, 'tcpdump', [
    '-i',
    wanA,
    '-nn',
    '-U',
    '-Q',
    'out',
    '-Z',
    'root',
    '-w',
    pcap,
  ]);
  await waitFor('tcpdump', () => cap.log.some((l) => l.includes('listening on')), 50, 200);
  log('tcpdump listening');

  // Both at once (B only answers; A retries if its first IKE_SA_INIT finds B not yet listening).
  await Promise.all(
    (['b', 'a'] as const).map((me) => {
      writeFileSync(cfgPath(me), config(me));
      const d = spawnLogged(me, me === 'a' ? ra : rb, process.execPath, [bin, 'daemon', '-c', cfgPath(me)], {
        ...process.env,
        OPS_PSK: psk,
      });
      return waitFor(
        `daemon ${me} ready`,
        () => {
          if (d.child.exitCode !== null)
            throw new Error(`daemon ${me} exited: ${d.log.slice(-5).join(' | ')}`);
          return d.log.some((l) => /\bready\b/.test(l));
        },
        400,
      );
    }),
  );
  log('daemons ready');
  await waitFor(
    'ESP SAs on both routers',
    () => readSaCounters(ra).length >= 2 && readSaCounters(rb).length >= 2,
  );
  await waitFor('Prometheus: both connections up', () => {
    const r = promQuery(mon, 'ikeway_connection_up{connection="site"}');
    return r.length === 2 && r.every((x) => x.value === 1);
  });
  out.promUp = promQuery(mon, 'ikeway_connection_up').map((x) => ({
    instance: x.metric.instance,
    value: x.value,
  }));
  log('prometheus sees the tunnel up');

  // explain while up, then the packet it describes.
  const ex1 = await ctl('a', 'explain', { src: '10.1.0.2', dst: '10.2.0.2', proto: 'icmp' });
  out.explainUp = ex1.ok ? ex1.result : ex1;
  const before = readSaCounters(ra);
  out.ping1 = ping(ha, '10.1.0.2', '10.2.0.2', 6);
  out.sasAfterPing1 = { before, after: readSaCounters(ra) };

  // Scrapes settle (no traffic now), then Prometheus's byte counters vs ip -s xfrm state.
  await sleep(3500);
  out.kernelA = readSaCounters(ra);
  out.kernelB = readSaCounters(rb);
  out.promBytes = promQuery(mon, 'ikeway_child_sa_bytes_total').map((x) => ({
    instance: x.metric.instance,
    spi: x.metric.spi,
    direction: x.metric.direction,
    value: x.value,
  }));
  out.promPackets = promQuery(mon, 'ikeway_child_sa_packets_total').map((x) => ({
    instance: x.metric.instance,
    spi: x.metric.spi,
    value: x.value,
  }));
  await stop('tcpdump', 'SIGINT');
  copyFileSync(pcap, join(share, 'wan.pcap'));

  // plan: one more connection; then the reload, and what the kernel holds afterwards.
  writeFileSync(
    cfgPath('a'),
    config(
      'a',
      `  extra:
    remote: 192.0.2.3
    start: on-traffic
    auth: { psk: { env: OPS_PSK } }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.3.0.0/24]
`,
    ),
  );
  const spisBefore = readSaCounters(ra)
    .map((s) => s.spi)
    .sort();
  const pl = await ctl('a', 'plan', { file: cfgPath('a') });
  out.plan = pl.ok ? pl.result : pl;
  out.policiesBeforeReload = ra.exec('ip', 'xfrm', 'policy');
  out.reload = await ctl('a', 'reload');
  out.policiesAfterReload = ra.exec('ip', 'xfrm', 'policy');
  out.spis = {
    before: spisBefore,
    after: readSaCounters(ra)
      .map((s) => s.spi)
      .sort(),
  };
  log('plan and reload done');

  // The peer killed: Prometheus sees it, explain names the fail-closed drop, the kernel drops.
  await stop('b', 'SIGKILL');
  await waitFor(
    'Prometheus: B down, A connection_up 0',
    () =>
      promQuery(mon, `up{instance="${MGMT.b}:9814"}`)[0]?.value === 0 &&
      promQuery(mon, `ikeway_connection_up{instance="${MGMT.a}:9814",connection="site"}`)[0]?.value === 0,
    200,
  );
  out.promDown = {
    up: promQuery(mon, 'up').map((x) => ({ instance: x.metric.instance, value: x.value })),
    connectionUp: promQuery(mon, 'ikeway_connection_up').map((x) => ({
      instance: x.metric.instance,
      connection: x.metric.connection,
      value: x.value,
    })),
    liveness: promQuery(mon, 'ikeway_liveness_failures_total').map((x) => x.value),
  };
  log('prometheus sees the tunnel down');
  const ex2 = await ctl('a', 'explain', { src: '10.1.0.2', dst: '10.2.0.2', proto: 'icmp' });
  out.explainDown = ex2.ok ? ex2.result : ex2;
  const ns0 = noStates(ra);
  const wcap = await WanCapture.start(ra, wanA);
  out.ping2 = ping(ha, '10.1.0.2', '10.2.0.2', 3);
  out.capture2 = await wcap.stop(['10.1.0.2', '10.2.0.2']);
  out.noStatesDelta = noStates(ra) - ns0;
  out.explainBad = await ctl('a', 'explain', { src: '10.1.0.300', dst: '10.2.0.2' });
  out.aAlive = procs.get('a')!.child.exitCode === null;
} catch (e) {
  out.error = String((e as Error).stack ?? e);
} finally {
  for (const name of ['a', 'b']) await stop(name, 'SIGTERM');
  for (const name of procs.keys()) await stop(name, 'SIGKILL');
  out.logA = procs
    .get('a')
    ?.log.filter((l) => /error|warn/.test(l))
    .slice(-15);
  if (out.error) out.logProm = procs.get('prometheus')?.log.slice(-10);
  for (const f of ['keys', 'keys.esp'])
    try {
      copyFileSync(join(dir, f), join(share, f));
    } catch {
      /* reported by the test (missing file) */
    }
  for (const n of nss) n.delete();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`IKW-OPS-RESULT ${JSON.stringify(out)}\n`);
