// @guest-pass
// The HA lab with real ESP (lab/ha/lab.ts, kernel xfrm), ONE guest boot for its three scenarios,
// each in its own namespaces (set up side by side, failovers one after the other): two ikeway nodes
// behind one VRRP address (keepalived in both namespaces), a site-B peer, a steady LAN-to-LAN ping
// through the tunnel; every process of the active node gets SIGKILL and its link goes down.
// - ikeway peer, strongSwan 5.9.8 peer (sync): the peer keeps its IKE SA and Child SA SPIs
//   (strongSwan: `swanctl --list-sas` before/after, no IKE_SA_INIT in its log after the kill, every
//   request answered with its message ID), the ping gets through again, a Child SA rekey after the
//   failover succeeds, the old node resyncs as standby.
// - no sync (the sync link down from the start, strongSwan peer): the promoted node holds nothing,
//   initiates a new IKE SA, strongSwan replaces its stale one, the ping gets through again.
// Packets lost, the longest gap and the seconds to each step are reported (docs/ha.md), never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { reestablished, takenOver, trafficResumed } from './ha-checks.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const HAVE_SWAN = existsSync(CHARON_BIN);
const NAMES = HAVE_SWAN ? ['ikeway', 'strongswan', 'nosync'] : ['ikeway'];

test(
  'HA lab, real ESP: failover keeps the SAs (ikeway and strongSwan peers), re-establishes without sync',
  { skip: process.getuid?.() !== 0 && 'needs root', timeout: 45 * 60_000 },
  async (t) => {
    const run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'lab/ha/lab.ts', 'xfrm', NAMES.join(',')],
      cwd: ROOT,
      env: await bundleEnv(),
      modules: ['bridge'],
      timeoutMs: 600_000,
      slotWaitMs: 45 * 60_000, // the one guest slot is shared machine-wide
      // IKW_HA_LOGDIR=DIR keeps the guest's stdout/stderr there (readable while it runs).
      ...(process.env['IKW_HA_LOGDIR'] && { outputDir: process.env['IKW_HA_LOGDIR'] }),
    });
    t.diagnostic(
      `ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms, queued ${run.queuedMs} ms`,
    );
    const start = run.stdout.indexOf('{');
    const tail = `\n--- stderr ---\n${run.stderr.slice(-3000)}\n--- console ---\n${run.console.slice(-1500)}`;
    assert.ok(start >= 0, `no report${tail}`);
    const out = JSON.parse(run.stdout.slice(start)) as {
      wallMs: number;
      scenarios: Record<string, Record<string, unknown>>;
    };
    t.diagnostic(`lab wall ${out.wallMs} ms`);
    for (const [name, r] of Object.entries(out.scenarios)) {
      const { logs, ...facts } = r;
      t.diagnostic(`${name}: ${JSON.stringify(facts).slice(0, 4000)}`);
      if (logs) t.diagnostic(`${name} logs: ${JSON.stringify(logs)}`);
    }
    const r = out.scenarios;
    takenOver(r.ikeway!, 'ikeway');
    trafficResumed(r.ikeway!);
    if (!HAVE_SWAN) return t.diagnostic('strongSwan scenarios skipped: no charon');
    takenOver(r.strongswan!, 'strongswan');
    assert.ok(r.strongswan!.peerWireAfterKill, 'strongSwan wire report');
    trafficResumed(r.strongswan!);
    reestablished(r.nosync!, 'nosync');
    trafficResumed(r.nosync!);
  },
);
