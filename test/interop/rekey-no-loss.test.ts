// @guest-pass: boots the guest kernel (scripts/run-tests.mjs runs it in its guest pass; about 5 min).
// Not one packet lost across rekeys (issue 13, RFC 7296 §2.8 make-before-break), with real kernel
// ESP in ONE guest boot, every flow in its own namespaces at the same time: a 100 packets/s ping
// flow through the tunnel while 8 Child SA rekeys and 2 IKE SA rekeys run, started by ikeway and, in
// a second phase, by the peer; peers strongSwan 5.9.8, Libreswan 4.10 and ikeway. Loss is counted
// from ping, from the ESP each router put on its WAN (capture) and from both kernels' XFRM error
// counters and SA counters (lab/interop/rekey-flow.ts collects the facts; every assertion is here).
// Times are diagnostics, never asserted.
//
// Zero loss is asserted wherever ikeway decides when a new SA is used. The one place it does not:
// Libreswan, answering ikeway's Child SA rekey, sends on its new SA at once, before ikeway (the
// initiator) can have installed the inbound SA (it needs the response's nonce and key share), so the
// packets of that window die on ikeway's larval SA (XfrmAcquireError on router-a). There the test
// asserts that nothing else is lost, and that every lost packet is one of those drops; strongSwan,
// which moves its outbound traffic only at the Delete, loses nothing in the same role.
// IKW_FLOW_SPECS=PEER,...,PEER@LOCAL,restart:PEER runs some flows only.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { withEspKernel } from '../../lab/guest/guest.ts';
import type { FlowFacts, PhaseFacts } from '../../lab/interop/rekey-flow.ts';
import type { RecoveryFacts } from '../../lab/interop/restart-recovery.ts';
import { libreswanUnavailable } from '../../lab/peers/libreswan.ts';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const HAVE_SWAN = existsSync(CHARON_BIN);
const HAVE_LIBRE = !libreswanUnavailable();
const PEERS = [...(HAVE_SWAN ? ['strongswan'] : []), ...(HAVE_LIBRE ? ['libreswan'] : []), 'ikeway'];
const listed = process.env['IKW_FLOW_SPECS']?.split(',').filter(Boolean);
// The restarted-peer recovery runs against strongSwan. The control flow `libreswan@strongswan`
// (strongSwan starts the rekeys against Libreswan: it loses packets the same way, which shows the loss
// is Libreswan's; docs/robustness.md) runs only when listed: it adds a fourth tunnel to the suite's
// boot, and in one early run strongSwan's IKE_AUTH to Libreswan went unanswered.
const SPECS = listed?.length ? listed : [...PEERS, ...(HAVE_SWAN ? ['restart:strongswan'] : [])];
const GUEST_MS = 900_000;
const norm = (s: string) => s.replace(/^0x/, '').toLowerCase().padStart(8, '0');
/** Flows whose rekeys ikeway starts while the peer sends on its new SA at once (see the header). */
const PEER_SENDS_EARLY = new Set(['libreswan']);

function summary(spec: string, flow: FlowFacts, f: PhaseFacts): string {
  const child = f.rekeys.filter((r) => r.what === 'child').length;
  const ike = f.rekeys.filter((r) => r.what === 'ike').length;
  return (
    `${spec} (${flow.peerVersion}; router-a ${flow.local}), rekeys by ${f.by}: ${child} Child + ${ike} IKE ` +
    `in a ${f.flowMs} ms flow; ping ${f.ping.sent} sent, ${f.ping.counted} counted, ${f.ping.lost} lost ` +
    `[${f.ping.lostRanges}]${f.ping.note ? ` (${f.ping.note})` : ''}; WAN ESP a ${f.capture.a.esp} b ${f.capture.b.esp}; ` +
    `xfrm errors a ${JSON.stringify(f.routers.a.xfrmErrors)} b ${JSON.stringify(f.routers.b.xfrmErrors)}; ` +
    `timeline ${f.timeline.join(' | ')}` +
    (f.timings?.length ? `\n  ${f.timings.join('\n  ')}` : '')
  );
}

test(
  'no packet lost across Child and IKE SA rekeys, both starters, every peer',
  // The guest run (GUEST_MS) plus the longest wait for the machine's guest slot (guest-slots.ts).
  { skip: process.getuid?.() !== 0 && 'needs root', timeout: GUEST_MS + 20 * 60_000 + 60_000 },
  async (t) => {
    const run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'test/interop/scripts/rekey-flow-run.ts', ...SPECS],
      cwd: ROOT,
      // Every flow at once, each in its own namespaces: one boot, the wall time of the slowest.
      env: { ...(await bundleEnv()), IKW_FLOW_CONCURRENCY: String(Math.min(6, SPECS.length)) },
      modules: [...LAB_MODULES],
      timeoutMs: GUEST_MS,
      // IKW_FLOW_LOGDIR=DIR keeps the guest's stdout/stderr there (readable while it runs).
      ...(process.env['IKW_FLOW_LOGDIR'] && { outputDir: process.env['IKW_FLOW_LOGDIR'] }),
    });
    t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms, exit ${run.status}`);
    const results = new Map<string, FlowFacts>();
    for (const line of run.stdout.split('\n'))
      if (line.startsWith('IKW-FLOW-RESULT ')) {
        const r = JSON.parse(line.slice('IKW-FLOW-RESULT '.length)) as { spec: string; facts: FlowFacts };
        results.set(r.spec, r.facts);
      }
    const tail = `\n--- runner stderr (tail) ---\n${run.stderr.slice(-3000)}`;
    for (const spec of SPECS.filter((s) => s.startsWith('restart:')))
      await t.test(spec, () => {
        const f = results.get(spec) as unknown as RecoveryFacts | undefined;
        assert.ok(f, `no result for ${spec}${tail}`);
        t.diagnostic(
          `${spec} (${f.peerVersion}): tunnel agreed ${f.agreedMs} ms and traffic back ${f.trafficMs} ms after the ` +
            `peer restarted (and initiated); restart hints ${f.restartHints}\n${f.ikewayLines.join('\n')}`,
        );
        assert.equal(f.error, null, `${f.error}\n${f.ikewayLines.join('\n')}${tail}`);
        // The restarted peer's INITIAL_CONTACT made ikeway drop the stale IKE SA at once (RFC 7296 §2.4).
        assert.ok(
          f.ikewayLines.some((l) => /INITIAL_CONTACT/.test(l)),
          'ikeway logged the INITIAL_CONTACT clean-up',
        );
        assert.ok(f.trafficMs !== null && f.agreedMs !== null);
      });
    for (const spec of SPECS.filter((s) => s.includes('@')))
      await t.test(`${spec}: control flow, rekeys started by ${spec.split('@')[1]} on router-a`, () => {
        const flow = results.get(spec);
        assert.ok(flow, `no result for ${spec}${tail}`);
        for (const f of flow.phases) t.diagnostic(summary(spec, flow, f));
        assert.equal(flow.error, null, `${flow.error}\n${flow.evidence.join('\n')}`);
        const f = flow.phases[0];
        assert.ok(f, 'the phase ran');
        for (const r of f.rekeys) assert.ok(r.ok, `${r.what} rekey: ${r.detail}`);
        assert.ok(f.ping.counted > 0, `the flow ran${f.ping.note ? `: ${f.ping.note}` : ''}`);
      });
    for (const spec of SPECS.filter((s) => !s.startsWith('restart:') && !s.includes('@')))
      for (const by of ['ikeway', 'peer'] as const)
        await t.test(`${spec}: rekeys started by ${by === 'peer' ? spec : 'ikeway'}`, () => {
          const flow = results.get(spec);
          assert.ok(flow, `no result for ${spec}${tail}`);
          const f = flow.phases.find((p) => p.by === by);
          const loss = (f?.snapshots ?? [])
            .map((s) => `--- tables at ${s.at} ms (last reply seq ${s.lastReplySeq})\n${s.text}`)
            .join('\n');
          const why = `\n${flow.evidence.join('\n')}\n${loss}`;
          assert.equal(flow.error, null, `${flow.error}${why}`);
          assert.ok(f, `no ${by} phase${why}`);
          t.diagnostic(summary(spec, flow, f));
          const child = f.rekeys.filter((r) => r.what === 'child');
          const ike = f.rekeys.filter((r) => r.what === 'ike');
          // The rekeys happened, all of them, during the flow.
          for (const r of f.rekeys) assert.ok(r.ok, `${r.what} rekey: ${r.detail}${why}`);
          assert.ok(child.length >= 3, `Child SA rekeys: ${child.length}`);
          assert.ok(ike.length >= 1, `IKE SA rekeys: ${ike.length}`);
          // A steady flow: at least 7 s of it at 100 packets/s (the plan runs ~15 s).
          assert.ok(f.ping.counted >= 700, `a steady flow: ${f.ping.sent} sent${f.ping.note ?? ''}`);
          const a = f.routers.a.xfrmErrors;
          if (by === 'ikeway' && PEER_SENDS_EARLY.has(spec)) {
            // The peer's early sending (header): only packets on ikeway's not yet installed inbound
            // SA may die, counted by router-a's kernel; nothing else, nowhere else.
            const { XfrmAcquireError: early = 0, ...other } = a;
            assert.deepEqual(other, {}, `router-a XFRM errors besides the early ones${why}`);
            assert.ok(f.ping.lost <= early, `lost ${f.ping.lost}, on larval SAs ${early}${why}`);
          } else {
            // 0 packets lost, from host-a's ping (every request sent before the last second answered) ...
            assert.equal(f.ping.lost, 0, `ping lost ${f.ping.lost}: seqs ${f.ping.lostRanges}${why}`);
            // ... from the wire: every counted request left router-a as ESP and router-b answered
            // every one as ESP (the last second's may be in flight when the flow stops) ...
            assert.ok(f.capture.a.esp >= f.ping.counted, `ESP router-a sent on its WAN: ${f.capture.a.esp}`);
            assert.ok(f.capture.b.esp >= f.ping.counted, `ESP router-b sent on its WAN: ${f.capture.b.esp}`);
            // ... and from both kernels: no packet dropped for want of an SA or policy (XfrmOutNoStates,
            // XfrmAcquireError, XfrmInNoStates, XfrmInNoPols ...) or for any other XFRM error.
            assert.deepEqual(a, {}, `router-a XFRM error counters${why}`);
          }
          assert.equal(f.capture.a.cleartext + f.capture.b.cleartext, 0, `nothing in clear on the WAN${why}`);
          assert.deepEqual(f.routers.b.xfrmErrors, {}, `router-b XFRM error counters${why}`);
          // The traffic ended on the newest Child SA, both ways, in both kernels (the switch
          // happened; when each side moved is up to it: strongSwan moves at the Delete).
          const { in: spiIn, out: spiOut } = child.at(-1)!.esp!;
          const at = (site: 'a' | 'b', spi: string, dir: 'in' | 'out') =>
            f.routers[site].sas.find((x) => norm(x.spi) === spi && x.dir === dir)?.packets ?? 0;
          assert.ok(
            at('a', spiOut, 'out') > 0 && at('b', spiOut, 'in') > 0,
            `a->b on the newest SA ${spiOut}`,
          );
          assert.ok(at('b', spiIn, 'out') > 0 && at('a', spiIn, 'in') > 0, `b->a on the newest SA ${spiIn}`);
          assert.ok(flow.agreedAtEnd, `${spec} reports the same Child SA as ikeway at the end`);
        });
  },
);
