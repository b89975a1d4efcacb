// A tiny initramfs for the guest kernel (docs: KERNEL-LAB.md): busybox-static, the modules that
// mount the host's / over virtio-9p, and an /init that overlays a tmpfs on it and switch_roots.
// The archive is the kernel's "newc" cpio format (Documentation/driver-api/early-userspace/
// buffer-format.rst), written here directly and gzipped with node:zlib, so no cpio tool is needed.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export class InitramfsError extends Error {
  readonly code = 'INITRAMFS_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'InitramfsError';
  }
}

/** One entry of a newc archive. `mode` includes the file type bits (S_IFREG, S_IFDIR ...). */
export interface CpioEntry {
  readonly name: string;
  readonly mode: number;
  readonly data?: Uint8Array;
  /** For character/block devices: [major, minor]. */
  readonly rdev?: readonly [number, number];
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

const NEWC_MAGIC = '070701';

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new InitramfsError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Serialises entries (and the TRAILER!!! record) as a newc cpio archive. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  const all = [...entries, { name: 'TRAILER!!!', mode: 0 }];
  all.forEach((e, i) => {
    if (e.name.length === 0 || e.name.startsWith('/') || e.name.includes('\0'))
      throw new InitramfsError(`bad cpio entry name: ${JSON.stringify(e.name)}`);
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(`${e.name}\0`, 'utf8');
    const [rmaj, rmin] = e.rdev ?? [0, 0];
    const isTrailer = i === all.length - 1;
    const fields = [
      isTrailer ? 0 : i + 1, // c_ino: unique per entry; no hard links
      e.mode,
      0, // uid
      0, // gid
      (e.mode & 0o170000) === S_IFDIR ? 2 : 1, // nlink
      0, // mtime: fixed, so the archive is reproducible and its hash a cache key
      data.length,
      0, // devmajor
      0, // devminor
      rmaj,
      rmin,
      name.length,
      0, // check: unused by newc (only by crc format)
    ];
    push(Buffer.from(NEWC_MAGIC + fields.map(hex8).join(''), 'ascii'));
    push(name);
    push(Buffer.alloc(pad4(offset)));
    push(Buffer.from(data));
    push(Buffer.alloc(pad4(offset)));
  });
  return Buffer.concat(parts);
}

/** Kernel modules loaded by /init, in the order `modprobe --show-depends` gives them. */
export const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'] as const;

/** Resolves a module and its dependencies to .ko paths, dependencies first. */
export function moduleDeps(kernelVersion: string, modules: readonly string[]): string[] {
  const out: string[] = [];
  for (const m of modules) {
    const r = spawnSync('modprobe', ['-S', kernelVersion, '--show-depends', m], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new InitramfsError(
        `modprobe --show-depends ${m} for ${kernelVersion} failed: ${r.stderr.trim()}`,
      );
    for (const line of r.stdout.split('\n')) {
      const match = /^insmod (\S+)/.exec(line.trim());
      if (match && !out.includes(match[1]!)) out.push(match[1]!);
    }
  }
  for (const p of out)
    if (!p.endsWith('.ko'))
      throw new InitramfsError(`compressed module not supported by busybox insmod here: ${p}`);
  return out;
}

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

export function findBusybox(): string {
  for (const p of BUSYBOX_CANDIDATES) if (existsSync(p)) return p;
  throw new InitramfsError('busybox-static not found (apt-get install busybox-static)');
}

/**
 * The first-stage init. Mounts the host root (9p tag `hostroot`) read-only under a tmpfs
 * overlay, mounts the results share (tag `ikwout`) at the host path given as `ikw.out=` on the
 * kernel command line, and switch_roots into `<out>/stage2.sh`, which the runner writes per run.
 */
export function initScript(modulePaths: readonly string[]): string {
  const insmods = modulePaths.map(
    (p) => `insmod /lib/modules/${basename(p)} || fail "insmod ${basename(p)}"`,
  );
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "ikw-init: $*" >&2; echo o > /proc/sysrq-trigger; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
${insmods.join('\n')}
out=""
for a in $(cat /proc/cmdline); do case "$a" in ikw.out=*) out="\${a#ikw.out=}";; esac; done
[ -n "$out" ] || fail "no ikw.out= on the command line"
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o size=512m tmpfs /upper || fail "mount tmpfs"
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot || fail "overlay"
mount -t tmpfs tmpfs /newroot/run
mkdir -p "/newroot$out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 ikwout "/newroot$out" || fail "mount ikwout"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/sh "$out/stage2.sh"
`;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Builds the archive entries for a kernel version (reads busybox and the .ko files). */
export function initramfsEntries(kernelVersion: string): CpioEntry[] {
  const mods = moduleDeps(kernelVersion, BOOT_MODULES);
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'lower', 'upper', 'newroot'])
    entries.push({ name: d, mode: S_IFDIR | 0o755 });
  // The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
  entries.push({ name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] });
  entries.push({ name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(findBusybox()) });
  for (const m of mods)
    entries.push({ name: `lib/modules/${basename(m)}`, mode: S_IFREG | 0o644, data: readFileSync(m) });
  entries.push({ name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(initScript(mods)) });
  return entries;
}

/** Installed kernels that have the guest's modules, newest first (e.g. `6.1.0-56-amd64`). */
export function guestKernels(): string[] {
  if (!existsSync('/lib/modules')) return [];
  return readdirSync('/lib/modules')
    .filter((v) => existsSync(`/boot/vmlinuz-${v}`) && existsSync(`/lib/modules/${v}/modules.dep`))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
}

export interface BuiltInitramfs {
  readonly path: string;
  readonly kernel: string;
  readonly kernelVersion: string;
  readonly cached: boolean;
}

/**
 * Returns a gzipped initramfs for `kernelVersion` (default: newest installed), building it only
 * when no archive with the same content hash is cached under `cacheDir` (default `<repo>/.lab`).
 */
export function buildInitramfs(kernelVersion?: string, cacheDir = defaultCacheDir()): BuiltInitramfs {
  const version = kernelVersion ?? guestKernels()[0];
  if (version === undefined)
    throw new InitramfsError('no guest kernel installed (apt-get install linux-image-amd64)');
  const kernel = `/boot/vmlinuz-${version}`;
  if (!existsSync(kernel)) throw new InitramfsError(`kernel image missing: ${kernel}`);
  const entries = initramfsEntries(version);
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.name}\0${e.mode}\0`).update(e.data ?? new Uint8Array(0));
  const path = join(cacheDir, `initramfs-${version}-${h.digest('hex').slice(0, 16)}.cpio.gz`);
  if (existsSync(path) && statSync(path).size > 0)
    return { path, kernel, kernelVersion: version, cached: true };
  mkdirSync(cacheDir, { recursive: true });
  // Write then rename, so parallel builders never see a half-written archive.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, gzipSync(writeCpio(entries), { level: 6 }));
  renameSync(tmp, path);
  removeOldArchives(cacheDir, version, path);
  return { path, kernel, kernelVersion: version, cached: false };
}

/** Drops archives of earlier builds for this kernel, unless recent (another run may be booting one). */
function removeOldArchives(cacheDir: string, version: string, keep: string): void {
  const prefix = `initramfs-${version}-`;
  for (const name of readdirSync(cacheDir)) {
    const p = join(cacheDir, name);
    if (!name.startsWith(prefix) || p === keep) continue;
    if (Date.now() - statSync(p).mtimeMs > 10 * 60_000) rmSync(p, { force: true });
  }
}

function defaultCacheDir(): string {
  return resolve(import.meta.dirname, '..', '..', '.lab');
}
