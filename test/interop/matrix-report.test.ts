// The matrix's pure parts: cells as data (one dimension changed from the base cell), their lab
// topologies, the runner-output parser and the docs/interop.md renderer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_CELL, CELLS, cellById, cellTopology } from '../../lab/interop/cells.ts';
import { mergeRun, renderReport, type MatrixRun } from '../../lab/interop/report.ts';
import type { CellResult, CellSpec } from '../../lab/interop/types.ts';
import { publishRuns, saveRun } from '../../lab/interop/results.ts';
import { parseRunnerOutput } from './matrix-harness.ts';

/** The matrix's dimensions; the family dimension covers both WAN and LAN family (mixed cell). */
const DIMENSIONS: Record<string, (c: CellSpec) => unknown> = {
  auth: (c) => c.auth,
  family: (c) => `${c.wanFamily}/${c.lanFamily}`,
  mode: (c) => c.mode,
  nat: (c) => c.nat,
  fragmentation: (c) => c.fragmentation,
  algorithms: (c) => `${c.ike} ${c.esp}`,
  liveness: (c) => c.liveness,
};

test('every cell changes exactly one dimension of the base cell (fragmentation: RSA + chain)', () => {
  assert.equal(new Set(CELLS.map((c) => c.id)).size, CELLS.length);
  for (const c of CELLS.filter((x) => x !== BASE_CELL)) {
    const changed = Object.keys(DIMENSIONS).filter((k) => DIMENSIONS[k]!(c) !== DIMENSIONS[k]!(BASE_CELL));
    const want = c.id === 'fragmentation' ? ['auth', 'fragmentation'] : [changed[0]];
    assert.deepEqual(changed, want, c.id);
    assert.equal(c.rekeys, false, `${c.id}: rekeys are checked in the base cell only`);
  }
  assert.throws(() => cellById('nope'), /unknown interop cell nope/);
});

test('the NAT router stands in front of the initiator; transport cells have no LANs', () => {
  const nat = cellById('nat');
  assert.equal(cellTopology(nat, 'initiator').nat?.site, 'a');
  assert.equal(cellTopology(nat, 'responder').nat?.site, 'b');
  assert.equal(cellTopology(BASE_CELL, 'initiator').nat, undefined);
  const tr = cellTopology(cellById('transport'), 'initiator');
  assert.deepEqual(
    tr.sites.map((s) => s.lans.length),
    [0, 0],
  );
  const mixed = cellTopology(cellById('mixed'), 'responder');
  assert.equal(mixed.family, 6);
  assert.equal(mixed.sites[0].lans[0]!.family, 4);
});

const result = (o: Partial<CellResult>): CellResult => ({
  peer: 'strongswan',
  peerVersion: 'strongSwan 5.9.8',
  role: 'initiator',
  cell: 'base',
  title: 'base | title',
  result: 'pass',
  seconds: 12.5,
  steps: [{ step: 'traffic', ok: true, ms: 10, detail: 'ping a->b 3/3' }],
  why: '',
  evidence: [],
  ...o,
});

test('runner output: kernel line and result lines, other lines ignored', () => {
  const r = result({});
  const out = parseRunnerOutput(`noise\nIKW-MATRIX-KERNEL 6.1.0-x\nIKW-MATRIX-RESULT ${JSON.stringify(r)}\n`);
  assert.equal(out.kernel, '6.1.0-x');
  assert.deepEqual(out.results, [r]);
});

test('report: a row per cell in cell order, failures with their evidence, pipes escaped', () => {
  const run: MatrixRun = {
    peer: 'strongswan',
    part: 'initiator',
    generatedAt: '2026-11-22T10:00:00Z',
    where: 'guest',
    kernel: '6.1.0-x',
    wallSeconds: 300,
    command: 'matrix-run.ts strongswan initiator:base',
    results: [
      result({
        cell: 'ipv6',
        title: 'IPv6',
        result: 'fail',
        why: 'up: no agreed tunnel',
        evidence: ['strongswan: 12[IKE] no proposal'],
      }),
      result({}),
    ],
  };
  const md = renderReport([run]);
  const rows = md.split('\n').filter((l) => l.startsWith('| strongswan |'));
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, /\| base: base \\\| title \| initiator \| pass \| 12.5 \| ping a->b 3\/3 \|/);
  assert.match(rows[1]!, /\| ipv6: IPv6 \| initiator \| \*\*FAIL\*\* \|/);
  assert.match(
    md,
    /### strongswan ipv6 \(ikeway initiator\): fail\n\nup: no agreed tunnel\n\n```\nstrongswan: 12\[IKE\] no proposal\n```/,
  );
  assert.match(md, /1 pass, 1 fail, 0 not supported/);
  assert.match(md, /generated: do not edit/);
});

test('mergeRun: a partial run replaces its cells in the saved run and keeps the others', () => {
  const saved: MatrixRun = {
    peer: 'strongswan',
    part: 'initiator',
    generatedAt: '2026-11-22T10:00:00Z',
    where: 'guest',
    kernel: '6.1.0-x',
    wallSeconds: 300,
    command: 'matrix-run.ts strongswan initiator:base initiator:fragmentation',
    results: [result({}), result({ cell: 'fragmentation', result: 'fail', why: 'old' })],
  };
  const partial: MatrixRun = {
    ...saved,
    generatedAt: '2026-11-22T12:00:00Z',
    wallSeconds: 60,
    command: 'matrix-run.ts strongswan initiator:fragmentation',
    results: [result({ cell: 'fragmentation', seconds: 40 })],
  };
  const m = mergeRun(saved, partial);
  assert.deepEqual(
    m.results.map((r) => [r.cell, r.result, r.seconds]),
    [
      ['base', 'pass', 12.5],
      ['fragmentation', 'pass', 40],
    ],
  );
  assert.equal(m.wallSeconds, 360);
  assert.match(
    m.command,
    /initiator:fragmentation; re-run 2026-11-22T12:00:00Z: matrix-run.ts strongswan initiator:fragmentation$/,
  );
  assert.equal(m.generatedAt, partial.generatedAt);
  // Another part (or no saved run) is not merged.
  assert.equal(mergeRun({ ...saved, part: 'responder' }, partial), partial);
  assert.equal(mergeRun(undefined, partial), partial);
});

test('saveRun writes the run into the results folder only; a partial run merges the committed one', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-results-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'out');
  const committed = join(dir, 'docs', 'interop');
  mkdirSync(committed, { recursive: true });
  const old: MatrixRun = {
    peer: 'strongswan',
    part: 'initiator',
    generatedAt: '2026-11-22T10:00:00Z',
    where: 'guest',
    kernel: '6.1.0-x',
    wallSeconds: 300,
    command: 'old',
    results: [result({}), result({ cell: 'nat', result: 'fail', why: 'old' })],
  };
  writeFileSync(join(committed, 'strongswan-initiator.jsonl'), `${JSON.stringify(old)}\n`);
  const partial = { ...old, command: 'new', results: [result({ cell: 'nat' })] };
  const file = saveRun(partial, { merge: true, out, committed });
  assert.equal(file, join(out, 'strongswan-initiator.jsonl'));
  const saved = JSON.parse(readFileSync(file, 'utf8')) as MatrixRun;
  assert.deepEqual(
    saved.results.map((r) => [r.cell, r.result]),
    [
      ['base', 'pass'],
      ['nat', 'pass'],
    ],
  );
  // The committed file is untouched; without merge the run stands alone.
  assert.equal(
    readFileSync(join(committed, 'strongswan-initiator.jsonl'), 'utf8'),
    `${JSON.stringify(old)}\n`,
  );
  saveRun(partial, { merge: false, out, committed });
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as MatrixRun).results.length, 1);
});

test('publishRuns copies the run over the committed results, keeps the others, renders the page', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-results-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'out');
  const docs = join(dir, 'docs');
  const run = (peer: string, part: string, cell: string): MatrixRun => ({
    peer,
    part,
    generatedAt: '2026-11-22T10:00:00Z',
    where: 'guest',
    kernel: '6.1.0-x',
    wallSeconds: 1,
    command: `${peer} ${part}`,
    results: [result({ peer: peer as CellResult['peer'], role: part as CellResult['role'], cell })],
  });
  mkdirSync(join(docs, 'interop'), { recursive: true });
  mkdirSync(out);
  writeFileSync(
    join(docs, 'interop', 'libreswan-initiator.jsonl'),
    JSON.stringify(run('libreswan', 'initiator', 'base')),
  );
  writeFileSync(
    join(docs, 'interop', 'strongswan-initiator.jsonl'),
    JSON.stringify(run('strongswan', 'initiator', 'base')),
  );
  writeFileSync(
    join(out, 'strongswan-initiator.jsonl'),
    JSON.stringify(run('strongswan', 'initiator', 'nat')),
  );
  const r = publishRuns(out, docs);
  assert.deepEqual(r, { copied: ['strongswan-initiator.jsonl'], kept: ['libreswan-initiator.jsonl'] });
  const md = readFileSync(join(docs, 'interop.md'), 'utf8');
  assert.match(md, /\| strongswan \| strongSwan 5\.9\.8 \| nat: /);
  assert.doesNotMatch(md, /\| strongswan \| strongSwan 5\.9\.8 \| base: /);
  assert.match(md, /\| libreswan \| strongSwan 5\.9\.8 \| base: /);
  assert.deepEqual(readdirSync(out), ['strongswan-initiator.jsonl'], 'the run folder is only read');
});
