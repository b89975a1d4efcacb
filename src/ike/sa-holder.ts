// Which IKE SA holds a Child SA now. IKE SA rekeys (RFC 7296 §2.8, §2.18) hand the Child SAs to the new
// IKE SA, and §2.8.2 collisions may hand them to the peer's new one, so work that outlives an
// exchange (retries, Deletes, grace timers) looks the holder up when it runs.
import type { ChildSa } from './child-sa.ts';
import type { IkeSa } from './ike-sa.ts';

/**
 * The IKE SA that holds a Child SA now: `sa`, or an IKE SA that replaced it. The links are few; the
 * search is bounded anyway.
 */
export function holderOf(sa: IkeSa, child: ChildSa): IkeSa {
  const seen = new Set<IkeSa>();
  const todo: IkeSa[] = [sa];
  while (todo.length > 0 && seen.size < 32) {
    const s = todo.shift()!;
    if (seen.has(s)) continue;
    seen.add(s);
    if (s.children.includes(child)) return s;
    if (s.successor) todo.push(s.successor);
    if (s.peerRekey) todo.push(s.peerRekey.sa);
  }
  return sa;
}
