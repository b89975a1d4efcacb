// The rekey lab's XFRM error counters (lab/interop/loss-count.ts xfrmStat) are the namespace's own,
// read from a process inside it: an XFRM drop made in a lab namespace shows there, and a namespace
// that does not exist is a precise error, not an empty baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { xfrmStat } from '../../lab/interop/loss-count.ts';
import { LabNs, labNsName, removeNamespaces } from '../../lab/netns/lab-ns.ts';

const skip = process.getuid?.() !== 0 ? 'needs root for namespaces' : false;

test('xfrmStat: the namespace own counters, read from inside it', { skip, timeout: 120_000 }, async (t) => {
  const name = labNsName('xstat');
  spawnSync('ip', ['netns', 'add', name]);
  t.after(() => removeNamespaces([name]));
  const ns = new LabNs(name, 'router-a');
  // Not on lo (its routes bypass XFRM): a veth pair inside the namespace.
  ns.ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  ns.ip('link', 'set', 'v0', 'up');
  ns.ip('link', 'set', 'v1', 'up');
  ns.ip('addr', 'add', '10.9.9.1/24', 'dev', 'v0');
  // An outbound block policy: every packet to 10.9.9.2 is dropped and counted (XfrmOutPolBlock).
  ns.ip('xfrm', 'policy', 'add', 'src', '10.9.9.1', 'dst', '10.9.9.2', 'dir', 'out', 'action', 'block');
  const before = await xfrmStat(ns);
  assert.ok(Object.keys(before).length > 10 && 'XfrmOutNoStates' in before, JSON.stringify(before));
  ns.tryExec('ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', '10.9.9.1', '10.9.9.2');
  const after = await xfrmStat(ns);
  assert.ok(
    after['XfrmOutPolBlock']! >= (before['XfrmOutPolBlock'] ?? 0) + 3,
    `the namespace's drops counted: ${JSON.stringify(after)}`,
  );
  await assert.rejects(
    xfrmStat(new LabNs(`${name}-none`, 'router-b')),
    /could not read \/proc\/net\/xfrm_stat/,
  );
});
