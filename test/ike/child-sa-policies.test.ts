// A Child SA computes its policies once per place (install, status, the policy owner and removal all
// ask for them): the same list while it stays where it is, a new one when it moves (NAT re-point).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nullLogger } from '../../src/base/logger.ts';
import { ChildSa } from '../../src/ike/child-sa.ts';
import { childPolicies } from '../../src/ike/spd/policies.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';

function child(): ChildSa {
  const config = { name: 'hq', espProposals: [], localTs: [], remoteTs: [], mode: 'tunnel' as const };
  const c = new ChildSa({
    id: 1,
    name: 'hq',
    config,
    reqid: 7,
    spiIn: 0xc0000001,
    localAddr: '192.0.2.1',
    logger: nullLogger,
  });
  c.localTs = [tsFromCidr('10.1.0.0/24')];
  c.remoteTs = [tsFromCidr('10.2.0.0/24'), tsFromCidr('10.3.0.0/24')];
  return c;
}

test('ChildSa policies: computed once per place, equal to childPolicies(), new after a move, none when gone', () => {
  const c = child();
  assert.deepEqual(c.policies(), [], 'nothing before install');
  const at = { localAddr: '192.0.2.1', remoteAddr: '198.51.100.2', priority: 1000 };
  c.installed = at;
  c.setState('installing');
  c.setState('installed');
  const first = c.policies();
  assert.deepEqual(first, childPolicies(c, at));
  assert.equal(first.length, 6, 'out, in and fwd for each of two selector pairs');
  assert.equal(c.policies(), first, 'asked again at the same place: the same list');
  assert.equal(c.placedPolicies(), first);
  const moved = { ...at, remoteAddr: '203.0.113.9' };
  c.installed = moved;
  const after = c.policies();
  assert.notEqual(after, first);
  assert.deepEqual(after, childPolicies(c, moved));
  assert.ok(after.every((p) => p.templates.every((t) => t.src === '203.0.113.9' || t.dst === '203.0.113.9')));
  c.setState('destroyed');
  assert.deepEqual(c.policies(), [], 'a destroyed Child SA holds none');
  assert.deepEqual(c.placedPolicies(), after, 'but still knows where it stood');
});
