// Cost of one /metrics scrape for N tunnels (default 10,000), measured on a SYNTHETIC status
// snapshot (N connections, each one established IKE SA with one installed Child SA) and a synthetic
// kernel SA dump (2N ESP SAs with counters): the shape the daemon hands Metrics (src/daemon/ops.ts),
// without engines or a kernel, so the figure is the metrics layer's own cost (snapshot building and
// the netlink dump are not in it). Run: node --import tsx bench/metrics-scrape.ts [N] [rounds]
import { ConnEvents } from '../src/daemon/conn-events.ts';
import { Metrics } from '../src/daemon/metrics.ts';
import type { ChildStatus, ConnectionStatus, StatusReport } from '../src/control/status-types.ts';
import type { SaInfo } from '../src/kernel/types.ts';

export function syntheticSnapshot(n: number): { report: StatusReport; sas: SaInfo[] } {
  const connections: ConnectionStatus[] = [];
  const sas: SaInfo[] = [];
  const spi = (x: number) => x.toString(16).padStart(8, '0');
  for (let i = 0; i < n; i++) {
    const remote = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const child: ChildStatus = {
      id: i + 1,
      name: `c${i}`,
      state: 'installed',
      mode: 'tunnel',
      spiIn: spi(0xc0000000 + i),
      spiOut: spi(0xd0000000 + i),
      reqid: 0x10000 + i,
      localTs: ['192.0.2.0/24'],
      remoteTs: [`198.18.${i & 255}.0/24`],
      algorithms: 'aes256gcm16',
    };
    connections.push({
      name: `t${i}`,
      local: '192.0.2.1',
      remote,
      mode: 'tunnel',
      start: 'now',
      localSubnets: ['192.0.2.0/24'],
      remoteSubnets: [`198.18.${i & 255}.0/24`],
      ikeProposals: ['aes256gcm16-prfsha256-x25519'],
      espProposals: ['aes256gcm16'],
      failClosedPolicies: 2,
      ikeSas: [
        {
          id: i + 1,
          name: `t${i}[${i + 1}]`,
          state: 'established',
          initiator: true,
          spiI: '0011223344556677',
          spiR: '8899aabbccddeeff',
          local: '192.0.2.1:500',
          remote: `${remote}:500`,
          localId: '192.0.2.1',
          nat: { local: false, remote: false },
          children: [child],
        },
      ],
    });
    for (const [s, src, dst] of [
      [0xc0000000 + i, remote, '192.0.2.1'],
      [0xd0000000 + i, '192.0.2.1', remote],
    ] as const)
      sas.push({
        src,
        dst,
        spi: s,
        proto: 'esp',
        mode: 'tunnel',
        reqid: 0x10000 + i,
        current: { bytes: BigInt(i * 1000), packets: BigInt(i), addTime: 0n, useTime: 0n },
        stats: { replayWindow: 0, replay: 0, integrityFailed: 0 },
      } as unknown as SaInfo);
  }
  const report: StatusReport = {
    daemon: {
      version: 'bench',
      pid: 1,
      uptimeSeconds: 1,
      config: 'x',
      kernel: 'memory',
      socket: 's',
      ports: { ike: 500, natT: 4500 },
    },
    connections,
    counters: { 'net.rx_packets': 5 },
  };
  return { report, sas };
}

async function main() {
  const n = Number(process.argv[2] ?? 10_000);
  const rounds = Number(process.argv[3] ?? 5);
  const { report, sas } = syntheticSnapshot(n);
  const events = new ConnEvents();
  const m = new Metrics({
    snapshot: async () => report,
    kernelSas: async () => sas,
    events,
    halfOpen: () => 0,
    cookieThreshold: () => 30,
    certificateExpiry: () => undefined,
    debugKeys: false,
  });
  const times: number[] = [];
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const text = await m.scrape();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    bytes = text.length;
  }
  const sorted = [...times].sort((a, b) => a - b);
  const series = (await m.registry.getMetricsAsJSON()).reduce((s, x) => s + x.values.length, 0);
  console.log(
    `metrics scrape, ${n} tunnels (synthetic snapshot): ${series} series, ${(bytes / 1e6).toFixed(1)} MB; ` +
      `first ${times[0]!.toFixed(0)} ms, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, ` +
      `max ${sorted.at(-1)!.toFixed(0)} ms over ${rounds} rounds; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
