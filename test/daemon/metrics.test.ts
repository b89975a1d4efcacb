// The /metrics page (src/daemon/metrics.ts) over a real in-memory tunnel: every counter issue 17
// lists is there (per connection and Child SA; daemon-wide); a scrape reads the kernel with ONE SA
// dump and no per-SA request; failed kernel operations are counted daemon-wide
// (kernel.netlink_errors, src/kernel/error-count.ts) in status counters and on the page.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ConnEvents } from '../../src/daemon/conn-events.ts';
import { Metrics } from '../../src/daemon/metrics.ts';
import { buildStatus } from '../../src/daemon/status.ts';
import { countKernelErrors, KernelError, type Kernel } from '../../src/kernel/index.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { Counters } from '../../src/base/counters.ts';
import { pair } from '../exchange/harness.ts';
import { statusConnection, STATUS_DAEMON } from './status-fixture.ts';

const CONN = statusConnection('203.0.113.1', '203.0.113.2');

/** The kernel with every call counted by method name. */
function spied(k: Kernel): { kernel: Kernel; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const kernel = new Proxy(k, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r) as unknown;
      if (typeof v !== 'function') return v;
      return (...a: unknown[]) => {
        calls.set(String(p), (calls.get(String(p)) ?? 0) + 1);
        return (v as (...x: unknown[]) => unknown).apply(t, a);
      };
    },
  });
  return { kernel, calls };
}

test('every counter of the issue is on the page; one SA dump per scrape, no per-SA kernel request', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const events = new ConnEvents(() => 1_700_000_000_000);
  h.a.engine.onEvent((e) => events.onEvent(e));
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  // Rekeys, a liveness failure and a failure reason, as the engine reports them.
  events.onEvent({ type: 'ike-rekeyed', sa } as never);
  events.onEvent({ type: 'child-rekeyed', sa } as never);
  events.onEvent({ type: 'ike-failed', sa, reason: 'no response after 5 retransmissions' } as never);
  const { kernel, calls } = spied(h.a.kernel);
  const metrics = new Metrics({
    snapshot: () =>
      buildStatus({
        daemon: STATUS_DAEMON,
        engine: h.a.engine,
        kernel,
        connections: [CONN],
        failClosed: () => 2,
        times: { ike: new WeakMap(), child: new WeakMap() },
        now: 0,
        kernelCounters: false,
      }),
    kernelSas: () => kernel.dumpSas(),
    events,
    halfOpen: () => 3,
    cookieThreshold: () => 2,
    certificateExpiry: () => Date.UTC(2030, 0, 1),
    debugKeys: false,
  });
  const page = await metrics.scrape();
  assert.deepEqual([...calls], [['dumpSas', 1]], 'one dump, nothing else asked of the kernel');
  const C = '\\{connection="site"\\}';
  const has = (re: string) => assert.match(page, new RegExp(`^${re}$`, 'm'), re);
  // per connection
  has(`ikeway_connection_up${C} 1`);
  has(`ikeway_connection_ike_sas${C} 1`);
  has(`ikeway_connection_child_sas${C} 1`);
  has(`ikeway_ike_sa_established_total${C} 1`);
  has(`ikeway_child_sa_installed_total${C} 1`);
  has(`ikeway_ike_sa_failures_total\\{connection="site",reason="timeout"\\} 1`);
  has(`ikeway_ike_sa_rekeys_total${C} 1`);
  has(`ikeway_child_sa_rekeys_total${C} 1`);
  has(`ikeway_liveness_failures_total${C} 1`);
  has(`ikeway_connection_seconds_since_established${C} \\d+(\\.\\d+)?`);
  has(`ikeway_connection_certificate_expiry_timestamp_seconds${C} 1893456000`);
  // per Child SA, from the kernel dump
  const child = `connection="site",child_sa="\\d+"`;
  for (const dir of ['in', 'out']) {
    has(`ikeway_child_sa_bytes_total\\{${child},direction="${dir}",spi="[0-9a-f]{8}"\\} \\d+`);
    has(`ikeway_child_sa_packets_total\\{${child},direction="${dir}",spi="[0-9a-f]{8}"\\} \\d+`);
  }
  has(`ikeway_child_sa_replay_errors_total\\{${child},direction="in",spi="[0-9a-f]{8}"\\} 0`);
  has(`ikeway_child_sa_integrity_failures_total\\{${child},direction="in",spi="[0-9a-f]{8}"\\} 0`);
  // daemon-wide
  has('ikeway_drops_total\\{layer="ike",reason="bad_cookie"\\} 0');
  has('ikeway_half_open_ike_sas 3');
  has('ikeway_cookie_mode 1');
  has('ikeway_events_total\\{layer="ike",event="retransmit_sent"\\} \\d+');
  has('ikeway_netlink_errors_total 0');
  has('process_cpu_seconds_total \\d+(\\.\\d+)?(e-?\\d+)?');
  has('process_resident_memory_bytes \\d+');
  assert.doesNotMatch(
    page,
    /event="netlink_errors"/,
    'netlink errors have their own metric, not a second series',
  );
  // The page parses as Prometheus's own parser reads it; its linter has nothing to say about ours.
  const promtool = spawnSync('promtool', ['check', 'metrics'], {
    input: page,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (promtool.error)
    t.diagnostic('promtool not installed (scripts/install-deps.sh): the page is not linted');
  else {
    const said = `${promtool.stdout}${promtool.stderr}`;
    assert.doesNotMatch(said, /error|parse/i, said);
    assert.doesNotMatch(said, /^ikeway_/m, said);
    assert.ok(promtool.status === 0 || /^nodejs_|^process_/m.test(said), said);
  }
});

test('failed kernel operations are counted daemon-wide: status counters and ikeway_netlink_errors_total', async () => {
  const counters = new Counters();
  const fake = new FakeKernel({ recordCalls: false, validate: false });
  const kernel = countKernelErrors(fake, counters);
  // A delete of an SA that is not there: the kernel's ESRCH reaches the caller and is counted.
  await assert.rejects(
    kernel.deleteSa({ dst: '192.0.2.1', spi: 0x1234, proto: 'esp' }),
    (e: unknown) => e instanceof KernelError,
  );
  assert.equal(counters.get('kernel.netlink_errors'), 1);
  fake.failNext('dumpSas', KernelError.fromErrno(105, 'XFRM_MSG_GETSA', 'dump'));
  const metrics = new Metrics(
    {
      snapshot: async () => ({
        daemon: {
          version: 't',
          pid: 1,
          uptimeSeconds: 0,
          config: 'x',
          kernel: 'xfrm',
          socket: 's',
          ports: { ike: 500, natT: 4500 },
        },
        connections: [],
        counters: counters.nonZero(),
      }),
      kernelSas: () => kernel.dumpSas(),
      events: new ConnEvents(),
      halfOpen: () => 0,
      cookieThreshold: () => 30,
      certificateExpiry: () => undefined,
      debugKeys: false,
    },
    { processMetrics: false },
  );
  // The failed dump: the page is still served; counted as a failed dump and a netlink error (the
  // snapshot was taken before the dump failed, so the daemon-wide counter shows it next scrape).
  const first = await metrics.scrape();
  assert.match(first, /^ikeway_kernel_dump_errors_total 1$/m);
  assert.equal(counters.get('kernel.netlink_errors'), 2);
  assert.deepEqual(counters.nonZero(), { 'kernel.netlink_errors': 2 });
  const second = await metrics.scrape();
  assert.match(second, /^ikeway_netlink_errors_total 2$/m);
  // Errors that are not the kernel's (a bug in the caller) are not netlink errors.
  const broken = countKernelErrors({ dumpSas: () => Promise.reject(new TypeError('x')) } as never, counters);
  await assert.rejects(broken.dumpSas(), TypeError);
  assert.equal(counters.get('kernel.netlink_errors'), 2);
  // A batch resolves with per-operation errors: each failed operation counts, the others do not.
  const res = await kernel.batch([
    { op: 'deleteSa', id: { dst: '192.0.2.1', spi: 0x1235, proto: 'esp' } },
    { op: 'deletePolicy', id: { selector: { src: '10.9.0.0/16', dst: '10.8.0.0/16' }, dir: 'out' } },
  ]);
  assert.equal(res.filter((e) => e !== null).length, 2);
  assert.equal(counters.get('kernel.netlink_errors'), 4);
});
