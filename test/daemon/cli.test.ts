// The CLI surface of the daemon commands: an invalid policy never starts anything (exit 78, every
// problem as file:line:col), and help says how to call each command.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from './lab.ts';

test('ikeway daemon with an invalid policy: exit 78 with file:line:col, no socket created', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-daemon-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `control-socket: ./ctl.sock\nlocal: { address: 192.0.2.1 }\nconnections:\n  hq:\n    remote: 192.0.2.300\n`,
  );
  const r = cli(['daemon', '-c', file, '--kernel', 'memory']);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /bad\.yaml:5:13/);
  assert.match(r.stderr, /is invalid; fix it \(ikeway check /);
  assert.throws(() => rmSync(join(dir, 'ctl.sock')), /ENOENT/);
});

test('help: daemon options and the client commands', () => {
  const d = cli(['daemon', '--help']);
  assert.equal(d.code, 0);
  assert.match(d.stdout, /--kernel.*\n?.*NO traffic protection/);
  assert.match(d.stdout, /\[choices: "xfrm", "memory"\] \[default: "xfrm"\]/);
  const up = cli(['up']);
  assert.equal(up.code, 1);
  assert.match(up.stderr, /Not enough non-option arguments/);
});
