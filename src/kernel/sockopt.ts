// Integer socket options on a bound node:dgram socket, for what node:dgram has no setter for
// (UDP_ENCAP), and on a netlink socket of the `netlink` package (NETLINK_CAP_ACK,
// NETLINK_NO_ENOBUFS, SO_RCVBUFFORCE). libc's setsockopt/getsockopt are called through koffi, an
// FFI addon whose npm package ships real prebuilt binaries per platform (ELF for Linux x64 and
// arm64, glibc and musl), so an install needs no compiler. Nothing here uses dgram's private fields (`socket._handle`, DEP0112):
// Node has no public accessor for a dgram socket's descriptor, so it is found by its bound address
// among the process's socket descriptors in /proc/self/fd (a netlink socket by its port id, through
// /proc/net/netlink). koffi is loaded on first use only.
import type { Socket } from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SocketAddress } from 'node:net';
import { KernelError } from './errors.ts';

/** Socket option levels (<sys/socket.h>, <linux/socket.h>). */
export const SOL_SOCKET = 1;
export const SOL_NETLINK = 270;
const SO_PROTOCOL = 38;
const IPPROTO_UDP = 17;
const AF_INET = 2;
const AF_INET6 = 10;

type Native = (...args: unknown[]) => number;
interface Libc {
  readonly setsockopt: Native;
  readonly getsockopt: Native;
  readonly getsockname: Native;
  readonly errno: () => number;
}
interface Koffi {
  load(path: string | null): { func(prototype: string): Native };
  errno(): number;
}

let libc: Libc | undefined;

/** libc's socket calls, loaded once; throws an 'unsupported' KernelError if koffi cannot load. */
function load(request: string, object: string): Libc {
  if (libc !== undefined) return libc;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const self = koffi.load(null); // the process's own symbols: libc, glibc or musl alike
    libc = {
      setsockopt: self.func('int setsockopt(int, int, int, void *, uint32_t)'),
      getsockopt: self.func('int getsockopt(int, int, int, void *, void *)'),
      getsockname: self.func('int getsockname(int, void *, void *)'),
      errno: () => koffi.errno(),
    };
  } catch (e) {
    throw KernelError.unsupported(
      request,
      object,
      `libc through koffi (FFI) did not load: ${(e as Error).message}`,
    );
  }
  return libc;
}

// Typed arrays are in the host's byte order, as the C ints and socklen_t they stand for.
const socklen = (n: number): Uint32Array => new Uint32Array([n]);

/** Sets an int-valued option; throws a KernelError carrying the errno. */
export function setIntOption(socket: Socket, level: number, name: number, value: number, what: string): void {
  const object = describe(socket);
  const c = load(`setsockopt(${what})`, object);
  const fd = socketFd(socket, c, object);
  if (c.setsockopt(fd, level, name, new Int32Array([value]), 4) !== 0)
    throw KernelError.fromErrno(c.errno(), `setsockopt(${what})`, object);
}

/** Reads an int-valued option; throws a KernelError carrying the errno. */
export function getIntOption(socket: Socket, level: number, name: number, what: string): number {
  const object = describe(socket);
  const c = load(`getsockopt(${what})`, object);
  const value = readInt(c, socketFd(socket, c, object), level, name);
  if (value === undefined) throw KernelError.fromErrno(c.errno(), `getsockopt(${what})`, object);
  return value;
}

function readInt(c: Libc, fd: number, level: number, name: number): number | undefined {
  const v = new Int32Array(1);
  if (c.getsockopt(fd, level, name, v, socklen(4)) !== 0) return undefined;
  return v[0];
}

function describe(socket: Socket): string {
  let a: { address: string; port: number };
  try {
    a = socket.address();
  } catch {
    throw KernelError.invalid('socket option', 'socket', 'the socket must be bound first');
  }
  return `udp ${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
}

/**
 * The descriptor of a bound UDP socket: the one socket in /proc/self/fd that is UDP and whose
 * getsockname() equals the socket's address (unique, since ikeway binds without SO_REUSEADDR/PORT).
 */
function socketFd(socket: Socket, c: Libc, object: string): number {
  const want = socket.address();
  const family = want.family === 'IPv6' ? AF_INET6 : AF_INET;
  const wantAddr = new SocketAddress({ address: want.address, family: family === AF_INET6 ? 'ipv6' : 'ipv4' })
    .address;
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch (e) {
    throw KernelError.unsupported('socket descriptor', object, `/proc/self/fd: ${(e as Error).message}`);
  }
  const found: number[] = [];
  for (const entry of entries) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${entry}`);
    } catch {
      continue; // closed since readdir (the descriptor of the directory listing itself, for one)
    }
    if (!target.startsWith('socket:')) continue;
    const fd = Number(entry);
    if (readInt(c, fd, SOL_SOCKET, SO_PROTOCOL) !== IPPROTO_UDP) continue;
    const name = sockName(c, fd);
    if (name?.family === family && name.port === want.port && name.address === wantAddr) found.push(fd);
  }
  if (found.length !== 1)
    throw KernelError.unsupported(
      'socket descriptor',
      object,
      `found ${found.length} UDP descriptors bound to this address in /proc/self/fd, wanted 1`,
    );
  return found[0]!;
}

function sockName(c: Libc, fd: number): { family: number; port: number; address: string } | undefined {
  const raw = new ArrayBuffer(128);
  if (c.getsockname(fd, raw, socklen(raw.byteLength)) !== 0) return undefined;
  const family = new Uint16Array(raw, 0, 1)[0]; // sa_family, host order
  const sa = Buffer.from(raw);
  const port = sa.readUInt16BE(2); // network order
  if (family === AF_INET) return { family, port, address: [...sa.subarray(4, 8)].join('.') };
  if (family !== AF_INET6) return undefined;
  const groups: string[] = [];
  for (let i = 8; i < 24; i += 2) groups.push(sa.readUInt16BE(i).toString(16));
  return { family, port, address: new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address };
}

/** One integer option of a netlink socket (level SOL_NETLINK or SOL_SOCKET). */
export interface NetlinkIntOption {
  readonly level: number;
  readonly name: number;
  readonly value: number;
  /** Its name for errors, e.g. 'NETLINK_CAP_ACK'. */
  readonly what: string;
}

/**
 * Sets integer options on this process's netlink socket of `protocol` bound to `portId` (the
 * `netlink` package has no setter for them). Its descriptor is found once, through /proc/net/netlink
 * (protocol and port id -> inode) and /proc/self/fd (inode -> descriptor). Each option is tried on its
 * own: returns the options that failed, with the error (unsupported: no koffi, no /proc).
 */
export function setNetlinkIntOptions(
  protocol: number,
  portId: number,
  options: readonly NetlinkIntOption[],
): { readonly option: NetlinkIntOption; readonly error: KernelError }[] {
  const object = `netlink protocol ${protocol} port ${portId}`;
  let c: Libc;
  let fd: number;
  try {
    c = load('setsockopt', object);
    fd = netlinkFd(protocol, portId, object);
  } catch (e) {
    const error = e instanceof KernelError ? e : KernelError.unsupported('setsockopt', object, String(e));
    return options.map((option) => ({ option, error }));
  }
  const failed: { option: NetlinkIntOption; error: KernelError }[] = [];
  for (const o of options)
    if (c.setsockopt(fd, o.level, o.name, new Int32Array([o.value]), 4) !== 0)
      failed.push({ option: o, error: KernelError.fromErrno(c.errno(), `setsockopt(${o.what})`, object) });
  return failed;
}

function netlinkFd(protocol: number, portId: number, object: string): number {
  let table: string;
  try {
    table = readFileSync('/proc/net/netlink', 'utf8');
  } catch (e) {
    throw KernelError.unsupported('socket descriptor', object, `/proc/net/netlink: ${(e as Error).message}`);
  }
  // Columns: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode.
  const row = table
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f.length >= 10 && Number(f[1]) === protocol && Number(f[2]) === portId);
  if (!row) throw KernelError.unsupported('socket descriptor', object, 'not listed in /proc/net/netlink');
  const target = `socket:[${row[9]}]`;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`) === target) return Number(entry);
    } catch {
      // closed since readdir
    }
  }
  throw KernelError.unsupported('socket descriptor', object, `no descriptor of ${target} in /proc/self/fd`);
}
