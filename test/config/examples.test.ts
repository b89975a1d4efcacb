// Every example passes the validator and the shipped JSON Schema; the schema file is what the
// spec generates, and the two know exactly the same keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { tempDir, PSK_TEXT } from './helpers.ts';
import { buildJsonSchema, loadConfig } from '../../src/config/index.ts';
import { CONFIG_SPEC, type Spec } from '../../src/config/spec.ts';
import { validate } from './mini-json-schema.ts';

const root = new URL('../../', import.meta.url).pathname;
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'));
const schema = JSON.parse(readFileSync(join(root, 'schema/ikeway.schema.json'), 'utf8')) as Record<
  string,
  unknown
>;

/** A copy of examples/ with the secrets and certificates they name, in a temp dir. */
function exampleDir() {
  const tmp = tempDir();
  cpSync(join(root, 'examples'), tmp.dir, { recursive: true });
  for (const n of ['branch', 'v6-branch', 'hub', 'roaming', 'branch-a', 'legacy-b']) {
    tmp.write(`secrets/${n}.psk`, `${PSK_TEXT}-${n}\n`);
  }
  execFileSync(
    'sh',
    [join(tmp.dir, 'make-test-ca.sh'), join(tmp.dir, 'certs'), 'gw1:192.0.2.1', 'gw2:192.0.2.2'],
    {
      stdio: 'pipe',
    },
  );
  return tmp;
}

test('there are the six documented examples', () => {
  for (const name of [
    'site-to-site-psk',
    'site-to-site-certs',
    'ipv6',
    'host-to-host-transport',
    'nat-traversal',
  ]) {
    assert.ok(examples.includes(`${name}.yaml`), name);
  }
  assert.ok(examples.includes('multi-subnet.yaml'));
});

test('every example loads without errors or warnings', (t) => {
  const tmp = exampleDir();
  t.after(tmp.cleanup);
  const env = { IKEWAY_PSK_DB: '0x00112233445566778899aabbccddeeff' };
  for (const f of examples) {
    const { config, warnings } = loadConfig(join(tmp.dir, f), { env });
    assert.ok(config.connections.length >= 1, f);
    assert.deepEqual(warnings, [], f);
  }
});

test('the smallest site-to-site config is about 10 lines and gets the safe defaults', (t) => {
  const tmp = exampleDir();
  t.after(tmp.cleanup);
  const text = readFileSync(join(tmp.dir, 'site-to-site-psk.yaml'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  assert.ok(lines.length <= 10, `${lines.length} lines`);
  const c = loadConfig(join(tmp.dir, 'site-to-site-psk.yaml')).config.connections[0]!;
  assert.deepEqual(c.ikeProposals, [
    'aes256gcm16-prfsha256-x25519-ke1_mlkem768',
    'aes256gcm16-prfsha256-x25519',
  ]);
  assert.deepEqual(c.espProposals, ['aes256gcm16']);
  assert.equal(c.mode, 'tunnel');
  assert.ok(c.liveness !== false && c.liveness.intervalMs === 30_000);
  assert.ok(c.rekeyMarginMs < c.childLifetimeMs);
});

test('ikeway check prints OK with the connection names, exit 0', (t) => {
  const tmp = exampleDir();
  t.after(tmp.cleanup);
  const bin = join(root, 'bin/ikeway.js');
  const r = spawnSync(process.execPath, [bin, 'check', join(tmp.dir, 'nat-traversal.yaml')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'OK: 2 connections (to-hub, roaming)\n');
});

test('every example validates against the shipped JSON Schema', () => {
  for (const f of examples) {
    const v = parse(readFileSync(join(root, 'examples', f), 'utf8')) as unknown;
    assert.deepEqual(validate(schema, v), [], f);
  }
});

test('the schema rejects what the validator rejects (unknown key, bad enum, missing remote)', () => {
  const v = parse(readFileSync(join(root, 'examples/site-to-site-psk.yaml'), 'utf8')) as {
    connections: { branch: Record<string, unknown> };
  };
  v.connections.branch.subnet = ['10.0.0.0/8'];
  v.connections.branch.mode = 'tunel';
  delete v.connections.branch.remote;
  const errs = validate(schema, v).join('\n');
  assert.match(errs, /unknown key subnet/);
  assert.match(errs, /not one of tunnel,transport/);
  assert.match(errs, /missing remote/);
});

test('schema/ikeway.schema.json is exactly what the spec generates', () => {
  assert.deepEqual(schema, JSON.parse(JSON.stringify(buildJsonSchema())));
});

function specKeys(s: Spec, at: string, out: Set<string>): Set<string> {
  if (s.kind === 'object')
    for (const [k, f] of Object.entries(s.fields)) specKeys(f, `${at}.${k}`, out.add(`${at}.${k}`));
  if (s.kind === 'toggle') specKeys(s.object, at, out);
  if (s.kind === 'map') specKeys(s.values, `${at}.*`, out);
  if (s.kind === 'list') specKeys(s.items, at, out);
  return out;
}

function schemaKeys(s: Record<string, unknown>, at: string, out: Set<string>): Set<string> {
  for (const [k, sub] of Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    schemaKeys(sub, `${at}.${k}`, out.add(`${at}.${k}`));
  }
  for (const sub of Object.values((s.patternProperties ?? {}) as Record<string, Record<string, unknown>>)) {
    schemaKeys(sub, `${at}.*`, out);
  }
  for (const alt of [...((s.oneOf ?? []) as []), ...((s.anyOf ?? []) as [])]) schemaKeys(alt, at, out);
  if (s.items !== undefined) schemaKeys(s.items as Record<string, unknown>, at, out);
  return out;
}

test('the validator and the schema know exactly the same keys', () => {
  const a = [...specKeys(CONFIG_SPEC, '', new Set())].sort();
  const b = [...schemaKeys(schema, '', new Set())].sort();
  assert.deepEqual(a, b);
  assert.ok(a.includes('.connections.*.liveness.action') && a.length > 50, String(a.length));
});
