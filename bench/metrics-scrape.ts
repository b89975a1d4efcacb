// Cost of one /metrics scrape for N tunnels (default 10,000), the way the daemon builds it
// (src/daemon/ops.ts): N real tunnels between two in-memory engines (router A has N connections, each
// with one established IKE SA and one installed Child SA, negotiated over the memory network), the
// status snapshot of A built by buildStatus without per-SA kernel queries, ONE SA dump of A's
// in-memory kernel (2N ESP SAs), and the Metrics page rendered by prom-client. What is not in the
// figure: the real netlink dump (bench/xfrm-install.ts measures netlink), and the HTTP write.
// CPU time is reported next to wall time: on a shared machine the wall time also counts waiting.
// Run: node --import tsx bench/metrics-scrape.ts [N] [rounds]
import { Counters } from '../src/base/counters.ts';
import { FakeClock } from '../src/base/clock.ts';
import { MemoryLogger } from '../src/base/logger.ts';
import { TimerQueue } from '../src/base/timers.ts';
import { IdType } from '../src/codec/index.ts';
import type { Connection } from '../src/config/index.ts';
import { ConnEvents } from '../src/daemon/conn-events.ts';
import { Metrics } from '../src/daemon/metrics.ts';
import { buildStatus } from '../src/daemon/status.ts';
import type { IkeConnection } from '../src/ike/config.ts';
import { Engine } from '../src/ike/engine.ts';
import { parseProposals } from '../src/ike/proposal-string.ts';
import { tsFromCidr } from '../src/ike/traffic-selectors.ts';
import { FakeKernel } from '../src/kernel/fake.ts';
import { MemoryNetwork } from '../src/net/memory.ts';

const PSK = new TextEncoder().encode('a shared secret for the metrics bench');
const fqdn = (s: string) => ({ type: IdType.FQDN, data: new TextEncoder().encode(s) });
const addrOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}`;
const B = '192.0.2.2';

/** N tunnels: A's connection t<i> from its own address to B; B takes any peer (one connection). */
export async function memoryTunnels(n: number) {
  const clock = new FakeClock(0);
  const timers = new TimerQueue(clock);
  const net = new MemoryNetwork(timers);
  const ike = parseProposals('aes256gcm16-prfsha256-x25519', 'ike');
  const esp = parseProposals('aes256gcm16', 'esp');
  const connsA: IkeConnection[] = [];
  for (let i = 0; i < n; i++)
    connsA.push({
      name: `t${i}`,
      localAddr: addrOf(i),
      remoteAddr: B,
      localId: fqdn(`t${i}.a.example`),
      remoteId: fqdn('b.example'),
      auth: { kind: 'psk', psk: PSK },
      ikeProposals: ike,
      espProposals: esp,
      localTs: [tsFromCidr(`172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}/32`)],
      remoteTs: [tsFromCidr('198.51.100.0/24')],
      mode: 'tunnel',
    });
  const connB: IkeConnection = {
    name: 'hub',
    localAddr: B,
    localId: fqdn('b.example'),
    auth: { kind: 'psk', psk: PSK },
    ikeProposals: ike,
    espProposals: esp,
    localTs: [tsFromCidr('198.51.100.0/24')],
    remoteTs: [tsFromCidr('172.16.0.0/12')],
    mode: 'tunnel',
  };
  const kernelA = new FakeKernel({ recordCalls: false, validate: false });
  const mk = (conns: IkeConnection[], addrs: string[], kernel: FakeKernel) => {
    const counters = new Counters();
    return new Engine({
      transport: net.createTransport({ addresses: addrs, counters }),
      kernel,
      timers,
      connections: conns,
      counters,
      logger: new MemoryLogger(),
      options: { cookieThreshold: 1_000_000, halfOpenLimit: 1_000_000 },
    });
  };
  const a = mk(
    connsA,
    connsA.map((c) => c.localAddr),
    kernelA,
  );
  const b = mk([connB], [B], new FakeKernel({ recordCalls: false, validate: false }));
  const settle = async () => {
    for (let j = 0; j < 100; j++) {
      clock.advance(0);
      await a.idle();
      await b.idle();
      await new Promise<void>((r) => setImmediate(r));
      if (clock.alarmAt === undefined || clock.alarmAt > clock.now()) break;
    }
  };
  for (let i = 0; i < n; i += 50) {
    for (let k = i; k < Math.min(n, i + 50); k++) a.initiate(`t${k}`);
    await settle();
  }
  const connections = connsA.map(
    (c) =>
      ({
        name: c.name,
        localAddress: { address: c.localAddr },
        remote: { address: B },
        mode: 'tunnel',
        start: 'now',
        localSubnets: [{ text: c.localTs[0] ? '172.16.0.0/32' : '' }],
        remoteSubnets: [{ text: '198.51.100.0/24' }],
        ikeProposals: ['aes256gcm16-prfsha256-x25519'],
        espProposals: ['aes256gcm16'],
      }) as unknown as Connection,
  );
  return { a, b, kernelA, connections, timers };
}

async function main() {
  const n = Number(process.argv[2] ?? 10_000);
  const rounds = Number(process.argv[3] ?? 5);
  const t0 = performance.now();
  const { a, kernelA, connections, timers } = await memoryTunnels(n);
  const up = a.sas().filter((s) => s.state === 'established').length;
  console.log(`${up}/${n} tunnels up in ${((performance.now() - t0) / 1000).toFixed(1)} s (memory network)`);
  const snapshot = () =>
    buildStatus({
      daemon: {
        version: 'bench',
        pid: process.pid,
        uptimeSeconds: 1,
        config: 'bench',
        kernel: 'memory',
        socket: 'bench',
        ports: { ike: 500, natT: 4500 },
      },
      engine: a,
      kernel: kernelA,
      connections,
      failClosed: (name) => a.spd.failClosedCount(name),
      times: { ike: new WeakMap(), child: new WeakMap() },
      now: timers.now(),
      kernelCounters: false,
    });
  const events = new ConnEvents();
  const m = new Metrics({
    snapshot,
    kernelSas: () => kernelA.dumpSas(),
    events,
    halfOpen: () => a.halfOpenCount,
    cookieThreshold: () => 30,
    certificateExpiry: () => undefined,
    debugKeys: false,
  });
  const times: number[] = [];
  const cpu: number[] = [];
  const parts = { snapshot: [] as number[], dump: [] as number[] };
  let bytes = 0;
  let lines = 0;
  for (let r = 0; r < rounds; r++) {
    let s = performance.now();
    await snapshot();
    parts.snapshot.push(performance.now() - s);
    s = performance.now();
    await kernelA.dumpSas();
    parts.dump.push(performance.now() - s);
    s = performance.now();
    const c0 = process.cpuUsage();
    const text = await m.scrape();
    times.push(performance.now() - s);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    bytes = Buffer.byteLength(text);
    lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  }
  const med = (l: number[]) => [...l].sort((x, y) => x - y)[Math.floor(l.length / 2)]!;
  const series = lines;
  console.log(
    `metrics scrape, ${n} tunnels: median ${med(times).toFixed(0)} ms wall, ${med(cpu).toFixed(0)} ms CPU (first ${times[0]!.toFixed(0)}, max ` +
      `${Math.max(...times).toFixed(0)}, ${rounds} rounds); ${series} series, ${(bytes / 1e6).toFixed(2)} MB; ` +
      `of which status snapshot ${med(parts.snapshot).toFixed(0)} ms and in-memory SA dump ` +
      `${med(parts.dump).toFixed(0)} ms; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
