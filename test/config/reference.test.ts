// docs/configuration.md is what the spec renders (npm run docs:config), and names every key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderConfigReference } from '../../src/config/reference.ts';
import { CONFIG_SPEC, type ObjectSpec } from '../../src/config/spec.ts';

const file = new URL('../../docs/configuration.md', import.meta.url).pathname;

test('docs/configuration.md is up to date with the spec (run npm run docs:config)', () => {
  assert.equal(readFileSync(file, 'utf8'), renderConfigReference());
});

test('the reference has a row for every key of the spec, nested ones included', () => {
  const text = renderConfigReference();
  const keys: string[] = [];
  const walk = (o: ObjectSpec, prefix: string) => {
    for (const [k, f] of Object.entries(o.fields)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      keys.push(key);
      if (f.kind === 'object') walk(f, key);
      if (f.kind === 'toggle') walk(f.object, key);
      if (f.kind === 'map' && f.values.kind === 'object') walk(f.values, `${key}.<name>`);
      if (f.kind === 'list' && f.items.kind === 'object') walk(f.items, `${key}[]`);
    }
  };
  walk(CONFIG_SPEC, '');
  assert.ok(keys.length > 50);
  for (const k of keys) assert.ok(text.includes(`| \`${k}\` |`), k);
  assert.match(
    text,
    /\| `connections\.<name>\.hook\.timeout` \| duration \(at least 100 ms\) \| {2}\| `10s` \|/,
  );
  assert.match(text, /## From swanctl\.conf/);
});
