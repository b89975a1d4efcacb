// The example hook examples/hooks/route-and-nft.sh in a network namespace this test creates: the
// route and the nftables rules appear with the Child SA (a real engine pair in memory, real events)
// and go with it. The host has routes and nftables, so the hook runs for real; nothing touches the
// root namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counters } from '../../src/base/counters.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import type { Hook } from '../../src/config/types.ts';
import { HookRunner } from '../../src/daemon/hooks.ts';
import { pair } from '../exchange/harness.ts';

const isRoot = process.getuid?.() === 0;
const has = (cmd: string) => {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const example = new URL('../../examples/hooks/route-and-nft.sh', import.meta.url).pathname;

test(
  'example hook: route and nftables rules come with the Child SA and go with it',
  { skip: (!isRoot || !has('nft')) && 'needs root and nft (network namespace)' },
  async (t) => {
    const ns = `ikw-hook-${process.pid}`;
    const sh = (args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
    execFileSync('ip', ['netns', 'add', ns]);
    t.after(() => execFileSync('ip', ['netns', 'del', ns]));
    sh(['ip', 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
    sh(['ip', 'link', 'set', 'lan1', 'up']);
    sh(['ip', 'link', 'set', 'lan0', 'up']);
    sh(['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'lan0']);

    const dir = mkdtempSync(join(tmpdir(), 'ikeway-hook-lab-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'route-and-nft.sh');
    copyFileSync(example, script);
    chmodSync(script, 0o755);
    writeFileSync(join(dir, 'route-and-nft.conf'), 'DEV=lan0\n');
    // The daemon would run the script itself; here it runs in the lab namespace.
    const wrapper = join(dir, 'in-ns.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${script} "$@"\n`);
    chmodSync(wrapper, 0o755);

    const hook: Hook = { program: wrapper, timeoutMs: 10_000, events: ['child-up', 'child-down'] };
    const counters = new Counters();
    const log = new MemoryLogger();
    const runner = new HookRunner({ log, counters, hookOf: () => hook });
    const h = pair();
    t.after(() => h.close());
    h.a.engine.onEvent((e) => runner.onEvent(e));

    const route = () => sh(['ip', 'route', 'show', '198.51.100.0/24']);
    const rules = () => sh(['nft', 'list', 'ruleset']);
    assert.equal(route(), '');

    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.children.length, 1);
    await runner.idle();
    assert.equal(counters.get('hook.failed'), 0, log.text());
    assert.match(route(), /^198\.51\.100\.0\/24 dev lan0/);
    const up = rules();
    assert.match(
      up,
      /ip saddr 198\.51\.100\.0\/24 ip daddr 192\.0\.2\.0\/25 accept comment "ikeway:site:site"/,
    );
    assert.match(
      up,
      /ip saddr 192\.0\.2\.0\/25 ip daddr 198\.51\.100\.0\/24 accept comment "ikeway:site:site"/,
    );

    await h.close();
    await runner.idle();
    assert.equal(counters.get('hook.started'), 2);
    assert.equal(counters.get('hook.failed'), 0, log.text());
    assert.equal(route(), '');
    assert.doesNotMatch(rules(), /ikeway:site/);
  },
);
