// What one router holds, side by side: the daemon's view (`ikeway status`) and the kernel's
// (`ip xfrm state` / `ip xfrm policy`). The failure labs compare the two: after a rekey, a crash or a
// restart, every ESP SA in the kernel must belong to a Child SA the daemon reports (no orphans), and
// every Child SA must have its pair in the kernel. Key lines of `ip xfrm state` are never kept.
import type { StatusReport } from '../../src/control/status-types.ts';
import { readSaCounters } from '../two-site/checks.ts';
import type { LabNs } from '../netns/lab-ns.ts';

export interface RouterSnapshot {
  readonly ikeSas: readonly { state: string; spiI: string; spiR: string }[];
  readonly children: readonly { state: string; spiIn: string; spiOut: string }[];
  /** ESP SPIs in the kernel, as 8 hex digits (the form `ikeway status` uses). */
  readonly kernelSpis: readonly string[];
  /** `ip xfrm policy` entries, one normalized line each, sorted. */
  readonly policies: readonly string[];
}

const spi8 = (s: string) => Number.parseInt(s, 16).toString(16).padStart(8, '0');

/** `ip xfrm policy` blocks (each begins with "src ") as single lines with whitespace collapsed. */
export function parsePolicies(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('src ')) out.push(line.trim());
    else if (line.trim() !== '' && out.length > 0) out[out.length - 1] += ` ${line.trim()}`;
  }
  return out.map((l) => l.replace(/\s+/g, ' ')).sort();
}

export function daemonView(s: StatusReport | undefined): Pick<RouterSnapshot, 'ikeSas' | 'children'> {
  const ikes = s?.connections.flatMap((c) => c.ikeSas) ?? [];
  return {
    ikeSas: ikes.map((i) => ({ state: i.state, spiI: i.spiI, spiR: i.spiR })),
    children: ikes.flatMap((i) =>
      i.children.map((c) => ({ state: c.state, spiIn: c.spiIn, spiOut: c.spiOut })),
    ),
  };
}

export function kernelView(
  ns: Pick<LabNs, 'exec' | 'tryExec' | 'spawn'>,
): Pick<RouterSnapshot, 'kernelSpis' | 'policies'> {
  return {
    kernelSpis: readSaCounters(ns)
      .map((s) => spi8(s.spi))
      .sort(),
    policies: parsePolicies(ns.exec('ip', 'xfrm', 'policy')),
  };
}

/**
 * Problems that make a router "not settled": anything but exactly one established IKE SA with one
 * installed Child SA, or a kernel SA set that differs from that Child SA's pair. Empty when settled.
 */
export function unsettled(s: RouterSnapshot): string[] {
  const p: string[] = [];
  if (s.ikeSas.length !== 1 || s.ikeSas[0]!.state !== 'established')
    p.push(`IKE SAs: ${s.ikeSas.map((i) => i.state).join(',') || 'none'}`);
  if (s.children.length !== 1 || s.children[0]!.state !== 'installed')
    p.push(`Child SAs: ${s.children.map((c) => c.state).join(',') || 'none'}`);
  const want = s.children
    .flatMap((c) => [c.spiIn, c.spiOut])
    .map(spi8)
    .sort();
  if (want.join() !== s.kernelSpis.join())
    p.push(`kernel SPIs ${s.kernelSpis.join(',') || 'none'} != status ${want.join(',') || 'none'}`);
  return p;
}
