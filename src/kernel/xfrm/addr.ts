// Addresses as the kernel stores them: xfrm_address_t is 16 bytes, IPv4 in the first 4 (network
// order), plus a family (AF_INET = 2, AF_INET6 = 10). Pure; errors name the bad input.
import { isIPv4, isIPv6 } from 'node:net';
import { KernelError } from '../errors.ts';
import { AF_INET, AF_INET6 } from './constants.ts';

export type Family = typeof AF_INET | typeof AF_INET6;

export interface Addr {
  family: Family;
  /** 16 bytes, IPv4 in bytes 0..3. */
  bytes: Uint8Array;
}

export interface Cidr extends Addr {
  prefix: number;
}

function bad(what: string, value: string, why: string): KernelError {
  return KernelError.invalid('address', what, `${JSON.stringify(value)}: ${why}`);
}

/**
 * Canonical dotted-quad IPv4 into bytes[0..3]: four decimal octets 0..255 without leading zeros.
 * False for anything else (the bytes are then undefined). A loop, not a regular expression: every
 * SA and policy request parses two or three addresses.
 */
function parseV4(s: string, bytes: Uint8Array): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // a leading zero (01)
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  bytes[3] = value;
  return true;
}

/** Parses an IPv4 or IPv6 address (no prefix). */
export function parseAddr(s: string, what = 'address'): Addr {
  const bytes = new Uint8Array(16);
  if (parseV4(s, bytes)) return { family: AF_INET, bytes };
  bytes.fill(0);
  if (isIPv4(s)) throw bad(what, s, 'not a canonical IPv4 address');
  if (!isIPv6(s) || s.includes('%')) throw bad(what, s, 'not an IPv4 or IPv6 address');
  let text = s;
  // Embedded IPv4 in the last 32 bits (::ffff:192.0.2.1).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const q = v4[1]!.split('.').map(Number);
    text =
      text.slice(0, -v4[1]!.length) +
      `${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  return { family: AF_INET6, bytes };
}

/** Parses "a.b.c.d/len", "x::/len" or a bare address (host prefix). */
export function parseCidr(s: string, what = 'selector'): Cidr {
  const slash = s.indexOf('/');
  const addr = parseAddr(slash < 0 ? s : s.slice(0, slash), what);
  const max = addr.family === AF_INET ? 32 : 128;
  if (slash < 0) return { family: addr.family, bytes: addr.bytes, prefix: max };
  const ptext = s.slice(slash + 1);
  const prefix = Number(ptext);
  if (!/^\d{1,3}$/.test(ptext) || prefix > max) throw bad(what, s, `prefix length must be 0..${max}`);
  return { family: addr.family, bytes: addr.bytes, prefix };
}

/** Formats 16 kernel address bytes of `family` at `off` (RFC 5952 text for IPv6). */
export function formatAddr(family: number, buf: Uint8Array, off = 0): string {
  if (family === AF_INET) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  if (family !== AF_INET6) return '';
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[off + i * 2]! << 8) | buf[off + i * 2 + 1]!);
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero groups, the first one on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function formatCidr(family: number, buf: Uint8Array, off: number, prefix: number): string {
  return `${formatAddr(family, buf, off)}/${prefix}`;
}

/** Zero-family marker: an SA selector with family 0 matches any inner family. */
export const ANY4 = '0.0.0.0/0';
export const ANY6 = '::/0';
