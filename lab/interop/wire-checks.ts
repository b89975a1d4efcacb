// What the AH and TFC cells prove on the wire (issue 21), from a capture of what router-a (ikeway)
// sends on its WAN: AH (RFC 4302) is IP protocol 51 with the inner packet readable; TFC padding
// (RFC 4303 §2.7) makes every ESP packet of pings of different sizes the same length, while the
// peer still answers each size (it delivered the original packet: the ICMP checksum covers it
// exactly); with the peer's ESP_TFC_PADDING_NOT_SUPPORTED the lengths follow the ping sizes.
import { ping, WanCapture } from '../two-site/checks.ts';
import type { Lab } from '../two-site/lab.ts';
import { peerAsSeenBy, siteOf } from '../two-site/topology.ts';
import { sleep } from './ikeway-side.ts';
import type { CellSpec } from './types.ts';

/** Ping payload sizes of the TFC check (ICMP data octets; the IP packets are 28 octets more). */
export const TFC_SIZES = [64, 300, 600, 900, 1200] as const;

/** Where the cell's traffic runs: LAN hosts in tunnel mode, the routers in transport mode. */
function plan(l: Lab, cell: CellSpec) {
  const t = l.topology;
  const [a, b] = [siteOf(t, 'a'), siteOf(t, 'b')];
  return cell.mode === 'transport'
    ? { ns: l.a.router, src: a.wan, dst: peerAsSeenBy(t, 'a') }
    : { ns: l.a.host!, src: a.lans[0]!.host, dst: b.lans[0]!.host };
}

async function capture<T>(l: Lab, fn: () => T): Promise<{ value: T; lines: string[] }> {
  const cap = await WanCapture.start(l.a.router, 'wan', 500);
  try {
    const value = fn();
    await sleep(300); // the last replies' requests are on the wire before tcpdump stops
    return { value, lines: await cap.stopVerbose() };
  } catch (e) {
    cap.discard();
    throw e;
  }
}

/**
 * `proto NAME (N), length L` of each IP header line tcpdump -v printed, with the two lines after it
 * (tunnel mode: the inner IP header, then the inner payload).
 */
function ipPackets(lines: readonly string[]): { proto: number; length: number; next: string }[] {
  const out: { proto: number; length: number; next: string }[] = [];
  lines.forEach((line, i) => {
    const m = /proto \S+ \((\d+)\), length (\d+)/.exec(line);
    if (m)
      out.push({
        proto: Number(m[1]),
        length: Number(m[2]),
        next: `${lines[i + 1] ?? ''} ${lines[i + 2] ?? ''}`,
      });
  });
  return out;
}

/** AH: protocol 51 on the wire, and the inner ICMP readable by anyone (nothing is encrypted). */
export async function ahOnWire(l: Lab, cell: CellSpec): Promise<string> {
  const p = plan(l, cell);
  const { value: r, lines } = await capture(l, () => ping(p.ns, p.src, p.dst, 3));
  const pkts = ipPackets(lines);
  const ah = pkts.filter((x) => x.proto === 51);
  const readable = ah.filter((x) => /AH\(.*spi=.*ICMP echo (request|reply)/.test(x.next));
  const problems: string[] = [];
  if (r.received === 0) problems.push(`ping ${p.src} -> ${p.dst}: no reply`);
  if (ah.length === 0) problems.push(`no IP protocol 51 packet sent (${pkts.length} IP packets)`);
  if (pkts.some((x) => x.proto === 50)) problems.push('ESP (protocol 50) packets sent in an AH cell');
  if (readable.length === 0) problems.push('no AH packet whose inner ICMP tcpdump could read');
  const shown = `ping ${r.received}/${r.sent}; ${ah.length} AH (protocol 51) packets, ${readable.length} with cleartext inner ICMP, e.g. "${readable[0]?.next.trim().slice(0, 140) ?? ''}"`;
  if (problems.length) throw new Error(`${problems.join('; ')} (${shown})`);
  return shown;
}

/** TFC: one ESP length for every ping size (padding), or one per size (the peer refused padding). */
export async function tfcOnWire(l: Lab, cell: CellSpec): Promise<string> {
  const p = plan(l, cell);
  const { value: results, lines } = await capture(l, () =>
    TFC_SIZES.map((size) => {
      const r = p.ns.tryExec(
        'ping',
        '-n',
        '-q',
        '-c',
        '1',
        '-W',
        '3',
        '-s',
        String(size),
        '-I',
        p.src,
        p.dst,
      );
      return { size, ok: /1 (packets )?received/.test(r.stdout) };
    }),
  );
  const esp = ipPackets(lines).filter((x) => x.proto === 50);
  const lengths = [...new Set(esp.map((x) => x.length))].sort((a, b) => a - b);
  const problems: string[] = [];
  const lost = results.filter((r) => !r.ok).map((r) => r.size);
  if (lost.length) problems.push(`no reply to the pings of ${lost.join(', ')} octets: not delivered intact`);
  if (esp.length < TFC_SIZES.length) problems.push(`only ${esp.length} ESP packets sent`);
  if (!cell.peerRefusesTfc && lengths.length !== 1)
    problems.push(
      `ESP packets of ${lengths.length} lengths with tfc-padding ${cell.tfcPadding}: ${lengths.join(', ')}`,
    );
  if (cell.peerRefusesTfc && lengths.length < TFC_SIZES.length)
    problems.push(
      `ESP lengths ${lengths.join(', ')}: padded although the peer sent ESP_TFC_PADDING_NOT_SUPPORTED`,
    );
  const shown = `pings of ${TFC_SIZES.join('/')} octets all answered: ${results.every((r) => r.ok)}; ${esp.length} ESP packets sent, IP lengths ${lengths.join(', ')}`;
  if (problems.length) throw new Error(`${problems.join('; ')} (${shown})`);
  return shown;
}
