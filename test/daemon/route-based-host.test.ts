// Route-based start on the host kernel (no ESP, no xfrm interfaces): an interface name held by an
// interface ikeway did not create stops the start at the config line (exit 78), and a kernel
// without xfrm interfaces gives a precise error; either way nothing is left in the kernel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, Lab, configText, isRoot, nsExec } from './lab.ts';

const A = '192.0.2.1';
const iface = (name: string) => `    interface:\n      name: ${name}\n      if-id: 42\n`;

function runDaemon(lab: Lab): { status: number | null; out: string } {
  const s = lab.side(0);
  const r = spawnSync(
    'ip',
    ['netns', 'exec', s.ns, process.execPath, BIN, 'daemon', '-c', s.config, '--kernel', 'xfrm'],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test(
  'route-based on the host: a name taken by another interface, and a kernel without xfrm interfaces',
  { skip: !isRoot && 'needs root (network namespace)' },
  (t) => {
    const lab = new Lab([A]);
    t.after(() => lab.close());
    const s = lab.side(0);
    const conn = {
      name: 'site',
      remote: '192.0.2.2',
      local: '10.1.0.0/24',
      remoteNet: '10.2.0.0/24',
      start: 'wait',
    };
    nsExec(s.ns, ['ip', 'link', 'add', 'ipsec-t', 'type', 'veth', 'peer', 'name', 'ipsec-tp']);
    lab.writeConfig(0, configText(A, [{ ...conn, extra: iface('ipsec-t') }]));
    const taken = runDaemon(lab);
    assert.equal(taken.status, 78, taken.out);
    assert.match(
      taken.out,
      /:15:13: connections\.site\.interface\.name: ipsec-t is already a veth interface that ikeway did not create; choose another name, or remove that interface/,
    );
    assert.equal(nsExec(s.ns, ['ip', 'xfrm', 'policy']).trim(), '', 'no policy left');
    assert.match(
      nsExec(s.ns, ['ip', '-d', 'link', 'show', 'ipsec-t']),
      /veth/,
      'the other interface is untouched',
    );

    lab.writeConfig(0, configText(A, [{ ...conn, extra: iface('ipsec-free') }]));
    const unsupported = runDaemon(lab);
    assert.notEqual(unsupported.status, 0);
    assert.match(
      unsupported.out,
      /RTM_NEWLINK xfrm ipsec-free if_id 42: UNSUPPORTED \(kernel has no xfrm interfaces \(EOPNOTSUPP\)\)/,
    );
    assert.equal(nsExec(s.ns, ['ip', 'xfrm', 'policy']).trim(), '', 'no policy left');
    assert.equal(spawnSync('ip', ['-n', s.ns, 'link', 'show', 'ipsec-free']).status, 1, 'no interface left');
    const record = readFileSync(join(s.dir, 'state', 'kernel-links.json'), 'utf8');
    assert.doesNotMatch(record, /ipsec-free/, 'a failed creation leaves no record');
  },
);
