// The daemon's side of an HA pair (config ha:, src/ha/, docs/ha.md): opens the sync channel's UDP
// socket, runs one HaNode beside the engine, and answers `ikeway ha promote|demote|status`. A
// standby starts no connection; a promotion takes over the synced IKE SAs and then starts the
// connections that still have none (their `start` action), as a fresh node would.
import type { Logger } from '../base/logger.ts';
import type { TimerQueue } from '../base/timers.ts';
import type { HaConfig } from '../config/index.ts';
import type { HaStatusReport } from '../control/status-types.ts';
import type { Engine } from '../ike/engine.ts';
import { SyncChannel } from '../ha/channel.ts';
import { HaNode } from '../ha/node.ts';
import { udpSyncSocket } from '../ha/udp.ts';

export class DaemonHa {
  readonly node: HaNode;
  /** Wall clock minus the timer clock (status shows the failover time as Unix seconds). */
  readonly #wallOffsetMs: number;

  private constructor(node: HaNode, timers: TimerQueue) {
    this.node = node;
    this.#wallOffsetMs = Date.now() - timers.now();
  }

  static async open(c: HaConfig, engine: Engine, timers: TimerQueue, logger: Logger): Promise<DaemonHa> {
    const socket = await udpSyncSocket({
      localAddr: c.local.address,
      port: c.port,
      peerAddr: c.peer.address,
      peerPort: c.port,
    });
    const channel = new SyncChannel({
      socket,
      syncKey: c.syncKey.bytes(),
      nodeId: c.nodeId,
      peerAddr: c.peer.address,
      now: () => Date.now(),
    });
    const node = new HaNode({
      engine,
      channel,
      timers,
      logger,
      nodeId: c.nodeId,
      priority: c.priority,
      role: c.role,
      heartbeatMs: c.heartbeatMs,
      seq: { maxPacketRate: c.maxPacketRate, reportMs: c.seqReportMs },
    });
    logger.log('info', 'HA node started', {
      component: 'ha',
      role: c.role,
      node: c.nodeId,
      peer: `${c.peer.address}:${c.port}`,
    });
    return new DaemonHa(node, timers);
  }

  get active(): boolean {
    return this.node.role === 'active';
  }

  status(): HaStatusReport {
    const s = this.node.status();
    const f = s.lastFailover;
    return {
      ...s,
      ...(f ? { lastFailover: { ...f, atUnixSeconds: Math.round((f.at + this.#wallOffsetMs) / 1000) } } : {}),
    };
  }

  close(): void {
    this.node.close();
  }
}
