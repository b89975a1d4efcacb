import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';

test('two namespaces joined by veth reach each other over IPv4 and IPv6, and are removed', (t) => {
  const a = Netns.create('nt');
  t.after(() => a.delete());
  const b = Netns.create('nt');
  t.after(() => b.delete());
  linkVeth(a, '192.0.2.1/24', b, '192.0.2.2/24');
  assert.match(a.exec('ping', '-c', '1', '-W', '2', '192.0.2.2'), /1 received/);
  const [, bdev] = linkVeth(a, '2001:db8::1/64', b, '2001:db8::2/64');
  assert.match(b.ip('-6', 'addr', 'show', 'dev', bdev), /2001:db8::2/);
  assert.match(b.exec('ping', '-6', '-c', '1', '-W', '2', '2001:db8::1'), /1 received/);
  a.delete();
  assert.doesNotMatch(a.name, /\s/);
  const r = a.tryExec('true');
  assert.notEqual(r.status, 0, 'namespace should be gone after delete()');
});
