// The lab's namespaces on the host kernel (no ESP needed): the topology is built, LAN hosts reach
// each other through the routers, the NAT router masquerades, the checks flag a lab without IPsec,
// and teardown leaves no namespace behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { buildLab } from '../../lab/two-site/lab.ts';
import { DEFAULT_TOPOLOGY_INPUT, makeTopology } from '../../lab/two-site/topology.ts';
import { formatReport, noTunnel, runLab } from '../../lab/two-site/run.ts';
import { ping } from '../../lab/two-site/checks.ts';

const isRoot = process.getuid?.() === 0;
const ours = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`-${process.pid}-`));

test(
  'without a tunnel the LAN traffic crosses in clear and the verdict says so; namespaces removed',
  { skip: !isRoot && 'needs root' },
  async () => {
    const progress: string[] = [];
    const r = await runLab({
      topology: makeTopology(DEFAULT_TOPOLOGY_INPUT),
      driver: noTunnel,
      pings: 2,
      tag: 'lt',
      log: (l) => progress.push(l),
    });
    assert.deepEqual(
      r.pings.map((p) => p.received),
      [2],
    );
    assert.equal(r.ok, false);
    assert.ok(r.capture!.cleartext >= 2, 'echo requests and replies seen in clear');
    assert.match(r.problems.join('\n'), /no outbound ESP SA/);
    assert.deepEqual(ours(), []);
    // What `ikeway lab demo` prints: the progress lines, then the report; each fact once (issue 20).
    const shown = [...progress, ...formatReport(r, { progressShown: true })];
    const count = (re: RegExp) => shown.filter((l) => re.test(l)).length;
    assert.equal(count(/^tunnel( up \(|: )/), 1, shown.join('\n'));
    assert.equal(count(/^ping .* replies$/), r.pings.length, shown.join('\n'));
    assert.match(shown.join('\n'), /WAN capture \(.*from tunnel up.*IKE setup came before it\): \d+ packets/);
    // Alone, the report says it all.
    const alone = formatReport(r);
    assert.equal(alone.filter((l) => /^ping .* replies$/.test(l)).length, r.pings.length);
    assert.ok(alone.includes('tunnel: none (control)'), alone.join('\n'));
  },
);

test(
  'the NAT lab: five namespaces, site a reaches site b through the NAT router',
  { skip: !isRoot && 'needs root' },
  (t) => {
    const lab = buildLab(
      makeTopology({
        a: { wan: '203.0.113.10', lans: ['10.7.0.0/24'] },
        b: { wan: '198.51.100.1', lans: ['10.0.0.0/8'] },
      }),
      { tag: 'lt' },
    );
    t.after(() => lab.teardown());
    assert.equal(lab.namespaces().length, 5);
    // The masquerade rule is in place; that it rewrites needs nf_nat, which the host kernel may
    // lack: labs.test.ts proves it in the guest (router-b's SA comes from the NAT's address).
    assert.equal(ping(lab.a.router, '203.0.113.10', '198.51.100.1', 1).received, 1);
    assert.match(lab.nat!.exec('nft', 'list', 'ruleset'), /oifname "outside" masquerade/);
    lab.teardown();
    assert.deepEqual(ours(), []);
  },
);
