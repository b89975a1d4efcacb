// The local base image of the Docker lab, for machines that reach Debian's and npm's package
// registries but no container image registry (docker/README.md). docker/Dockerfile starts
// `FROM node:20-bookworm-slim` by default; this makes a root file system of the same shape from the
// files of this machine: Node at /usr/local/bin/node as in that image, iproute2's ip, iputils' ping
// tcpdump and dash (/bin/sh) with exactly the shared libraries `ldd` names for them, busybox-static for the shell
// and the small tools, and ikeway's production node_modules (the package-lock.json entries not
// marked dev, as `npm ci --omit=dev` would install them) at /opt/ikeway/node_modules, so that the
// Dockerfile needs no registry. `docker import <tar> ikeway-base:local` turns it into an image.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LabError } from '../errors.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Host programs copied into the root: [program, path inside the image]. */
const PROGRAMS: readonly (readonly [string, string])[] = [
  [process.execPath, 'usr/local/bin/node'],
  ['ip', 'usr/bin/ip'],
  ['ping', 'usr/bin/ping'],
  ['tcpdump', 'usr/bin/tcpdump'],
  // /bin/sh is dash, as in Debian: busybox's ash prefers its own applets (its `ip` has no xfrm).
  ['dash', 'usr/bin/dash'],
];
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];
/** The marker the Dockerfile looks for: it skips apt-get and npm ci on this base. */
export const BASE_MARKER = 'etc/ikeway-local-base';

export interface BaseRootfs {
  readonly tarPath: string;
  readonly bytes: number;
  readonly files: number;
  readonly ms: number;
}

function which(program: string): string {
  if (program.startsWith('/')) return program;
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p.startsWith('/'))
    throw new LabError('LAB_UNSUPPORTED', `${program} not found on this machine (scripts/install-deps.sh)`);
  return p;
}

/** Shared libraries of an ELF file as absolute host paths, the dynamic loader included. */
export function sharedLibraries(file: string): string[] {
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) return []; // static (busybox) or not an ELF file
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** Where a host library goes in the merged-/usr image (/lib -> usr/lib, /lib64 -> usr/lib64). */
function imagePath(hostPath: string): string {
  return hostPath.startsWith('/usr/') ? hostPath.slice(1) : `usr${hostPath}`;
}

/** The production packages of package-lock.json present in node_modules (relative paths). */
export function productionPackages(root = ROOT): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages ?? {})
    .filter(([path, p]) => path.startsWith('node_modules/') && p.dev !== true)
    .map(([path]) => path)
    .filter((path) => existsSync(join(root, path)));
}

function copyFile(src: string, stage: string, dest: string): void {
  const to = join(stage, dest);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(src, to); // follows symlinks: the image gets the real file
  chmodSync(to, statSync(src).mode & 0o777);
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

/** Fills `stage` with the base root file system. */
export function stageBaseRootfs(stage: string, root = ROOT): void {
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'etc', 'tmp', 'root', 'opt/ikeway', 'run'])
    mkdirSync(join(stage, d), { recursive: true });
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(stage, l));
  chmodSync(stage, 0o755);
  chmodSync(join(stage, 'tmp'), 0o1777);
  const elfs: string[] = [];
  for (const [program, dest] of PROGRAMS) {
    const src = which(program);
    copyFile(src, stage, dest);
    elfs.push(src);
  }
  // Debian's node carries ~13 MB of debug info and symbols: not needed in a lab image that every run loads.
  if (spawnSync('sh', ['-c', 'command -v strip']).status === 0)
    spawnSync('strip', [join(stage, 'usr/local/bin/node')]);
  const busybox = BUSYBOX.find((p) => existsSync(p));
  if (busybox === undefined)
    throw new LabError('LAB_UNSUPPORTED', 'busybox-static not found (scripts/install-deps.sh)');
  copyFile(busybox, stage, 'usr/bin/busybox');
  symlinkSync('dash', join(stage, 'usr/bin/sh'));
  const applets = spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const a of applets) {
    if (!/^[\w.[-]+$/.test(a) || existsSync(join(stage, 'usr/bin', a))) continue;
    symlinkSync('busybox', join(stage, 'usr/bin', a));
  }
  for (const pkg of productionPackages(root)) {
    const src = join(root, pkg);
    // Nested node_modules are packages of their own in the lock: copied (or not) by their entry.
    cpSync(src, join(stage, 'opt/ikeway', pkg), {
      recursive: true,
      dereference: true,
      filter: (s) => s === src || !s.slice(src.length).includes('/node_modules'),
    });
    for (const f of findFiles(src, '.node')) elfs.push(f);
  }
  const libs = new Set(elfs.flatMap(sharedLibraries));
  for (const lib of libs) copyFile(lib, stage, imagePath(lib));
  writeFileSync(
    join(stage, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
  );
  writeFileSync(join(stage, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(stage, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  for (const f of ['etc/protocols', 'etc/services']) if (existsSync(`/${f}`)) copyFile(`/${f}`, stage, f);
  writeFileSync(
    join(stage, BASE_MARKER),
    `ikeway local base: node ${process.version}, iproute2, iputils-ping, tcpdump, busybox; ` +
      `production node_modules at /opt/ikeway (lab/docker/base-rootfs.ts)\n`,
  );
}

function findFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') out.push(...findFiles(p, suffix));
    else if (e.isFile() && e.name.endsWith(suffix)) out.push(p);
  }
  return out;
}

/** Writes the base root file system as an uncompressed tar for `docker import`. */
export function buildBaseRootfs(tarPath: string, root = ROOT): BaseRootfs {
  const started = Date.now();
  const stage = mkdtempSync(join(tmpdir(), 'ikw-base-'));
  try {
    stageBaseRootfs(stage, root);
    const files = countFiles(stage);
    mkdirSync(dirname(resolve(tarPath)), { recursive: true });
    const r = spawnSync(
      'tar',
      ['-C', stage, '--numeric-owner', '--owner=0', '--group=0', '-cf', resolve(tarPath), '.'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new LabError('LAB_BUILD', `tar of the base root failed: ${r.stderr.trim()}`);
    return { tarPath: resolve(tarPath), bytes: statSync(tarPath).size, files, ms: Date.now() - started };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
