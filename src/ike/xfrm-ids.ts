// The XFRM mark and interface id of a connection per direction. `mark` and `ifId` apply to both;
// `markIn`/`ifIdIn` (the inbound SA, the in and fwd policies) and `markOut`/`ifIdOut` (the outbound
// SA, the out policy) override them, as strongSwan's mark_in/mark_out and if_id_in/if_id_out do.
import type { Mark, PolicyDir } from '../kernel/types.ts';

export interface XfrmIds {
  readonly mark?: Mark;
  readonly markIn?: Mark;
  readonly markOut?: Mark;
  readonly ifId?: number;
  readonly ifIdIn?: number;
  readonly ifIdOut?: number;
}

type Way = 'in' | 'out';
/** Inbound SA and in/fwd policies: 'in'; outbound SA and out policy: 'out'. */
export const wayOf = (dir: PolicyDir | Way): Way => (dir === 'out' ? 'out' : 'in');

export const markFor = (x: XfrmIds, dir: PolicyDir | Way): Mark | undefined =>
  (wayOf(dir) === 'in' ? x.markIn : x.markOut) ?? x.mark;

export const ifIdFor = (x: XfrmIds, dir: PolicyDir | Way): number | undefined =>
  (wayOf(dir) === 'in' ? x.ifIdIn : x.ifIdOut) ?? x.ifId;

/** `{ mark }` and `{ ifId }` of one direction, spread into SA and policy parameters. */
export function idsFor(x: XfrmIds, dir: PolicyDir | Way): { mark?: Mark; ifId?: number } {
  const mark = markFor(x, dir);
  const ifId = ifIdFor(x, dir);
  return {
    ...(mark ? { mark: { value: mark.value, mask: mark.mask } } : {}),
    ...(ifId !== undefined ? { ifId } : {}),
  };
}

/** `{ mark }` of one direction alone (SA ids for delete and query carry the mark, not the if_id). */
export function markOnly(x: XfrmIds, dir: PolicyDir | Way): { mark?: Mark } {
  const mark = markFor(x, dir);
  return mark ? { mark: { value: mark.value, mask: mark.mask } } : {};
}

/** Copies the fields that are set (for building a context from a config). */
export function pickIds(x: XfrmIds): XfrmIds {
  const o: { -readonly [K in keyof XfrmIds]: XfrmIds[K] } = {};
  for (const k of ['mark', 'markIn', 'markOut'] as const) {
    const m = x[k];
    if (m) o[k] = { value: m.value, mask: m.mask };
  }
  for (const k of ['ifId', 'ifIdIn', 'ifIdOut'] as const) if (x[k] !== undefined) o[k] = x[k];
  return o;
}
