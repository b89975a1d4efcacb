// The common interop matrix (lab/interop/cells.ts, every cell, both ikeway roles) against strongSwan
// 6.0.6 as a third peer, at the IKE level on the host: each cell has its own lab namespaces (NAT
// router and fragment-dropping WAN included), ikeway runs the bundled daemon with its in-memory
// kernel and charon 6.0.6 keeps its SAs in kernel-libipsec (the host kernel has no ESP). Each cell
// checks what both daemons report: the same IKE SPIs and, crosswise, the same ESP SPIs; the rekeys
// (base cell), IKE fragments both ways (fragmentation cell), the IKE SA cleared after the peer is
// killed and back after its restart (liveness cell), and a clean delete on both sides. Traffic and
// kernel counters are the guest matrix's part (matrix-strongswan.test.ts runs 5.9.8 there).
// kernel-libipsec has tunnel mode only: the transport cell is reported as not run here.
// Results: out/interop/strongswan6-host-{initiator,responder}.jsonl (docs/interop.md after
// `npm run report:interop`). IKW_MATRIX_CELLS=ROLE:CELL,... runs some cells only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundledCli } from '../../lab/guest/bundle.ts';
import { cellById } from '../../lab/interop/cells.ts';
import { saveRun } from '../../lab/interop/results.ts';
import { preparePkis, runCell } from '../../lab/interop/run-cell.ts';
import { StrongswanPeer } from '../../lab/interop/strongswan-peer.ts';
import type { CellResult, Role } from '../../lab/interop/types.ts';
import { ensureStrongswan6, STRONGSWAN_6 } from '../../lab/peers/strongswan.ts';
import { matrixSpecs } from './matrix-harness.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : (ensureStrongswan6() ?? false);
/** Cells at once: each is two mostly idle daemons; the liveness cells wait ~15 s for the timeout. */
const CONCURRENCY = 6;

test(
  'interop matrix, IKE level on the host: strongSwan 6.0.6, ikeway initiator and responder',
  { skip, timeout: 300_000 },
  async (t) => {
    // The liveness cells are the longest: first, so that the slots end together.
    const specs = matrixSpecs().sort(
      (a, b) => Number(b.endsWith(':liveness')) - Number(a.endsWith(':liveness')),
    );
    const started = Date.now();
    const pki = mkdtempSync(join(tmpdir(), `ikw-mx6-${process.pid}-`));
    t.after(() => rmSync(pki, { recursive: true, force: true }));
    preparePkis(pki, [...new Set(specs.map((s) => s.split(':')[1]!))].map(cellById));
    await bundledCli(); // once, before the slots race for it
    const results: CellResult[] = [];
    const queue = [...specs];
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
          const [role, id] = s.split(':') as [Role, string];
          const lines: string[] = [];
          const r = await runCell({
            peer: new StrongswanPeer(STRONGSWAN_6, { libipsec: true }),
            cell: cellById(id),
            role,
            pkiRoot: pki,
            ikeOnly: true,
            log: (l) => lines.push(l),
          });
          results.push(r);
          t.diagnostic(`${s}: ${r.result} in ${r.seconds} s${r.result === 'pass' ? '' : `: ${r.why}`}`);
        }
      }),
    );
    const wallSeconds = Math.round((Date.now() - started) / 1000);
    const finished = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    for (const role of ['initiator', 'responder'] as const) {
      const mine = results.filter((r) => r.role === role);
      if (mine.length === 0) continue;
      const file = saveRun(
        {
          peer: 'strongswan6',
          part: `host-${role}`,
          generatedAt: finished,
          where: 'host',
          kernel: 'none (IKE only: ikeway in-memory kernel, charon kernel-libipsec)',
          wallSeconds: Math.round(wallSeconds / 2),
          command: `matrix-strongswan6-host.test.ts ${mine.map((r) => `${role}:${r.cell}`).join(' ')}`,
          results: mine,
        },
        { merge: Boolean(process.env['IKW_MATRIX_CELLS']) },
      );
      t.diagnostic(`strongswan6 host ${role} results: ${file} (wall ${wallSeconds} s for both roles)`);
    }
    for (const spec of specs)
      await t.test(spec, () => {
        const [role, id] = spec.split(':') as [Role, string];
        const r = results.find((x) => x.role === role && x.cell === id);
        assert.ok(r, `no result for ${spec}`);
        if (r.result === 'unsupported') {
          assert.match(r.why, /kernel-libipsec, which has tunnel mode only/);
          assert.equal(cellById(id).mode, 'transport');
          return;
        }
        assert.equal(r.result, 'pass', `${r.why}\n${r.evidence.join('\n')}`);
        for (const step of ['up', 'delete'])
          assert.ok(
            r.steps.some((s) => s.step === step && s.ok),
            `step ${step} missing`,
          );
        assert.ok(!r.steps.some((s) => /^traffic/.test(s.step)), 'no traffic step in an IKE-only run');
      });
  },
);
