// The host-namespace HA lab (lab/ha/lab.ts, IKE level with --kernel memory): keepalived moves the
// shared address after SIGKILL of the active node; the standby takes over the peer's IKE SA (same
// SPIs, one IKE SA), a Child SA rekey succeeds after it, and the old node resyncs as standby. The
// seconds it took are reported (docs/ha.md), never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { runHaLab } from '../../lab/ha/lab.ts';

const isRoot = process.getuid?.() === 0;
const haveKeepalived = existsSync('/usr/sbin/keepalived');

test(
  'HA lab: SIGKILL of the active node, the standby carries the same IKE SA on, the old node resyncs',
  { skip: (!isRoot && 'needs root') || (!haveKeepalived && 'needs keepalived'), timeout: 240_000 },
  async () => {
    const r = await runHaLab();
    assert.equal(r.error, undefined, `lab failed: ${String(r.error)}`);
    assert.equal(r.peerIkeSaUnchanged, true, 'the peer kept its IKE SA SPIs');
    assert.equal(r.peerIkeSas, 1, 'no second IKE SA on the peer');
    assert.equal(r.childRekeyAfterFailover, true);
    assert.equal(r.oldNodeResyncedAsStandby, true);
    assert.equal(r.oldNodeRecords, 1);
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`-${process.pid}-`));
    assert.deepEqual(left, [], 'no namespace left behind');
    process.stdout.write(
      `# HA lab: kill -> promoted ${String(r.secondsKillToPromoted)} s, kill -> peer request answered ${String(r.secondsKillToPeerRequestAnswered)} s\n`,
    );
  },
);
