// Kernel reqids of the connections' Child SAs and fail-closed policies: stable per name while the
// connection exists, far from the engine's own counter (1, 2, ...). One allocator for the daemon
// and for `plan` (which replays a reload on a copy), so both give a new connection the same reqid.

export const REQID_BASE = 0x10000;

/** The reqid of `name`, allocating the lowest free one at or above REQID_BASE. */
export function reqidOf(reqids: Map<string, number>, name: string): number {
  const have = reqids.get(name);
  if (have !== undefined) return have;
  const used = new Set(reqids.values());
  let r = REQID_BASE;
  while (used.has(r)) r++;
  reqids.set(name, r);
  return r;
}

/** The reqid a connection's policies and Child SAs get: none for `remote: any` (no trap template). */
export function connectionReqid(
  reqids: Map<string, number>,
  conn: { readonly name: string; readonly remote: unknown },
): number | undefined {
  return conn.remote === 'any' ? undefined : reqidOf(reqids, conn.name);
}

/**
 * The reqids of a connection's children after the first (which has the connection's): each its own,
 * stable per connection and child name; none for `remote: any` (the engine allocates per Child SA).
 */
export function childReqids(
  reqids: Map<string, number>,
  conn: { readonly name: string; readonly remote: unknown },
): ((child: string) => number) | undefined {
  return conn.remote === 'any' ? undefined : (child) => reqidOf(reqids, `${conn.name}/${child}`);
}

/** Forgets the reqids of a connection and its children. */
export function dropReqids(reqids: Map<string, number>, name: string): void {
  for (const k of [...reqids.keys()]) if (k === name || k.startsWith(`${name}/`)) reqids.delete(k);
}
