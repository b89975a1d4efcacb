// `ikeway check`: exit codes, every problem on stderr as file:line:col, --json for tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tempDir } from './helpers.ts';

const bin = new URL('../../bin/ikeway.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

const BAD = `local:
  address: 192.0.2.1
connections:
  hq:
    remote: 192.0.2.2
    auth: { psk: { file: hq.psk } }
    remote-subnet: [10.2.0.0/24]
`;

test('check on a bad file lists every problem with file:line:col and exits 1', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const file = tmp.write('bad.yaml', BAD, 0o644);
  tmp.write('hq.psk', 'a-secret-that-is-long-enough-1234', 0o644);
  const r = run('check', file);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    `${file}:6:26: connections.hq.auth.psk.file: ${tmp.dir}/hq.psk is accessible by group or others (mode 644); ` +
      `run: chmod 600 ${tmp.dir}/hq.psk`,
    `${file}:7:5: connections.hq.remote-subnet: unknown key "remote-subnet"; did you mean "remote-subnets"?`,
    `${file}: 2 errors; nothing was started`,
  ]);
  assert.ok(!r.stderr.includes('a-secret-that'));
});

test('check --json reports ok, connections and problems as data', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const file = tmp.write('bad.yaml', BAD);
  tmp.write('hq.psk', 'a-secret-that-is-long-enough-1234');
  const r = run('check', '--json', file);
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout) as {
    ok: boolean;
    problems: { code: string; line: number; col: number }[];
  };
  assert.equal(out.ok, false);
  assert.deepEqual(
    out.problems.map((p) => `${p.code}@${p.line}:${p.col}`),
    ['E_UNKNOWN_KEY@7:5'],
  );
  const good = tmp.write('good.yaml', BAD.replace('remote-subnet:', 'remote-subnets:'));
  const g = run('check', '--json', good);
  assert.equal(g.status, 0, g.stderr);
  assert.deepEqual(JSON.parse(g.stdout), { ok: true, file: good, connections: ['hq'], problems: [] });
});

test('check on a missing file says so and exits 1; --help describes the command', () => {
  const r = run('check', '/nonexistent/ikeway.yaml');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^\/nonexistent\/ikeway\.yaml:1:1: cannot read: no such file; check the path/);
  const h = run('check', '--help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /ikeway check \[file\]/);
  assert.match(h.stdout, /--print-schema/);
});

test('check: a peer name that does not resolve is an error at the value (the system resolver, .invalid never resolves)', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const file = tmp.write(
    'name.yaml',
    BAD.replace('remote: 192.0.2.2', 'remote: nowhere.invalid').replace(
      '    remote-subnet: [10.2.0.0/24]\n',
      '',
    ),
  );
  tmp.write('hq.psk', 'a-secret-that-is-long-enough-1234', 0o600);
  const r = run('check', file);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.match(
    lines[0]!,
    new RegExp(`^${file}:5:13: connections\\.hq\\.remote: "nowhere\\.invalid" does not resolve: `),
  );
  assert.equal(lines.at(-1), `${file}: 1 error; nothing was started`);
});
