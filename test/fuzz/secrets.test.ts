// ARCHITECTURE principle 8: PSKs and derived keys (SK_d, SK_ai/ar, SK_ei/er, SK_pi/pr, every Child SA
// key) never appear in logs at any level (trace included, text and JSON forms), in status output, or
// in any error a task threw (message, stack, own properties: what a crash report would print).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ExchangeType } from '../../src/codec/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { renderStatus } from '../../src/control/render.ts';
import { DaemonLogger } from '../../src/daemon/log.ts';
import { buildStatus } from '../../src/daemon/status.ts';
import type { Engine } from '../../src/ike/engine.ts';
import { KernelError } from '../../src/kernel/errors.ts';
import type { MemoryLogger } from '../../src/base/logger.ts';
import type { RecordingKernel } from '../exchange/harness.ts';
import { PSK, pair } from '../exchange/harness.ts';
import { FuzzPair, TO_B, sealRaw } from './lib/engine-pair.ts';

/** The encodings a key could leak in. */
function forms(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  return [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64url')];
}

class Secrets {
  readonly keys: Uint8Array[] = [];
  /** Copies every key of every live SA in the engine and every Child SA key the kernel got. */
  snap(engine: Engine, kernel: RecordingKernel): void {
    for (const sa of engine.sas()) {
      const k = sa.keymat?.keys;
      if (!k || sa.keymat?.destroyed) continue;
      for (const key of [k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr])
        if (key.length) this.keys.push(key.slice());
    }
    for (const p of kernel.installed)
      for (const key of [p.aead?.key, p.crypt?.key, p.auth?.key])
        if (key?.length) this.keys.push(key.slice());
  }
  /** Every secret form found in `text`. */
  leaks(text: string, psks: readonly Uint8Array[]): string[] {
    const all = [
      ...psks.flatMap((p) => [Buffer.from(p).toString('latin1'), ...forms(p)]),
      ...this.keys.flatMap(forms),
    ];
    return all.filter((s) => s.length >= 16 && text.includes(s));
  }
}

/** Log entries as the daemon writes them, text and JSON, at trace level (everything). */
function renderLogs(l: MemoryLogger): string {
  const text = new DaemonLogger({ level: 'trace', format: 'text', sink: { write: () => 0 } });
  const json = new DaemonLogger({ level: 'trace', format: 'json', sink: { write: () => 0 } });
  return l.entries
    .flatMap((e) => [text.line(e.level, e.message, e.fields), json.line(e.level, e.message, e.fields)])
    .join('\n');
}

const errorText = (errors: readonly unknown[]): string =>
  errors.map((e) => `${String(e)}\n${inspect(e, { depth: 6, showHidden: true })}`).join('\n');

test('the leak detector finds a key in any of its encodings (so the tests below can fail)', () => {
  const s = new Secrets();
  s.keys.push(new Uint8Array(32).fill(0xab));
  assert.ok(s.leaks(`key=${'ab'.repeat(32)}`, []).length >= 1);
  assert.ok(s.leaks(`key=${Buffer.alloc(32, 0xab).toString('base64')}`, []).length >= 1);
  assert.deepEqual(s.leaks('nothing secret here', []), []);
  assert.equal(s.leaks(`psk ${new TextDecoder().decode(PSK)}`, [PSK]).length, 1);
});

test('no PSK or derived key in logs (trace, text and JSON), errors or status across a full SA life', async (t) => {
  const p = new FuzzPair({}, 100_000);
  t.after(() => p.close());
  const s = new Secrets();
  const snap = () => {
    s.snap(p.a.engine, p.a.kernel);
    s.snap(p.b.engine, p.b.kernel);
  };
  const { a } = await p.establish();
  snap();
  const steps: (() => void)[] = [
    () => p.a.engine.createChild('site'),
    () => {
      // The responder's kernel refuses the next Child SA: a KernelError travels through the task.
      p.b.kernel.failNext('updateSa', KernelError.fromErrno(22, 'XFRM_MSG_UPDSA', 'esp spi 0x1 (fuzz)'));
      p.a.engine.createChild('site');
    },
    () => p.a.engine.rekeyChild(a, a.children[0]!),
    () => p.a.engine.lifecycle.checkLiveness(a),
    () => p.a.engine.terminateChild(a, a.children.at(-1)!),
  ];
  for (const step of steps) {
    step();
    await p.settle(0);
    snap();
  }
  // Authenticated garbage behind SK (typed errors, error notifies) and unauthenticated garbage.
  const b = p.b.engine.findBySpi(a.spiR!)!;
  for (let i = 0; i < 20; i++) {
    const junk = Uint8Array.from({ length: 40 + i }, (_, j) => (j * 37 + i) & 0xff);
    const mid = b.runner.expectedRequestId;
    p.net.inject(sealRaw(a, a.keymat!.outbound, ExchangeType.CREATE_CHILD_SA, mid, 33, junk), TO_B);
    const forged = sealRaw(a, a.keymat!.outbound, ExchangeType.INFORMATIONAL, mid, 0, junk);
    forged[forged.length - 1]! ^= 1;
    p.net.inject(forged, TO_B);
    await p.settle(0);
  }
  p.a.engine.rekeyIke(a);
  await p.settle(0);
  snap();
  await p.settle(60_000);
  snap();

  const conf = parseConfig(
    `local:\n  address: 203.0.113.2\nconnections:\n  site:\n    remote: 203.0.113.1\n    auth: { psk: { env: PSK } }\n`,
    'status.yaml',
    { env: { PSK: new TextDecoder().decode(PSK) } },
  ).config;
  const report = await buildStatus({
    daemon: {
      version: '0',
      pid: 1,
      uptimeSeconds: 1,
      config: 'x',
      kernel: 'memory',
      socket: 's',
      ports: { ike: 500, natT: 4500 },
    },
    engine: p.b.engine,
    kernel: p.b.kernel,
    connections: conf.connections,
    failClosed: () => 0,
    times: { ike: new WeakMap(), child: new WeakMap() },
    now: p.clock.now(),
  });
  await p.close();
  assert.ok(s.keys.length >= 40, `collected only ${s.keys.length} keys`);
  assert.ok(p.a.logger.entries.length + p.b.logger.entries.length > 50, 'debug logging was captured');
  assert.ok(p.errors.length > 0, 'the garbage made tasks throw');
  const outputs = {
    logs: `${renderLogs(p.a.logger)}\n${renderLogs(p.b.logger)}`,
    errors: errorText(p.errors),
    status: `${renderStatus(report)}\n${JSON.stringify(report)}\n${inspect(report, { depth: 8 })}`,
  };
  for (const [what, text] of Object.entries(outputs))
    assert.deepEqual(s.leaks(text, [PSK]), [], `secret in ${what}`);
});

test('a PSK mismatch (AUTHENTICATION_FAILED) logs neither PSK on either side', async (t) => {
  const other = new TextEncoder().encode('the other shared secret, also long enough');
  const h = pair({ b: { auth: { kind: 'psk', psk: other } } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(10_000);
  assert.ok(h.b.counters.get('ike.auth_failed') >= 1);
  const s = new Secrets();
  const text = `${renderLogs(h.a.logger)}\n${renderLogs(h.b.logger)}\n${inspect(h.a.events, { depth: 3 })}${inspect(h.b.events, { depth: 3 })}`;
  assert.match(text, /AUTH|auth/);
  assert.deepEqual(s.leaks(text, [PSK, other]), []);
});
