// What a cell proves at each stage. Up: ikeway's status and the peer's own status name the same
// IKE SPIs and, crosswise, the same ESP SPIs (RFC 7296 §3.3.1: my inbound SPI is what the peer
// sends with). Traffic: pings both ways between the sites, then the packet counters of exactly those
// SAs, in both directions, in BOTH kernels (ip -s xfrm state), in ikeway's status and the peer's.
import { ping, readSaCounters } from '../two-site/checks.ts';
import type { Lab } from '../two-site/lab.ts';
import { peerAsSeenBy, siteOf } from '../two-site/topology.ts';
import { sleep, type IkewayDaemon } from './ikeway-side.ts';
import type { CellSpec, PeerDriver, PeerSa } from './types.ts';

/** The tunnel as ikeway sees it, SPIs as lower-case hex without 0x (ESP: 8 digits). */
export interface UpState {
  readonly ikeSpiI: string;
  readonly ikeSpiR: string;
  readonly spiIn: string;
  readonly spiOut: string;
}

const norm = (s: string) => s.replace(/^0x/, '').toLowerCase();

/** ikeway's newest installed Child SA and its IKE SA, if the peer reports the same SAs. */
async function agreed(ikw: IkewayDaemon, peerSa: PeerSa | undefined): Promise<UpState | undefined> {
  if (!peerSa) return undefined;
  for (const sa of (await ikw.ikeSas()).reverse()) {
    if (norm(sa.spiI) !== norm(peerSa.ikeSpiI) || norm(sa.spiR) !== norm(peerSa.ikeSpiR)) continue;
    for (const c of [...sa.children].reverse()) {
      if (c.state !== 'installed') continue;
      const [spiIn, spiOut] = [norm(c.spiIn), norm(c.spiOut)];
      if (peerSa.children.some((p) => norm(p.spiIn) === spiOut && norm(p.spiOut) === spiIn))
        return { ikeSpiI: norm(sa.spiI), ikeSpiR: norm(sa.spiR), spiIn, spiOut };
    }
  }
  return undefined;
}

/** Polls both sides until they agree on an up tunnel (and `want` holds), or throws after `ms`. */
export async function waitUp(
  ikw: IkewayDaemon,
  peer: PeerDriver,
  ms: number,
  want: (u: UpState) => boolean = () => true,
): Promise<UpState> {
  const deadline = Date.now() + ms;
  let last = '';
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    const p = await peer.status().catch((e: unknown) => {
      last = `peer status: ${String(e)}`;
      return undefined;
    });
    const u = await agreed(ikw, p);
    if (u && want(u)) return u;
    last = `ikeway ${JSON.stringify((await ikw.ikeSas()).map((s) => ({ i: s.spiI, r: s.spiR, c: s.children.map((c) => [c.state, c.spiIn, c.spiOut]) })))}; ${peer.kind} ${JSON.stringify(p)}`;
    await sleep(300);
  }
  throw new Error(`no agreed tunnel within ${ms} ms: ${last}`);
}

/** Sends pings both ways and checks every counter of the SAs in `up`; returns a summary. */
export async function traffic(
  l: Lab,
  cell: CellSpec,
  ikw: IkewayDaemon,
  peer: PeerDriver,
  up: UpState,
): Promise<string> {
  const t = l.topology;
  const [a, b] = [siteOf(t, 'a'), siteOf(t, 'b')];
  const plan =
    cell.mode === 'transport'
      ? [
          { ns: l.a.router, src: a.wan, dst: peerAsSeenBy(t, 'a'), what: 'a->b' },
          { ns: l.b.router, src: b.wan, dst: peerAsSeenBy(t, 'b'), what: 'b->a' },
        ]
      : [
          { ns: l.a.host!, src: a.lans[0]!.host, dst: b.lans[0]!.host, what: 'a->b' },
          { ns: l.b.host!, src: b.lans[0]!.host, dst: a.lans[0]!.host, what: 'b->a' },
        ];
  const problems: string[] = [];
  const shown: string[] = [];
  for (const p of plan) {
    const r = ping(p.ns, p.src, p.dst, 3);
    shown.push(`ping ${p.what} ${r.received}/${r.sent}`);
    if (r.received === 0) problems.push(`ping ${p.src} -> ${p.dst}: no reply`);
  }
  // Both kernels: router-a receives on spiIn and sends on spiOut; router-b the other way round.
  for (const [site, spis] of [
    ['a', [up.spiIn, up.spiOut]],
    ['b', [up.spiOut, up.spiIn]],
  ] as const) {
    const states = readSaCounters(l.site(site).router);
    for (const spi of spis) {
      const s = states.find((x) => norm(x.spi) === spi);
      if (!s) problems.push(`router-${site}: no kernel SA with SPI 0x${spi}`);
      else if (s.packets === 0) problems.push(`router-${site}: kernel SA 0x${spi} counted 0 packets`);
      else shown.push(`router-${site} 0x${spi} ${s.packets} pkts${s.udpEncap ? ' (udp-encap)' : ''}`);
      if (cell.nat && s && !s.udpEncap)
        problems.push(`router-${site}: SA 0x${spi} not UDP-encapsulated behind NAT`);
    }
  }
  const mine = (await ikw.installedChildren()).find((c) => norm(c.spiIn) === up.spiIn);
  if (!mine || !(mine.packetsIn! > 0 && mine.packetsOut! > 0))
    problems.push(
      `ikeway status: Child SA ${up.spiIn} packets in/out ${mine?.packetsIn}/${mine?.packetsOut}`,
    );
  else shown.push(`ikeway status ${mine.packetsIn}/${mine.packetsOut} pkts in/out`);
  const theirs = (await peer.status())?.children.find((c) => norm(c.spiIn) === up.spiOut);
  if (!theirs || !(theirs.packetsIn! > 0 && theirs.packetsOut! > 0))
    problems.push(
      `${peer.kind} status: Child SA ${up.spiOut} packets in/out ${theirs?.packetsIn}/${theirs?.packetsOut}`,
    );
  else shown.push(`${peer.kind} status ${theirs.packetsIn}/${theirs.packetsOut} pkts in/out`);
  if (problems.length) throw new Error(`${problems.join('; ')} (${shown.join(', ')})`);
  return shown.join(', ');
}
