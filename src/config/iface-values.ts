// Values of a route-based tunnel's interface: addresses with their prefix length (host bits are
// the point here, unlike subnets) and routing tables by number or by name. Table names resolve
// through iproute2's rt_tables files, as `ip route ... table NAME` does.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress, type IpPrefix, type Parsed } from './values.ts';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(message: string, hint: string): Parsed<T> => ({ ok: false, message, hint });

/** "169.254.10.1/30", "fe80::1/64": an interface address and the length of its on-link prefix. */
export function parseIfAddress(text: string): Parsed<IpPrefix> {
  const t = text.trim();
  const [a = '', len, extra] = t.split('/');
  const addr = parseAddress(a);
  const hint = 'write address/length, e.g. 169.254.10.1/30 or fe80::1/64';
  if (!addr.ok || extra !== undefined) return bad(`"${t}" is not an address with a prefix length`, hint);
  const max = addr.value.family === 4 ? 32 : 128;
  if (len === undefined || !/^\d{1,3}$/.test(len) || Number(len) > max)
    return bad(`"${t}" needs a prefix length 0..${max}`, hint);
  const n = Number(len);
  return ok({ ...addr.value, prefixLength: n, text: `${addr.value.address}/${n}` });
}

/** A routing table as written: its number, or a name still to resolve. */
export interface RouteTableRef {
  readonly id: number | undefined;
  readonly name: string;
}

/** The tables every kernel has (rtnetlink.h RT_TABLE_*). */
const RESERVED: Readonly<Record<string, number>> = { default: 253, main: 254, local: 255 };

export function parseRouteTable(text: string): Parsed<RouteTableRef> {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > 0xffffffff)
      return bad(`table ${t} is out of range`, 'write 1..4294967295 or a table name');
    return ok({ id: n, name: t });
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(t))
    return bad(`"${t}" is not a table name`, 'write main, a number, or a name from /etc/iproute2/rt_tables');
  return ok({ id: RESERVED[t], name: t });
}

/** iproute2's table files: the admin's (/etc) first, then the distribution's (/usr/share, /usr/lib). */
export const RT_TABLES_DIRS = ['/etc/iproute2', '/usr/share/iproute2', '/usr/lib/iproute2'];

/** Resolves a table name through `<dir>/rt_tables` and `<dir>/rt_tables.d/*.conf`; undefined if none names it. */
export function lookupRouteTable(name: string, dirs: readonly string[] = RT_TABLES_DIRS): number | undefined {
  if (RESERVED[name] !== undefined) return RESERVED[name];
  for (const dir of dirs) {
    const files = [join(dir, 'rt_tables')];
    try {
      for (const f of readdirSync(join(dir, 'rt_tables.d')).sort())
        if (f.endsWith('.conf')) files.push(join(dir, 'rt_tables.d', f));
    } catch {
      // no rt_tables.d here
    }
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        const m = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)/.exec(line);
        if (m && m[2] === name) return Number(m[1]);
      }
    }
  }
  return undefined;
}
