// Property: whatever text arrives, the loader either returns a Config or throws ConfigErrors whose
// problems all carry a position inside the file; nothing else escapes (no TypeError from a
// half-validated tree). Bounded run counts keep this fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigErrors, parseConfig } from '../../src/config/index.ts';
import { doc, ENV } from './helpers.ts';

const WORDS = [
  'local',
  'address',
  'connections',
  'hq',
  'remote',
  'auth',
  'psk',
  'cert',
  'key',
  'ca',
  'env',
  'file',
  'PSK',
  'local-subnets',
  'remote-subnets',
  'mode',
  'transport',
  'tunnel',
  'start',
  'any',
  'liveness',
  'interval',
  'timeout',
  'action',
  'ike-proposals',
  'esp-proposals',
  'rekey-margin',
  'ike-lifetime',
  'mark',
  'if-id',
  'pfs',
  'false',
  'true',
  'null',
  '~',
  '192.0.2.1',
  '2001:db8::1',
  '10.0.0.0/33',
  '1h',
  '0x',
  '-1',
  '1e999',
  'aes256gcm16',
  'x25519',
  '&a',
  '*a',
  '!!binary',
  '<<',
  '"',
  "'",
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  ': ',
  '- ',
  '#',
  '?',
  '|',
  '>',
  '%YAML 1.2',
  '---',
  '...',
  '\t',
];
const token = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.constantFrom(' ', '  ', '\n', '\n  ', '\n    '),
  fc.string({ maxLength: 4 }),
);
const yamlish = fc.array(token, { maxLength: 60 }).map((ts) => ts.join(''));

function check(text: string): void {
  try {
    parseConfig(text, 'fuzz.yaml', { env: ENV, baseDir: '/nonexistent' });
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, `threw ${String(e)}`);
    assert.ok(e.errors.length > 0);
    const lines = text.split(/\r?\n|\r/).length + 1;
    for (const p of e.problems) {
      assert.ok(p.line >= 1 && p.line <= lines && p.col >= 1, JSON.stringify(p));
    }
  }
}

test('random YAML-ish text yields a Config or ConfigErrors with positions', () => {
  fc.assert(fc.property(yamlish, check), { numRuns: 400 });
});

test('a valid document with random lines spliced in yields a Config or ConfigErrors', () => {
  const base = doc('    local-subnets: [10.1.0.0/24]\n    remote-subnets: [10.2.0.0/24]\n').split('\n');
  const spliced = fc
    .tuple(fc.nat({ max: base.length }), fc.array(token, { maxLength: 8 }))
    .map(([at, ts]) => {
      const lines = [...base];
      lines.splice(at, 0, ts.join(''));
      return lines.join('\n');
    });
  fc.assert(fc.property(spliced, check), { numRuns: 400 });
});

test('arbitrary unicode text never escapes as anything but ConfigErrors', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), check), { numRuns: 200 });
});
