// Peers named by DNS name (`remote: vpn.example.net`). The loader is synchronous (check, start and
// reload build the whole Config in one pass), so a name is resolved here through the system
// resolver in a child process (`getent ahosts`, which follows nsswitch.conf: /etc/hosts first on
// most systems, then DNS), bounded by a timeout. Tests and tools pass their own resolver.
import { execFileSync } from 'node:child_process';
import { parseAddress, type IpAddress } from './values.ts';

/** Addresses of `name` (any family), or a reason it has none. */
export type Resolver = (
  name: string,
) => { readonly addresses: readonly IpAddress[] } | { readonly error: string };

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
export function isHostName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.replace(/\.$/, '').split('.');
  // A last label of digits only would be a mistyped address, not a name.
  if (/^[0-9]+$/.test(labels.at(-1) ?? '')) return false;
  return labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

export const RESOLVE_TIMEOUT_MS = 3000;

export const systemResolver: Resolver = (name) => {
  let out: string;
  try {
    out = execFileSync('getent', ['ahosts', name], {
      encoding: 'utf8',
      timeout: RESOLVE_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number | null; signal?: string | null };
    if (err.signal) return { error: `no answer within ${RESOLVE_TIMEOUT_MS} ms` };
    if (err.code === 'ENOENT') return { error: 'getent is not installed' };
    return { error: 'the name does not resolve' };
  }
  const seen = new Set<string>();
  const addresses: IpAddress[] = [];
  for (const line of out.split('\n')) {
    const a = line.split(/\s+/)[0] ?? '';
    const p = parseAddress(a);
    if (p.ok && !seen.has(p.value.address)) {
      seen.add(p.value.address);
      addresses.push(p.value);
    }
  }
  return addresses.length > 0 ? { addresses } : { error: 'the name has no address' };
};

/** Resolver for the running daemon (before each initiation): asynchronous, never blocks the event loop. */
export type AsyncResolver = (name: string) => Promise<ReturnType<Resolver>>;

/** The system resolver through getaddrinfo (nsswitch: /etc/hosts, then DNS), without a child process. */
export const systemResolverAsync: AsyncResolver = async (name) => {
  const { lookup } = await import('node:dns/promises');
  try {
    const found = await lookup(name, { all: true, verbatim: true });
    const addresses: IpAddress[] = [];
    for (const f of found) {
      const p = parseAddress(f.address);
      if (p.ok && !addresses.some((a) => a.address === p.value.address)) addresses.push(p.value);
    }
    return addresses.length > 0 ? { addresses } : { error: 'the name has no address' };
  } catch {
    return { error: 'the name does not resolve' };
  }
};
