// NOT YET IN THE SUITE (issue 20 item 2): the end-to-end run has not passed yet; rename to
// compose-lab.test.ts (with the `// @guest-pass` mark) once it does. Run by hand:
//   node --import tsx --test test/docker/compose-lab.wip.ts
// The Docker lab (docker/) for real: Debian's docker.io engine inside the guest kernel (the host has
// neither an engine nor ESP), the local base image, docker/compose.yaml built and brought up with
// docker-compose, a tunnel between the two router containers, LAN-to-LAN pings, the routers' ESP SA
// counters and a capture on the WAN bridge. One guest boot; the guest powers off in any case.
// The steps are test/docker/scripts/compose-lab.sh; docker/README.md says why each setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInGuest } from '../../lab/guest/guest.ts';
import { buildBaseRootfs } from '../../lab/docker/base-rootfs.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const isRoot = process.getuid?.() === 0;
const missing = ['dockerd', 'containerd', 'runc', 'docker-compose', 'qemu-system-x86_64'].filter(
  (p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0,
);
const skip = !isRoot
  ? 'needs root'
  : missing.length > 0
    ? `missing ${missing.join(', ')}: scripts/install-deps.sh`
    : false;

interface Sa {
  router: string;
  src: string;
  dst: string;
  bytes: number;
  packets: number;
}

/** The script's `IKW-DOCKER <key> <values...>` lines, by key. */
function report(stdout: string): Map<string, string[][]> {
  const m = new Map<string, string[][]>();
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'IKW-DOCKER' || f.length < 2) continue;
    m.set(f[1]!, [...(m.get(f[1]!) ?? []), f.slice(2)]);
  }
  return m;
}

const WAN = { 'router-a': '192.0.2.1', 'router-b': '192.0.2.2' } as const;

test(
  'docker compose up brings the tunnel up between two ikeway containers; ESP carries LAN traffic',
  { skip },
  async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'ikw-docker-'));
    try {
      const base = buildBaseRootfs(join(out, 'base.tar'), ROOT);
      t.diagnostic(
        `base image tar: ${(base.bytes / 1e6).toFixed(1)} MB, ${base.files} files, made in ${base.ms} ms`,
      );
      const run = await runInGuest({
        command: ['sh', 'test/docker/scripts/compose-lab.sh', base.tarPath, out],
        cwd: ROOT,
        outputDir: out,
        memoryMb: 3072,
        // Under TCG on a 2-core machine at load 25, engine + import + build alone took ~15 min (docker/README.md).
        timeoutMs: 2_400_000,
      });
      const r = report(run.stdout);
      const times = (r.get('time') ?? []).map(([k, v]) => `${k} ${v}s`).join(', ');
      t.diagnostic(
        `guest: boot ${run.bootMs} ms, wall ${run.wallMs} ms (queued ${run.queuedMs} ms); ${times}`,
      );
      t.diagnostic(`engine ${r.get('engine')?.[0]?.join(' ')}; compose ${r.get('compose')?.[0]?.join(' ')}`);
      const [lab, baseSize] = (r.get('image')?.[0] ?? []).map(Number);
      t.diagnostic(
        `images: ikeway-lab ${((lab ?? 0) / 1e6).toFixed(1)} MB, base ${((baseSize ?? 0) / 1e6).toFixed(1)} MB`,
      );
      const why = `\n--- guest stdout ---\n${run.stdout.slice(-4000)}\n--- stderr ---\n${run.stderr.slice(-2000)}`;
      assert.equal(r.get('fail'), undefined, `a step failed${why}`);
      assert.equal(run.status, 0, `script exit status${why}`);
      assert.match(r.get('engine')?.[0]?.join(' ') ?? '', /driver=overlay2/, why);
      assert.equal(r.get('project')?.[0]?.[0], '3', `networks named ikeway-lab_* (docker/.env)${why}`);

      // LAN to LAN, both ways: every echo answered.
      const pings = new Map((r.get('ping') ?? []).map(([dir, n]) => [dir!, Number(n)]));
      assert.equal(pings.get('a-to-b'), 5, why);
      assert.equal(pings.get('b-to-a'), 5, why);

      // The routers also route the LANs in clear text: only the SA counters and the WAN capture prove
      // that ESP carried the pings. Each router: an outbound SA (src = its WAN address) and an
      // inbound one (dst = its WAN address), both having counted at least the 10 echoes and replies.
      const sas: Sa[] = (r.get('sa') ?? []).map(([router, src, dst, , bytes, packets]) => ({
        router: router!,
        src: src!,
        dst: dst!,
        bytes: Number(bytes),
        packets: Number(packets),
      }));
      for (const [router, wan] of Object.entries(WAN)) {
        const mine = sas.filter((s) => s.router === router);
        const outSa = mine.find((s) => s.src === wan);
        const inSa = mine.find((s) => s.dst === wan);
        assert.ok(
          outSa && outSa.packets >= 10 && outSa.bytes > 0,
          `${router} outbound SA: ${JSON.stringify(mine)}`,
        );
        assert.ok(
          inSa && inSa.packets >= 10 && inSa.bytes > 0,
          `${router} inbound SA: ${JSON.stringify(mine)}`,
        );
      }
      const wan = Object.fromEntries(
        (r.get('wan')?.[0] ?? []).map((kv) => kv.split('=') as [string, string]),
      );
      assert.ok(Number(wan['esp']) >= 20, `ESP packets on the WAN bridge: ${JSON.stringify(wan)}`);
      assert.equal(Number(wan['icmp']), 0, 'no ICMP in clear text on the WAN');
      assert.equal(r.get('down')?.[0]?.[0], 'ok', `docker-compose down${why}`);
      // Keys never come back from the guest: the SA dumps were reduced to counters in the guest.
      assert.doesNotMatch(run.stdout, /0x[0-9a-f]{32,}/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
