// Issue 21: `ikeway status` and /metrics show an AH Child SA (protocol, its kernel counters found
// under proto ah) and the TFC padding of an ESP one, or that the peer refused it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from '../../src/config/index.ts';
import { renderStatus } from '../../src/control/render.ts';
import { ConnEvents } from '../../src/daemon/conn-events.ts';
import { Metrics } from '../../src/daemon/metrics.ts';
import { buildStatus } from '../../src/daemon/status.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import { pair, type Peer } from '../exchange/harness.ts';
import { statusConnection } from './status-fixture.ts';

async function report(p: Peer, extra: Partial<Connection>) {
  const conn = statusConnection(p.conn.localAddr, p.conn.remoteAddr, extra);
  const snapshot = (kernelCounters: boolean) =>
    buildStatus({
      daemon: { version: 't', pid: 1, uptimeSeconds: 0, config: 'x', kernel: 'memory', socket: 's' },
      engine: p.engine,
      kernel: p.kernel,
      connections: [conn],
      failClosed: () => 0,
      times: { ike: new WeakMap(), child: new WeakMap() },
      now: 0,
      kernelCounters,
    } as never);
  const metrics = new Metrics(
    {
      snapshot: () => snapshot(false),
      kernelSas: () => p.kernel.dumpSas(),
      events: new ConnEvents(),
      halfOpen: () => 0,
      cookieThreshold: () => 30,
      certificateExpiry: () => undefined,
      debugKeys: false,
    },
    { processMetrics: false },
  );
  return { status: await snapshot(true), page: await metrics.scrape() };
}

async function up(a: Partial<IkeConnection>, b: Partial<IkeConnection>) {
  const h = pair({ a, b });
  h.a.engine.initiate('site');
  await h.settle(0);
  return h;
}

test('status and metrics of an AH Child SA: protocol ah, counters of the proto-ah kernel SAs', async (t) => {
  const ah = { childProtocol: 'ah' as const, espProposals: parseProposals('sha384', 'ah') };
  const h = await up(ah, ah);
  t.after(() => h.close());
  const { status, page } = await report(h.a, { protocol: 'ah', ahProposals: ['sha384'] });
  const conn = status.connections[0]!;
  assert.equal(conn.protocol, 'ah');
  assert.deepEqual(conn.ahProposals, ['sha384']);
  const child = conn.ikeSas[0]!.children[0]!;
  assert.equal(child.protocol, 'ah');
  assert.equal(child.countersError, undefined, 'the kernel SAs were found under proto ah');
  assert.equal(child.bytesIn, 0);
  assert.match(child.algorithms, /^sha384\b/);
  assert.match(renderStatus(status), /CHILD_SA \{\d+\} installed, tunnel, AH \(not encrypted\), reqid/);
  assert.match(
    page,
    /^ikeway_child_sa_info\{connection="site",child_sa="\d+",protocol="ah",mode="tunnel",tfc_padding="0"\} 1$/m,
  );
  assert.match(
    page,
    /^ikeway_child_sa_packets_total\{connection="site",child_sa="\d+",direction="in",spi="[0-9a-f]{8}"\} 0$/m,
  );
});

test('status and metrics of TFC padding, and of a peer that refused it', async (t) => {
  const h = await up({ tfcPadding: 1400 }, {});
  t.after(() => h.close());
  const { status, page } = await report(h.a, {});
  const child = status.connections[0]!.ikeSas[0]!.children[0]!;
  assert.equal(child.protocol, 'esp');
  assert.equal(child.tfcPadding, 1400);
  assert.match(renderStatus(status), /installed, tunnel, TFC padding to 1400 B, reqid/);
  assert.match(page, /protocol="esp",mode="tunnel",tfc_padding="1400"\} 1$/m);
  const r = await up({ tfcPadding: 1400 }, { acceptTfcPadding: false });
  t.after(() => r.close());
  const refused = (await report(r.a, {})).status;
  const c = refused.connections[0]!.ikeSas[0]!.children[0]!;
  assert.equal(c.tfcPadding, undefined);
  assert.equal(c.peerRefusesTfc, true);
  assert.match(renderStatus(refused), /installed, tunnel, peer refuses TFC padding, reqid/);
});
