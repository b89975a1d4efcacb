// `one-sa-per-subnet-pair` as responder (RFC 7296 §2.9). A peer that proposes several subnet pairs
// in one Child SA is narrowed to the pair of one part (<child>#n); the pairs narrowed away would
// otherwise stay without an SA, since a peer that did not split has no reason to ask again. So once
// the narrowed Child SA is installed, we request the other parts its proposal covered ourselves with
// CREATE_CHILD_SA (the peer's child takes each, narrowed to that pair): every pair it asked for ends
// with an SA pair of its own.
import type { ChildSa } from './child-sa.ts';
import { childrenOf } from './child-config.ts';
import type { ChildConfig, IkeConnection } from './config.ts';
import { narrowPair, type TsPair } from './traffic-selectors.ts';

const pending = new WeakMap<ChildSa, readonly ChildConfig[]>();

/**
 * The other parts of `picked`'s split child that the peer's proposal `offered` (TSi = the peer's
 * side) also covers; none when `picked` is not a part.
 */
export function narrowedAwayParts(c: IkeConnection, picked: ChildConfig, offered: TsPair): ChildConfig[] {
  if (picked.pairOf === undefined) return [];
  return childrenOf(c).filter((x) => {
    if (x === picked || x.pairOf !== picked.pairOf || x.mode !== picked.mode) return false;
    try {
      narrowPair(offered, { tsi: x.remoteTs, tsr: x.localTs });
      return true;
    } catch {
      return false;
    }
  });
}

/** Remembers, for the responder's new Child SA, the parts to request once it is installed. */
export function notePartsToComplete(child: ChildSa, parts: readonly ChildConfig[]): void {
  if (parts.length > 0) pending.set(child, parts);
}

/** The parts noted for `child` (once: they are forgotten here). */
export function takePartsToComplete(child: ChildSa): readonly ChildConfig[] {
  const parts = pending.get(child) ?? [];
  pending.delete(child);
  return parts;
}
