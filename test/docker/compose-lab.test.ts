// @guest-pass: about 5 minutes of guest time in the suite (docker/README.md).
// Run alone: node scripts/run-tests.mjs --guest-only compose-lab
// The Docker labs (docker/) for real: Debian's docker.io engine inside the guest kernel (the host has
// neither an engine nor ESP), the image ikeway-lab made on the host from this tree (the local base and
// docker/Dockerfile, lab/docker/image.ts) and loaded there, then docker/compose.yaml (policy-based)
// and docker/compose.route-based.yaml (ikeway-owned XFRM interfaces) brought up side by side with
// docker-compose: per lab a tunnel between the two router containers, LAN-to-LAN pings both ways,
// the routers' ESP SA counters and a capture on the WAN bridge. One guest boot; the guest powers off
// in any case. The steps are test/docker/scripts/compose-lab.sh; docker/README.md says why each setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInGuest } from '../../lab/guest/guest.ts';
import { buildImageArchive } from '../../lab/docker/image.ts';

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
  lab: string;
  router: string;
  src: string;
  dst: string;
  bytes: number;
  packets: number;
  ifId: string;
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

/** Per compose project: the routers' WAN addresses and the if_id of its SAs ('-': policy-based). */
const LABS = {
  'ikeway-lab': { wan: { 'router-a': '192.0.2.1', 'router-b': '192.0.2.2' }, ifId: '-' },
  'ikeway-route': { wan: { 'router-a': '203.0.113.1', 'router-b': '203.0.113.2' }, ifId: '0x7' },
} as const;

test(
  'docker-compose up: policy-based and route-based tunnels between ikeway containers; ESP carries LAN traffic',
  { skip },
  async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'ikw-docker-'));
    try {
      // Made from this tree on every run (never a cached image: a stale one once crashed the routers).
      const image = buildImageArchive(join(out, 'ikeway-lab.tar'), ROOT);
      t.diagnostic(
        `image archive: ${(image.bytes / 1e6).toFixed(1)} MB (${image.layers.map((l) => (l.bytes / 1e6).toFixed(1)).join(' + ')} MB layers), made in ${image.ms} ms`,
      );
      const run = await runInGuest({
        command: ['sh', 'test/docker/scripts/compose-lab.sh', image.path, out],
        cwd: ROOT,
        outputDir: out,
        memoryMb: 3072,
        modules: ['xfrm_interface'],
        // Bounds a machine at full load; measured figures are in docker/README.md.
        timeoutMs: 1_800_000,
        // Run by hand on a busy machine; in the suite the runner holds the slot and this never waits.
        slotWaitMs: 3_600_000,
      });
      const r = report(run.stdout);
      const times = (r.get('time') ?? []).map(([k, v]) => `${k} ${v}s`).join(', ');
      t.diagnostic(
        `guest: boot ${run.bootMs} ms, wall ${run.wallMs} ms (queued ${run.queuedMs} ms); ${times}`,
      );
      t.diagnostic(`engine ${r.get('engine')?.[0]?.join(' ')}; image ${r.get('image')?.[0]?.join(' ')}`);
      const why = `\n--- guest stdout ---\n${run.stdout.slice(-4000)}\n--- stderr ---\n${run.stderr.slice(-2000)}`;
      assert.equal(r.get('fail'), undefined, `a step failed${why}`);
      assert.equal(run.status, 0, `script exit status${why}`);
      assert.match(r.get('engine')?.[0]?.join(' ') ?? '', /driver=overlay2/, why);
      // The image the guest runs is the one made from this tree.
      assert.equal(r.get('image')?.[0]?.[0], image.imageId, why);
      const projects = new Map((r.get('project') ?? []).map(([p, n]) => [p!, n]));
      const pings = new Map((r.get('ping') ?? []).map(([p, dir, n]) => [`${p} ${dir}`, Number(n)]));
      const wans = new Map(
        (r.get('wan') ?? []).map(([p, ...kvs]) => [
          p!,
          Object.fromEntries(kvs.map((kv) => kv.split('=') as [string, string])),
        ]),
      );
      const sas: Sa[] = (r.get('sa') ?? []).map(([who, src, dst, , bytes, packets, ifId]) => ({
        lab: who!.split('/')[0]!,
        router: who!.split('/')[1]!,
        src: src!,
        dst: dst!,
        bytes: Number(bytes),
        packets: Number(packets),
        ifId: ifId!,
      }));
      for (const [lab, { wan, ifId }] of Object.entries(LABS)) {
        assert.equal(projects.get(lab), '3', `${lab}: networks named ${lab}_*${why}`);
        // LAN to LAN, both ways: every echo answered.
        assert.equal(pings.get(`${lab} a-to-b`), 5, `${lab} a-to-b${why}`);
        assert.equal(pings.get(`${lab} b-to-a`), 5, `${lab} b-to-a${why}`);
        // Only the SA counters and the WAN capture prove that ESP carried the pings (the policy-based
        // routers also route the LANs in clear). Each router: an outbound SA (src = its WAN address)
        // and an inbound one (dst = its WAN address), each having counted the 10 echoes and replies.
        for (const [router, addr] of Object.entries(wan)) {
          const mine = sas.filter((s) => s.lab === lab && s.router === router);
          const outSa = mine.find((s) => s.src === addr);
          const inSa = mine.find((s) => s.dst === addr);
          for (const [dir, sa] of [
            ['outbound', outSa],
            ['inbound', inSa],
          ] as const) {
            assert.ok(
              sa && sa.packets >= 10 && sa.bytes > 0,
              `${lab} ${router} ${dir} SA: ${JSON.stringify(mine)}`,
            );
            assert.equal(sa.ifId, ifId, `${lab} ${router} ${dir} SA if_id`);
          }
        }
        const w = wans.get(lab) ?? {};
        assert.ok(Number(w['esp']) >= 20, `${lab}: ESP packets on the WAN bridge: ${JSON.stringify(w)}`);
        assert.equal(Number(w['icmp']), 0, `${lab}: no ICMP in clear text on the WAN`);
      }
      // Route-based: ikeway made the XFRM interface (if_id 7) and routed the other LAN into it.
      const xfrmi = new Map((r.get('xfrmi') ?? []).map(([router, ...rest]) => [router!, rest.join(' ')]));
      assert.equal(xfrmi.get('router-a'), 'ipsec-b if_id=0x7 route=1', why);
      assert.equal(xfrmi.get('router-b'), 'ipsec-a if_id=0x7 route=1', why);
      const downs = new Map((r.get('down') ?? []).map(([p, v]) => [p!, v]));
      assert.equal(downs.get('ikeway-lab'), 'ok', `docker-compose down${why}`);
      assert.equal(downs.get('ikeway-route'), 'ok', `docker-compose down${why}`);
      // Keys never come back from the guest: the SA dumps were reduced to counters in the guest.
      assert.doesNotMatch(run.stdout, /0x[0-9a-f]{32,}/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
