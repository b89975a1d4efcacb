// The Docker lab's image `ikeway-lab` as a `docker load` archive, made on this machine with no
// Docker engine: the local base (base-rootfs.ts) as the first layer, then docker/Dockerfile applied
// on top of it as the second. Building the Dockerfile inside the guest kernel costs one container
// per step under TCG (about 30 s each on a busy 2-core machine); here it costs a second, and the
// guest only loads the result. Only the instructions the Dockerfile uses are understood (ARG, FROM,
// WORKDIR, COPY, CMD, and the RUN that the local base skips): anything else is a precise error, so
// the archive cannot silently drift from the Dockerfile.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { LabError } from '../errors.ts';
import { BASE_MARKER, stageBaseRootfs } from './base-rootfs.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const IMAGE_TAG = 'ikeway-lab:latest';

export interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

/** Dockerfile instructions: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let acc = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (acc === '' && (line === '' || line.startsWith('#'))) return;
    if (line.startsWith('#')) return; // a comment inside a continued instruction
    if (acc === '') start = i + 1;
    acc += (acc ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const m = /^(\w+)\s+(.*)$/.exec(acc);
    if (!m) throw new LabError('LAB_BUILD', `Dockerfile line ${start}: not an instruction: ${acc}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: start });
    acc = '';
  });
  return out;
}

export interface ImagePlan {
  readonly workdir: string;
  readonly cmd: readonly string[];
  /** Files of the build context copied into the image: [source relative to the context, destination]. */
  readonly copies: readonly (readonly [string, string])[];
}

/** What the Dockerfile does on the local base (whose marker makes its RUN a no-op). */
export function planImage(dockerfile: string): ImagePlan {
  let workdir = '/';
  let cmd: string[] = [];
  const copies: [string, string][] = [];
  for (const ins of parseDockerfile(dockerfile)) {
    const at = `Dockerfile line ${ins.line} (${ins.op})`;
    switch (ins.op) {
      case 'ARG':
      case 'FROM': // the local base takes the place of the BASE argument
        break;
      case 'WORKDIR':
        workdir = posix.resolve(workdir, ins.args);
        break;
      case 'COPY': {
        const parts = ins.args.split(/\s+/);
        if (parts.some((p) => p.startsWith('--') || /[*?[]/.test(p)) || parts.length < 2)
          throw new LabError('LAB_BUILD', `${at}: only plain \`COPY <src>... <dest>\` is supported`);
        const dest = parts.pop()!;
        const base = posix.resolve(workdir, dest);
        for (const src of parts)
          copies.push([
            src,
            dest.endsWith('/') || parts.length > 1 ? posix.join(base, posix.basename(src)) : base,
          ]);
        break;
      }
      case 'RUN':
        if (!ins.args.startsWith(`if [ ! -e /${BASE_MARKER} ]`))
          throw new LabError('LAB_BUILD', `${at}: a RUN the local base does not skip cannot be applied here`);
        break;
      case 'CMD':
        try {
          cmd = JSON.parse(ins.args) as string[];
        } catch {
          throw new LabError('LAB_BUILD', `${at}: only the JSON form is supported`);
        }
        break;
      default:
        throw new LabError('LAB_BUILD', `${at}: not supported by the archive builder (lab/docker/image.ts)`);
    }
  }
  return { workdir, cmd, copies };
}

/** A .dockerignore pattern as a test on a context-relative path ('*' within a segment, '**' any). */
export function ignoreMatcher(text: string): (path: string) => boolean {
  const res = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((p) => {
      if (p.startsWith('!'))
        throw new LabError('LAB_BUILD', `.dockerignore: exceptions (${p}) are not supported`);
      const body = p
        .replace(/^\/+|\/+$/g, '')
        .split('/')
        .map((seg) =>
          seg === '**'
            ? '(?:.*/)?'
            : `${seg
                .replace(/[.+^${}()|\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]')}/`,
        )
        .join('');
      // A match on a directory excludes what is under it.
      return new RegExp(`^${body.replace(/\/$/, '')}(?:/.*)?$`);
    });
  return (path) => res.some((r) => r.test(path));
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function tarDir(dir: string, out: string): void {
  const r = spawnSync('tar', ['-C', dir, '--numeric-owner', '--owner=0', '--group=0', '-cf', out, '.'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new LabError('LAB_BUILD', `tar failed: ${r.stderr.trim()}`);
}

export interface ImageArchive {
  readonly path: string;
  readonly bytes: number;
  readonly imageId: string;
  readonly layers: readonly { readonly diffId: string; readonly bytes: number }[];
  readonly ms: number;
}

/** Writes `ikeway-lab:latest` (local base + docker/Dockerfile) as a `docker load` archive. */
export function buildImageArchive(outPath: string, root = ROOT): ImageArchive {
  const started = Date.now();
  const plan = planImage(readFileSync(join(root, 'docker/Dockerfile'), 'utf8'));
  const ignored = ignoreMatcher(readFileSync(join(root, '.dockerignore'), 'utf8'));
  const stage = mkdtempSync(join(tmpdir(), 'ikw-image-'));
  try {
    const base = join(stage, 'base-root');
    const app = join(stage, 'app-root');
    const archive = join(stage, 'archive');
    mkdirSync(base);
    stageBaseRootfs(base, root);
    mkdirSync(join(app, plan.workdir.slice(1)), { recursive: true });
    for (const [src, dest] of plan.copies) {
      const from = join(root, src);
      if (ignored(src)) throw new LabError('LAB_BUILD', `COPY ${src}: excluded by .dockerignore`);
      statSync(from); // a missing source fails here, with its path
      mkdirSync(dirname(join(app, dest)), { recursive: true });
      cpSync(from, join(app, dest), {
        recursive: true,
        filter: (s) => s === from || !ignored(relative(root, s)),
      });
    }
    const layers = [base, app].map((dir, i) => {
      const dirName = `layer${i}`;
      mkdirSync(join(archive, dirName), { recursive: true });
      const tar = join(archive, dirName, 'layer.tar');
      tarDir(dir, tar);
      return { dirName, diffId: `sha256:${sha256File(tar)}`, bytes: statSync(tar).size };
    });
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: new Date(started).toISOString(),
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        WorkingDir: plan.workdir,
        Cmd: plan.cmd,
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: [
        {
          created: new Date(started).toISOString(),
          created_by: 'ikeway lab docker-base (lab/docker/base-rootfs.ts)',
        },
        {
          created: new Date(started).toISOString(),
          created_by: 'docker/Dockerfile on the local base (lab/docker/image.ts)',
        },
      ],
    });
    const imageId = createHash('sha256').update(config).digest('hex');
    writeFileSync(join(archive, `${imageId}.json`), config);
    writeFileSync(
      join(archive, 'manifest.json'),
      JSON.stringify([
        {
          Config: `${imageId}.json`,
          RepoTags: [IMAGE_TAG],
          Layers: layers.map((l) => `${l.dirName}/layer.tar`),
        },
      ]),
    );
    rmSync(base, { recursive: true, force: true });
    rmSync(app, { recursive: true, force: true });
    mkdirSync(dirname(resolve(outPath)), { recursive: true });
    tarDir(archive, resolve(outPath));
    return {
      path: resolve(outPath),
      bytes: statSync(outPath).size,
      imageId: `sha256:${imageId}`,
      layers: layers.map(({ diffId, bytes }) => ({ diffId, bytes })),
      ms: Date.now() - started,
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
