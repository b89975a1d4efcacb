// Every kind of configuration problem, with the exact line:col of the offending key or value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doc, ENV, problems, where } from './helpers.ts';
import { formatProblem } from '../../src/config/index.ts';

const errs = (text: string) => problems(text, { env: ENV });

test('the message format is file:line:col: path: what; how', () => {
  const ps = errs(doc('    remote-subnets: [10.2.0.0/24, 10.0.0.0/33]\n'));
  assert.equal(ps.length, 1);
  assert.equal(
    formatProblem(ps[0]!),
    'test.yaml:7:35: connections.hq.remote-subnets[1]: "10.0.0.0/33" is not a valid IPv4/IPv6 prefix ' +
      '(prefix length 33 > 32); write e.g. 10.0.0.0/16',
  );
});

test('unknown keys are errors with a did-you-mean suggestion, at the key', () => {
  const ps = errs(doc('    remote-subnet: [10.2.0.0/24]\n    modee: tunnel\n    zzzzzz: 1\n'));
  assert.deepEqual(where(ps), [
    '7:5 E_UNKNOWN_KEY connections.hq.remote-subnet',
    '8:5 E_UNKNOWN_KEY connections.hq.modee',
    '9:5 E_UNKNOWN_KEY connections.hq.zzzzzz',
  ]);
  assert.equal(ps[0]!.hint, 'did you mean "remote-subnets"?');
  assert.equal(ps[1]!.hint, 'did you mean "mode"?');
  assert.match(ps[2]!.hint, /^known keys: remote, local-address, auth/);
});

test('all problems are reported in one run, in file order', () => {
  const ps = errs(
    doc('    mode: tunel\n    ike-lifetime: 3600\n    start: later\n', 'log: { level: loud }\n'),
  );
  assert.deepEqual(where(ps), [
    '1:15 E_VALUE log.level',
    '8:11 E_VALUE connections.hq.mode',
    '9:19 E_VALUE connections.hq.ike-lifetime',
    '10:12 E_VALUE connections.hq.start',
  ]);
  assert.equal(ps[1]!.hint, 'did you mean "tunnel"?');
  assert.equal(ps[2]!.hint, 'write e.g. 3600s (units: ms, s, m, h, d)');
});

test('missing required keys are reported at the map that lacks them', () => {
  const ps = errs('local:\n  address: 192.0.2.1\nconnections:\n  hq:\n    auth: { psk: { env: PSK } }\n');
  assert.deepEqual(where(ps), ['5:5 E_MISSING_KEY connections.hq']);
  assert.match(ps[0]!.message, /missing required key "remote"/);
  assert.deepEqual(where(errs('connections: {}\n')), ['1:1 E_MISSING_KEY ', '1:14 E_VALUE connections']);
});

test('wrong YAML types name what was expected and what was found', () => {
  const ps = errs(doc('    local-subnets: { a: 1 }\n    replay-window: "32"\n    fragmentation: yes\n'));
  assert.deepEqual(where(ps), [
    '7:20 E_TYPE connections.hq.local-subnets',
    '8:20 E_VALUE connections.hq.replay-window',
    '9:20 E_VALUE connections.hq.fragmentation',
  ]);
  assert.match(ps[0]!.message, /expected a list .* found a map/);
  assert.equal(ps[2]!.hint, 'write true or false');
});

test('a key without a value is reported at the key', () => {
  assert.deepEqual(where(errs(doc('    mode:\n'))), ['7:5 E_VALUE connections.hq.mode']);
});

test('YAML syntax errors and duplicate keys carry their position', () => {
  const dup = errs(doc('    mode: tunnel\n    mode: transport\n'));
  assert.deepEqual(where(dup), ['8:5 E_YAML ']);
  assert.match(dup[0]!.message, /unique/);
  const bad = errs('local:\n  address: [192.0.2.1\n');
  assert.equal(bad[0]!.code, 'E_YAML');
  assert.ok(bad[0]!.line >= 2);
});

test('aliases are refused', () => {
  const ps = errs(doc('    local-subnets: &s [10.1.0.0/24]\n    remote-subnets: *s\n'));
  assert.deepEqual(where(ps), ['8:21 E_ALIAS connections.hq.remote-subnets']);
});

test('bad values: addresses, prefixes with host bits, names, marks, ranges', () => {
  const text = `local:
  address: 192.0.2.300
connections:
  "bad name!":
    remote: 192.0.2.2
  hq:
    remote: vpn_example.org
    auth: { psk: { env: PSK } }
    local-subnets: 10.1.0.5/24
    mark: 0x1ff/0xff
    replay-window: 99999
    child-lifetime: 30s
`;
  const ps = errs(text);
  assert.deepEqual(where(ps), [
    '2:12 E_VALUE local.address',
    '4:3 E_VALUE connections.bad name!',
    '7:13 E_VALUE connections.hq.remote',
    '9:20 E_VALUE connections.hq.local-subnets[0]',
    '10:11 E_VALUE connections.hq.mark',
    '11:20 E_VALUE connections.hq.replay-window',
    '12:21 E_VALUE connections.hq.child-lifetime',
  ]);
  assert.equal(ps[3]!.hint, 'write the network address: 10.1.0.0/24');
  // A DNS name is a valid remote (test/config/remote-name.test.ts); this one has an underscore.
  assert.match(ps[2]!.message, /neither an IP address nor a DNS name/);
  assert.equal(ps[6]!.hint, 'write at least 1m');
});

test('proposal strings are checked token by token', () => {
  const ps = errs(
    doc(
      '    ike-proposals: [aes256gcm16-prfsha256-x25591, aes256-sha256]\n    esp-proposals: aes256gcm16-sha256\n',
    ),
  );
  assert.deepEqual(where(ps), [
    '7:21 E_PROPOSAL connections.hq.ike-proposals[0]',
    '7:51 E_PROPOSAL connections.hq.ike-proposals[1]',
    '8:20 E_PROPOSAL connections.hq.esp-proposals[0]',
  ]);
  assert.equal(ps[0]!.hint, 'did you mean "x25519"?');
  assert.match(ps[1]!.message, /names no key exchange/);
  assert.match(ps[2]!.hint, /RFC 5282/);
});

test('conflicts: two auth methods, families, start with any, liveness with any', () => {
  const text = `local:
  address: 192.0.2.1
connections:
  v6:
    remote: 2001:db8::2
    auth: { psk: { env: PSK }, cert: { cert: a, key: b, ca: c } }
  anyone:
    remote: any
    auth: { psk: { env: PSK } }
    start: now
    liveness: { action: restart }
`;
  assert.deepEqual(where(errs(text)), [
    '5:13 E_CONFLICT connections.v6.remote',
    '6:32 E_CONFLICT connections.v6.auth.cert',
    '10:12 E_CONFLICT connections.anyone.start',
    '11:25 E_CONFLICT connections.anyone.liveness.action',
  ]);
});

test('conflicts: transport mode with subnets, unpaired families', () => {
  const transport = errs(doc('    mode: transport\n    local-subnets: [192.0.2.1/32, 10.1.0.0/24]\n'));
  assert.deepEqual(where(transport), ['8:35 E_CONFLICT connections.hq.local-subnets[1]']);
  assert.match(transport[0]!.hint, /mode: tunnel/);
  const fam = errs(
    doc('    local-subnets: [10.1.0.0/24, 2001:db8:1::/48]\n    remote-subnets: [10.2.0.0/24]\n'),
  );
  assert.deepEqual(where(fam), ['7:34 E_CONFLICT connections.hq.local-subnets[1]']);
  assert.match(fam[0]!.message, /IPv6 but remote-subnets has no IPv6 prefix/);
});

test('conflicts: lifetimes against rekey margin, liveness timeout, pfs, ports, cookies', () => {
  const conn =
    '    rekey-margin: 2h\n    liveness: { interval: 60s, timeout: 30s }\n    pfs: false\n' +
    '    esp-proposals: [aes256gcm16, aes256gcm16-x25519]\n';
  const head = 'ports: { ike: 500, nat-t: 500 }\ncookie-threshold: 5000\n';
  const ps = errs(doc(conn, head));
  assert.deepEqual(where(ps), [
    '1:27 E_CONFLICT ports.nat-t',
    '2:19 E_CONFLICT cookie-threshold',
    '9:19 E_CONFLICT connections.hq.rekey-margin', // vs child-lifetime 1h (ike 4h is fine)
    '10:41 E_CONFLICT connections.hq.liveness.timeout',
    '12:34 E_CONFLICT connections.hq.esp-proposals[1]',
  ]);
  assert.match(ps[2]!.message, /not shorter than child-lifetime 1h/);
});
