// Guest-side runner of test/interop/rekey-no-loss.test.ts: one flow per `PEER` spec (both rekey
// starters, lab/interop/rekey-flow.ts) and the restarted-peer recovery per `restart:PEER` spec
// (restart-recovery.ts), IKW_FLOW_CONCURRENCY (default 4) at a time, each in its own namespaces;
// prints one `IKW-FLOW-RESULT <json>` line per spec and never throws past one.
// usage: node rekey-flow-run.ts PEER ... PEER@LOCAL ... restart:PEER ...
//        (PEER, LOCAL: strongswan|libreswan|ikeway; PEER@LOCAL: a control flow without ikeway)
import { IkewayPeer } from '../../../lab/interop/ikeway-peer.ts';
import { peerDriver } from '../../../lab/interop/peers.ts';
import { rekeyFlow } from '../../../lab/interop/rekey-flow.ts';
import { restartRecovery } from '../../../lab/interop/restart-recovery.ts';
import type { PeerDriver } from '../../../lab/interop/types.ts';

const specs = process.argv.slice(2);
const concurrency = Math.max(1, Math.min(6, Number(process.env['IKW_FLOW_CONCURRENCY'] ?? 4) || 4));
const driver = (kind: string): PeerDriver => (kind === 'ikeway' ? new IkewayPeer() : peerDriver(kind));

async function one(spec: string): Promise<void> {
  const [kind, arg] = spec.split(':') as [string, string | undefined];
  const started = Date.now();
  process.stderr.write(`[${spec}] start\n`);
  let facts: unknown;
  try {
    if (kind === 'restart') {
      // `restart:PEER`: the peer restarted with its kernel state wiped (restart-recovery.ts).
      const peer = String(arg);
      facts = await restartRecovery({
        peer: driver(peer),
        log: (l) => process.stderr.write(`[${spec}] ${l}\n`),
      });
    } else if (kind.includes('@')) {
      // `PEER@LOCAL`: a control flow, LOCAL on router-a in ikeway's place starts the rekeys (the
      // peer's own loss, with no ikeway in the tunnel).
      const [peer, local] = kind.split('@') as [string, string];
      facts = await rekeyFlow({
        peer: driver(peer),
        local: driver(local),
        starters: ['ikeway'],
        log: (l) => process.stderr.write(`[${spec}] ${l}\n`),
      });
    } else
      facts = await rekeyFlow({
        peer: driver(kind),
        log: (l) => process.stderr.write(`[${spec}] ${l}\n`),
      });
  } catch (e) {
    facts = { peer: kind, error: `runner: ${String((e as Error).message ?? e)}`, phases: [], evidence: [] };
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
