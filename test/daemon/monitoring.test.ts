// examples/monitoring: the alert rules parse and "tunnel down" fires as documented (promtool test
// rules), every PromQL expression of the Grafana dashboard parses, and every ikeway metric the two
// name exists in src/daemon/metrics.ts. Skipped when promtool (Debian prometheus) is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const DIR = join(import.meta.dirname, '..', '..', 'examples', 'monitoring');
const METRICS_SRC = readFileSync(
  join(import.meta.dirname, '..', '..', 'src', 'daemon', 'metrics.ts'),
  'utf8',
);
const promtool = (args: string[], cwd = DIR) =>
  spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });

interface Panel {
  targets?: { expr: string }[];
}

function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as { panels: Panel[] };
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

test('every ikeway_* metric the alerts and the dashboard use is one the daemon exports', () => {
  const text = readFileSync(join(DIR, 'alerts.yml'), 'utf8') + dashboardExprs().join('\n');
  const used = new Set(text.match(/ikeway_[a-z_]+/g) ?? []);
  assert.ok(used.size >= 8, [...used].join(' '));
  for (const m of used) {
    const base = m.replace(/^ikeway_/, '');
    assert.ok(METRICS_SRC.includes(`'${base}'`), `${m} is not defined in src/daemon/metrics.ts`);
  }
});

test('promtool: the rules check, the tunnel-down unit test passes, the dashboard queries parse', (t) => {
  if (promtool(['--version']).status !== 0) {
    t.skip('promtool not installed (scripts/install-deps.sh installs prometheus)');
    return;
  }
  const check = promtool(['check', 'rules', 'alerts.yml']);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const unit = promtool(['test', 'rules', 'alerts.test.yml']);
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  // Each dashboard query as a recording rule, template variables filled in, so promtool parses it.
  const dir = mkdtempSync(join(tmpdir(), 'ikeway-dash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = dashboardExprs().map(
    (e, i) =>
      `      - record: dashboard_${i}\n        expr: ${JSON.stringify(e.replace(/\$(instance|connection)/g, '.*'))}`,
  );
  writeFileSync(join(dir, 'dash.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
  const dash = promtool(['check', 'rules', 'dash.yml'], dir);
  assert.equal(dash.status, 0, dash.stdout + dash.stderr);
  assert.match(dash.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
});
