// The Docker lab's image archive (lab/docker/image.ts) follows docker/Dockerfile and refuses what it
// cannot apply; the route-based compose file matches its two site configs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ignoreMatcher, parseDockerfile, planImage } from '../../lab/docker/image.ts';
import { LabError } from '../../lab/errors.ts';
import { loadConfig } from '../../src/config/load.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCKERFILE = readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8');

test('planImage: docker/Dockerfile on the local base is WORKDIR, four COPYs and CMD', () => {
  const plan = planImage(DOCKERFILE);
  assert.equal(plan.workdir, '/opt/ikeway');
  assert.deepEqual(plan.copies, [
    ['package.json', '/opt/ikeway/package.json'],
    ['package-lock.json', '/opt/ikeway/package-lock.json'],
    ['bin', '/opt/ikeway/bin'],
    ['src', '/opt/ikeway/src'],
    ['examples', '/opt/ikeway/examples'],
  ]);
  assert.deepEqual(plan.cmd, ['node', 'bin/ikeway.js', '--help']);
  // The RUN spans several lines joined by backslashes; comments inside are dropped.
  const run = parseDockerfile(DOCKERFILE).find((i) => i.op === 'RUN');
  assert.match(run?.args ?? '', /^if \[ ! -e \/etc\/ikeway-local-base \]; then apt-get update && /);
});

test('planImage: an instruction it cannot apply is a precise error, not a silent drift', () => {
  const cases: [string, RegExp][] = [
    ['FROM x\nRUN apt-get install -y curl\n', /line 2 \(RUN\): a RUN the local base does not skip/],
    ['FROM x\nENV A=1\n', /line 2 \(ENV\): not supported/],
    ['FROM x\nCOPY --chown=1 a b\n', /line 2 \(COPY\): only plain/],
    ['FROM x\nCOPY src/*.ts /x/\n', /line 2 \(COPY\): only plain/],
    ['FROM x\nCMD node x\n', /line 2 \(CMD\): only the JSON form/],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => planImage(text),
      (e: unknown) => e instanceof LabError && e.code === 'LAB_BUILD' && re.test(e.message),
      text,
    );
});

test('ignoreMatcher: .dockerignore patterns as Docker reads them', () => {
  const ignored = ignoreMatcher(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  assert.equal(ignored('examples/x/secrets/a.psk'), true); // **/secrets
  assert.equal(ignored('secrets'), true);
  assert.equal(ignored('node_modules/yaml/index.js'), true);
  assert.equal(ignored('build.log'), true); // *.log: top level only
  assert.equal(ignored('src/a.log'), false);
  assert.equal(ignored('src/cli/main.ts'), false);
  assert.equal(ignored('examples/site-to-site-psk.yaml'), false);
  assert.throws(() => ignoreMatcher('!keep\n'), /exceptions \(!keep\) are not supported/);
});

test('docker/compose.route-based.yaml: ikeway-owned interfaces, its own addresses, capabilities as compose.yaml', () => {
  const doc = parse(readFileSync(join(ROOT, 'docker', 'compose.route-based.yaml'), 'utf8')) as {
    services: Record<
      string,
      {
        cap_add: string[];
        cap_drop: string[];
        privileged?: boolean;
        image: string;
        networks: Record<string, { ipv4_address: string }>;
      }
    >;
  };
  const svc = doc.services;
  for (const s of Object.values(svc)) {
    assert.deepEqual(s.cap_drop, ['ALL']);
    assert.equal(s.privileged, undefined);
    assert.equal(s.image, 'ikeway-lab');
  }
  assert.deepEqual(svc['router-a']!.cap_add, ['NET_ADMIN']);
  assert.deepEqual(svc['router-b']!.cap_add, ['NET_ADMIN']);
  const sites = [
    ['a', svc['router-a']!, 'ipsec-b', '10.4.0.0/24', svc['router-b']!],
    ['b', svc['router-b']!, 'ipsec-a', '10.3.0.0/24', svc['router-a']!],
  ] as const;
  for (const [site, me, ifname, remoteLan, peer] of sites) {
    const dir = mkdtempSync(join(tmpdir(), 'ikw-dock-rb-'));
    try {
      mkdirSync(join(dir, 'secrets'));
      writeFileSync(join(dir, 'secrets', 'tunnel.psk'), 'lab-only-key\n', { mode: 0o600 });
      copyFileSync(join(ROOT, 'docker', `route-${site}`, 'ikeway.yaml'), join(dir, 'ikeway.yaml'));
      const c = loadConfig(join(dir, 'ikeway.yaml')).config.connections[0]!;
      assert.equal(c.localAddress.address, me.networks['wan']!.ipv4_address);
      assert.equal(c.remote === 'any' ? 'any' : c.remote.address, peer.networks['wan']!.ipv4_address);
      assert.equal(c.interface?.name, ifname);
      assert.equal(c.interface?.ifId, 7);
      const routes = c.interface?.routes;
      assert.deepEqual(routes === false ? [] : routes?.subnets.map((p) => p.text), [remoteLan]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
