// Pure parsers for the leaf values of the policy format: durations, byte sizes, IP addresses and
// prefixes, identities, XFRM marks. Each returns either a value or a problem (message + hint), so
// the walker can attach the position of the YAML node.
import { Address4, Address6 } from 'ip-address';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; hint: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(message: string, hint: string): Parsed<T> => ({ ok: false, message, hint });

// --- durations: "90s", "30m", "1h", "1d", "500ms", also "1h30m" --------------------------------
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds. A bare number is refused: seconds or milliseconds would be a guess. */
export function parseDuration(text: string): Parsed<number> {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return bad(`"${t}" has no unit`, `write e.g. ${t}s (units: ms, s, m, h, d)`);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 0);
    matched = re.lastIndex;
  }
  if (t === '' || matched !== t.length) {
    return bad(`"${t}" is not a duration`, 'write e.g. 90s, 30m, 1h or 1h30m (units: ms, s, m, h, d)');
  }
  if (!Number.isSafeInteger(Math.round(total))) return bad(`"${t}" is too long`, 'use a shorter duration');
  return ok(Math.round(total));
}

/** "1h30m" style text for a millisecond count (for messages). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// --- byte sizes: "1GiB", "500MB", "4096" -------------------------------------------------------
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

export function parseBytes(text: string): Parsed<number> {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = (m?.[2] ?? '').toLowerCase() || 'b';
  const mult = BYTE_UNITS[unit];
  if (m === null || mult === undefined) {
    return bad(
      `"${text}" is not a byte size`,
      'write e.g. 1GiB, 500MB or 4096 (units: B, kB, MB, GB, KiB, MiB, GiB)',
    );
  }
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n)) return bad(`"${text}" is too large`, 'use at most 8PiB');
  return ok(n);
}

// --- IP addresses and prefixes -------------------------------------------------------------------
export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** Canonical text (RFC 5952 for IPv6). */
  readonly address: string;
}

export interface IpPrefix extends IpAddress {
  readonly prefixLength: number;
  /** `address/prefixLength`, canonical. */
  readonly text: string;
}

export function parseAddress(text: string): Parsed<IpAddress> {
  const t = text.trim();
  if (t.includes('/'))
    return bad(`"${t}" is a prefix, not an address`, `write the address alone, e.g. ${t.split('/')[0]}`);
  if (Address4.isValid(t) && /^\d+\.\d+\.\d+\.\d+$/.test(t))
    return ok({ family: 4, address: new Address4(t).correctForm() });
  if (Address6.isValid(t) && !t.includes('%'))
    return ok({ family: 6, address: new Address6(t).correctForm() });
  return bad(
    `"${t}" is not an IPv4 or IPv6 address`,
    'write e.g. 192.0.2.1 or 2001:db8::1 (host names are not supported)',
  );
}

/** A prefix; a bare address means the single host (/32 or /128). Host bits must be zero. */
export function parsePrefix(text: string): Parsed<IpPrefix> {
  const t = text.trim();
  const [addrText = '', lenText, extra] = t.split('/');
  const addr = parseAddress(addrText);
  if (extra !== undefined || !addr.ok) {
    return bad(`"${t}" is not a valid IPv4/IPv6 prefix`, 'write e.g. 10.0.0.0/16 or 2001:db8:1::/48');
  }
  const max = addr.value.family === 4 ? 32 : 128;
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) {
    return bad(
      `"${t}" is not a valid IPv4/IPv6 prefix (bad prefix length "${lenText}")`,
      `write a length 0..${max}`,
    );
  }
  const len = lenText === undefined ? max : Number(lenText);
  if (len > max) {
    const example = addr.value.family === 4 ? '10.0.0.0/16' : '2001:db8:1::/48';
    return bad(
      `"${t}" is not a valid IPv4/IPv6 prefix (prefix length ${len} > ${max})`,
      `write e.g. ${example}`,
    );
  }
  const net =
    addr.value.family === 4
      ? new Address4(`${addr.value.address}/${len}`)
      : new Address6(`${addr.value.address}/${len}`);
  const start = net.startAddress().correctForm();
  if (start !== addr.value.address) {
    return bad(`"${t}" has host bits set`, `write the network address: ${start}/${len}`);
  }
  return ok({ family: addr.value.family, address: start, prefixLength: len, text: `${start}/${len}` });
}

/** The first and last address of a prefix as bigints (for overlap checks). */
export function prefixRange(p: IpPrefix): [bigint, bigint] {
  const a = p.family === 4 ? new Address4(p.text) : new Address6(p.text);
  return [a.startAddress().bigInt(), a.endAddress().bigInt()];
}

export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  if (a.family !== b.family) return false;
  const [a0, a1] = prefixRange(a);
  const [b0, b1] = prefixRange(b);
  return a0 <= b1 && b0 <= a1;
}

export function prefixContains(p: IpPrefix, addr: IpAddress): boolean {
  if (p.family !== addr.family) return false;
  const [lo, hi] = prefixRange(p);
  const a = (addr.family === 4 ? new Address4(addr.address) : new Address6(addr.address)).bigInt();
  return lo <= a && a <= hi;
}

// --- identities (RFC 7296 §3.5) ----------------------------------------------------------------
export type IdentityKind = 'ipv4' | 'ipv6' | 'fqdn' | 'rfc822' | 'dn' | 'keyid' | 'any';

export interface Identity {
  readonly kind: IdentityKind;
  /** Text form: address, host name, user@domain, "C=.., O=.., CN=..", hex key id, or "any". */
  readonly value: string;
}

/**
 * Identity forms: an IP address; `user@example.org` (RFC822); `vpn.example.org` or `@vpn` (FQDN,
 * the leading @ forces FQDN); `CN=gw, O=Example` (distinguished name); `keyid:0a1b...`; `any`.
 */
export function parseIdentity(text: string): Parsed<Identity> {
  const t = text.trim();
  if (t === '') return bad('empty identity', 'write an address, a host name, user@domain or a DN');
  if (t === 'any') return ok({ kind: 'any', value: 'any' });
  const addr = parseAddress(t);
  if (addr.ok) return ok({ kind: addr.value.family === 4 ? 'ipv4' : 'ipv6', value: addr.value.address });
  if (t.startsWith('keyid:')) {
    const hex = t.slice(6).replaceAll(':', '');
    if (!/^([0-9a-f]{2})+$/i.test(hex))
      return bad(`"${t}" is not a key id`, 'write keyid: followed by hex bytes');
    return ok({ kind: 'keyid', value: hex.toLowerCase() });
  }
  if (/^[A-Za-z][A-Za-z0-9.]*\s*=/.test(t)) return ok({ kind: 'dn', value: normalizeDn(t) });
  if (t.startsWith('@')) return fqdn(t.slice(1), t);
  if (t.includes('@')) {
    const [user, domain = '', more] = t.split('@');
    if (user === '' || more !== undefined || !isHostName(domain)) {
      return bad(`"${t}" is not a user@domain identity`, 'write e.g. gw@example.org');
    }
    return ok({ kind: 'rfc822', value: t });
  }
  return fqdn(t, t);
}

function fqdn(name: string, original: string): Parsed<Identity> {
  if (!isHostName(name)) {
    return bad(
      `"${original}" is not an identity`,
      'write an address, a host name, user@domain, a DN "CN=..., O=..." or keyid:hex',
    );
  }
  return ok({ kind: 'fqdn', value: name });
}

function isHostName(s: string): boolean {
  return (
    s.length <= 253 &&
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/.test(s)
  );
}

/** "C=CH,O=x,  CN=y" or the newline-separated form of X509Certificate.subject -> "C=CH, O=x, CN=y". */
export function normalizeDn(dn: string): string {
  return dn
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((rdn) => rdn.replace(/\s*=\s*/, '='))
    .join(', ');
}

// --- XFRM mark: "42", "0x2a", "42/0xff" ------------------------------------------------------
export interface Mark {
  readonly value: number;
  readonly mask: number;
}

export function parseMark(text: string): Parsed<Mark> {
  const [v = '', m, extra] = text.trim().split('/');
  const value = parseU32(v);
  const mask = m === undefined ? 0xffffffff : parseU32(m);
  if (extra !== undefined || value === undefined || mask === undefined) {
    return bad(`"${text}" is not a mark`, 'write a 32-bit value with an optional mask, e.g. 42 or 0x2a/0xff');
  }
  if ((value & ~mask) >>> 0 !== 0)
    return bad(`mark value ${v} has bits outside mask ${m}`, 'make the value fit the mask');
  return ok({ value, mask });
}

function parseU32(s: string): number | undefined {
  if (!/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}
