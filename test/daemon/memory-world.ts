// Several engines on one MemoryNetwork under one fake clock, for daemon-level tests that map YAML
// connections and let many peers talk (the two-engine case is test/exchange/harness.ts pair()).
import { FakeClock } from '../../src/base/clock.ts';
import { Counters } from '../../src/base/counters.ts';
import { MemoryLogger } from '../../src/base/logger.ts';
import { TimerQueue } from '../../src/base/timers.ts';
import type { EngineOptions, IkeConnection } from '../../src/ike/config.ts';
import { Engine } from '../../src/ike/engine.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { MemoryNetwork } from '../../src/net/memory.ts';

export function memoryWorld() {
  const clock = new FakeClock(0);
  const timers = new TimerQueue(clock);
  const net = new MemoryNetwork(timers, {});
  const engines: Engine[] = [];
  /** An engine listening on `addrs` (one address or several) with these connections (and options). */
  const engine = (addrs: string | string[], conns: IkeConnection[], options?: EngineOptions) => {
    const counters = new Counters();
    const e = new Engine({
      transport: net.createTransport({ addresses: typeof addrs === 'string' ? [addrs] : addrs, counters }),
      kernel: new FakeKernel(),
      timers,
      connections: conns,
      counters,
      logger: new MemoryLogger(),
      ...(options ? { options } : {}),
    });
    engines.push(e);
    return e;
  };
  /** Runs every engine and the clock forward `ms` in 250 ms steps (bounded inner loop per step). */
  const settle = async (ms: number) => {
    for (let t = 0; t <= ms; t += 250) {
      for (let j = 0; j < 50; j++) {
        clock.advance(0);
        for (const e of engines) await e.idle();
        await new Promise<void>((r) => setImmediate(r));
      }
      clock.advance(250);
    }
  };
  const close = async () => {
    for (const e of engines) await e.close();
    timers.clear();
  };
  return { engine, settle, close, net, timers, clock };
}
