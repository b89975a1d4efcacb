// Guest-side runner of test/interop/rekey-no-loss.test.ts: one flow per `PEER:STARTER` spec
// (lab/interop/rekey-flow.ts), IKW_FLOW_CONCURRENCY (default 3) at a time, each in its own
// namespaces; prints one `IKW-FLOW-RESULT <json>` line per flow and never throws past a flow.
// usage: node rekey-flow-run.ts PEER:STARTER ... restart:PEER ...
//   (PEER: strongswan|libreswan|ikeway, STARTER: ikeway|peer; restart: the restarted-peer recovery)
import { IkewayPeer } from '../../../lab/interop/ikeway-peer.ts';
import { peerDriver } from '../../../lab/interop/peers.ts';
import { rekeyFlow, type RekeyStarter } from '../../../lab/interop/rekey-flow.ts';
import { restartRecovery } from '../../../lab/interop/restart-recovery.ts';
import type { PeerDriver } from '../../../lab/interop/types.ts';

const specs = process.argv.slice(2);
const concurrency = Math.max(1, Math.min(6, Number(process.env['IKW_FLOW_CONCURRENCY'] ?? 3) || 3));
const driver = (kind: string): PeerDriver => (kind === 'ikeway' ? new IkewayPeer() : peerDriver(kind));

async function one(spec: string): Promise<void> {
  const [kind, by] = spec.split(':') as [string, RekeyStarter];
  const started = Date.now();
  process.stderr.write(`[${spec}] start\n`);
  let facts: unknown;
  try {
    if (kind === 'restart') {
      // `restart:PEER`: the peer restarted with its kernel state wiped (restart-recovery.ts).
      const peer = String(by);
      facts = await restartRecovery({
        peer: driver(peer),
        log: (l) => process.stderr.write(`[${spec}] ${l}\n`),
      });
    } else
      facts = await rekeyFlow({
        peer: driver(kind),
        by,
        log: (l) => process.stderr.write(`[${spec}] ${l}\n`),
      });
  } catch (e) {
    facts = { peer: kind, by, error: `runner: ${String((e as Error).message ?? e)}` };
  }
  process.stdout.write(`IKW-FLOW-RESULT ${JSON.stringify({ spec, facts })}\n`);
  process.stderr.write(`[${spec}] done in ${Date.now() - started} ms\n`);
}

const queue = [...specs];
await Promise.all(
  Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) await one(s);
  }),
);
