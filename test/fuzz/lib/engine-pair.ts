// Two engines in one process for fuzzing (like test/exchange/harness.ts, plus a guarded task
// registry): every task's process/build/abort is wrapped so that an error which is not one of the
// modules' typed errors (a TypeError from a half-checked payload, say) becomes a finding even though
// the task manager would turn it into an INVALID_SYNTAX answer. The engine's own "unexpected error"
// log line (an exception that escaped a task manager) is a finding too.
import { CodecError, HeaderFlag, PayloadType } from '../../../src/codec/index.ts';
import { CryptoError } from '../../../src/crypto/errors.ts';
import { CredsError } from '../../../src/creds/errors.ts';
import { FakeClock } from '../../../src/base/clock.ts';
import type { EngineOptions, IkeConnection } from '../../../src/ike/config.ts';
import { Counters } from '../../../src/base/counters.ts';
import { Engine } from '../../../src/ike/engine.ts';
import { IkeError } from '../../../src/ike/errors.ts';
import { RunnerError } from '../../../src/ike/exchange/runner.ts';
import type { IkeSa } from '../../../src/ike/ike-sa.ts';
import { MemoryLogger } from '../../../src/base/logger.ts';
import { StateError } from '../../../src/ike/state.ts';
import type { Task } from '../../../src/ike/task.ts';
import { TaskRegistry } from '../../../src/ike/task-registry.ts';
import { defaultTaskRegistry } from '../../../src/ike/tasks/index.ts';
import { TimerQueue } from '../../../src/base/timers.ts';
import { KernelError } from '../../../src/kernel/errors.ts';
import { MemoryNetwork } from '../../../src/net/memory.ts';
import type { SkCipher } from '../../../src/codec/index.ts';
import { ADDR_A, ADDR_B, RecordingKernel, connection } from '../../exchange/harness.ts';

/** The errors a task may legitimately throw on hostile input. */
export const isTypedError = (e: unknown): boolean =>
  e instanceof IkeError ||
  e instanceof CodecError ||
  e instanceof CryptoError ||
  e instanceof KernelError ||
  e instanceof StateError ||
  e instanceof RunnerError ||
  e instanceof CredsError;

const EXCHANGES = [34, 35, 36, 37] as const; // IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL

function guard(task: Task, problems: string[], seen?: unknown[]): Task {
  const wrap =
    <A extends unknown[], R>(what: string, fn: ((...a: A) => R) | undefined) =>
    async (...a: A): Promise<Awaited<R> | undefined> => {
      if (!fn) return undefined;
      try {
        return await fn.apply(task, a);
      } catch (e) {
        seen?.push(e);
        if (!isTypedError(e))
          problems.push(
            `${task.name}.${what}: untyped ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
          );
        throw e;
      }
    };
  return {
    name: task.name,
    exchange: task.exchange,
    build: wrap('build', task.build) as Task['build'],
    process: wrap('process', task.process) as Task['process'],
    abort: wrap('abort', task.abort) as Task['abort'],
  };
}

/** The default responder tasks, each guarded. */
export function guardedRegistry(problems: string[], seen?: unknown[]): TaskRegistry {
  const base = defaultTaskRegistry();
  const r = new TaskRegistry(base.initiators);
  for (const x of EXCHANGES)
    r.register(x, (sa, req) => base.create(sa, req).map((t) => guard(t, problems, seen)));
  return r;
}

export interface FuzzPeer {
  readonly engine: Engine;
  readonly kernel: RecordingKernel;
  readonly counters: Counters;
  readonly logger: MemoryLogger;
  readonly conn: IkeConnection;
}

export const TO_B = { localAddr: ADDR_B, localPort: 500, remoteAddr: ADDR_A, remotePort: 500 };

export class FuzzPair {
  readonly clock = new FakeClock(0);
  readonly timers = new TimerQueue(this.clock);
  readonly net = new MemoryNetwork(this.timers, { logLimit: 64 });
  /** Untyped errors seen in tasks and escaped exceptions, since the last take(). */
  readonly problems: string[] = [];
  /** Every error a responder task threw (typed ones included), for the secrets test. */
  readonly errors: unknown[] = [];
  readonly a: FuzzPeer;
  readonly b: FuzzPeer;

  constructor(optionsB: EngineOptions = {}, logLimit = 200) {
    let seed = 1;
    const peer = (side: 'a' | 'b', options: EngineOptions): FuzzPeer => {
      const counters = new Counters();
      const logger = new MemoryLogger(logLimit);
      const kernel = new RecordingKernel();
      let x = seed++ * 7919;
      kernel.random = () => (x = (x * 48271) % 2147483647) / 2147483647;
      const conn = connection(side);
      const transport = this.net.createTransport({ addresses: [conn.localAddr], counters });
      const engine = new Engine({
        transport,
        kernel,
        timers: this.timers,
        connections: [conn],
        counters,
        logger,
        options,
        tasks: guardedRegistry(this.problems, this.errors),
      });
      return { engine, kernel, counters, logger, conn };
    };
    this.a = peer('a', {});
    this.b = peer('b', optionsB);
  }

  /** Runs every due datagram and async step; moves the clock by `ms` (bounded loops). */
  async settle(ms = 0): Promise<void> {
    const end = this.clock.now() + ms;
    for (let i = 0; i < 1000; i++) {
      for (let j = 0; j < 100; j++) {
        this.clock.advance(0);
        await this.a.engine.idle();
        await this.b.engine.idle();
        await new Promise<void>((r) => setImmediate(r));
        if (this.clock.alarmAt === undefined || this.clock.alarmAt > this.clock.now()) break;
      }
      if (this.clock.now() >= end) return;
      this.clock.advanceTo(Math.min(end, this.clock.now() + 1000));
    }
  }

  /** Untyped errors and escaped exceptions since the last call (then forgotten). */
  take(): string[] {
    const out = this.problems.splice(0);
    for (const p of [this.a, this.b]) {
      for (const e of p.logger.entries)
        if (e.message === 'unexpected error') out.push(`escaped: ${JSON.stringify(e.fields)}`);
      p.logger.entries.length = 0;
    }
    return out;
  }

  /** A's SA and B's SA of one IKE SA pair, after A initiated and everything settled. */
  async establish(): Promise<{ a: IkeSa; b: IkeSa }> {
    const a = this.a.engine.initiate('site');
    await this.settle(0);
    const b = a.spiR && this.b.engine.findBySpi(a.spiR);
    if (!b || a.state !== 'established' || b.state !== 'established')
      throw new Error(`no IKE SA established (a: ${a.state}, b: ${b ? b.state : 'none'})`);
    return { a, b };
  }

  async close(): Promise<void> {
    await this.a.engine.close();
    await this.b.engine.close();
    this.timers.clear();
  }
}

/**
 * A request from the initiator side with raw inner plaintext sealed in SK (RFC 7296 §3.14): header,
 * SK generic header (Next Payload = the first inner type), then cipher.seal(aad, plain).
 */
export function sealRaw(
  sa: IkeSa,
  cipher: SkCipher,
  exchange: number,
  messageId: number,
  innerFirst: number,
  plain: Uint8Array,
  skf?: { readonly number: number; readonly total: number },
): Uint8Array {
  const head = 28 + (skf ? 8 : 4);
  const sealed = cipher.sealedLength(plain.length);
  const out = new Uint8Array(head + sealed);
  const v = new DataView(out.buffer);
  out.set(sa.spiI, 0);
  out.set(sa.spiR!, 8);
  out[16] = skf ? PayloadType.SKF : PayloadType.SK;
  out[17] = 0x20;
  out[18] = exchange;
  out[19] = HeaderFlag.INITIATOR;
  v.setUint32(20, messageId);
  v.setUint32(24, out.length);
  out[28] = innerFirst;
  v.setUint16(30, out.length - 28);
  if (skf) {
    v.setUint16(32, skf.number);
    v.setUint16(34, skf.total);
  }
  out.set(cipher.seal(out.subarray(0, head), plain), head);
  return out;
}
