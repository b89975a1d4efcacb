// Benchmark (not a test): install N SAs + N policies three ways - our pipelined batch, our
// one-request-per-round-trip path, and `ip -batch` - and print objects per second and ratios.
// Usage: node --import tsx bench/xfrm-install.ts --count N [--policies-only] [--in-place] [--json]
// (--json adds one line `BENCH-JSON {objects, sas, policies, batched, oneByOne, ipBatch}`, rates in objects/s)
// Without --in-place it re-runs itself inside a throwaway network namespace (needs root). In the
// guest kernel (which has ESP) run it with --in-place from the guest's own namespace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { openXfrmKernel } from '../src/kernel/xfrm/netlink.ts';
import type { Kernel, KernelOp, PolicyParams, SaParams } from '../src/kernel/types.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const count = Number(opt('--count') ?? 1000);
const policiesOnly = argv.includes('--policies-only');
const inPlace = argv.includes('--in-place');
const json = argv.includes('--json');

function makeSet(n: number): { sas: SaParams[]; policies: PolicyParams[] } {
  const sas: SaParams[] = [];
  const policies: PolicyParams[] = [];
  for (let i = 0; i < n; i++) {
    const key = new Uint8Array(20).map((_, j) => (i * 7 + j) & 0xff);
    sas.push({
      src: '192.0.2.1',
      dst: '192.0.2.2',
      spi: 0xc0000000 + i,
      proto: 'esp',
      mode: 'tunnel',
      reqid: 1000 + i,
      aead: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 },
      replayWindow: 32,
    });
    policies.push({
      selector: { src: `10.${(i >> 8) & 255}.${i & 255}.0/24`, dst: '10.255.0.0/16' },
      dir: 'out',
      action: 'allow',
      priority: 1000,
      templates: [{ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', mode: 'tunnel', reqid: 1000 + i }],
    });
  }
  return { sas, policies };
}

function ipBatchText(sas: SaParams[], policies: PolicyParams[]): string {
  const hex = (b: Uint8Array): string => `0x${Buffer.from(b).toString('hex')}`;
  const lines = sas.map(
    (s) =>
      `xfrm state add src ${s.src} dst ${s.dst} proto esp spi 0x${s.spi.toString(16)} reqid ${s.reqid} mode tunnel replay-window 32 aead rfc4106(gcm(aes)) ${hex(s.aead!.key)} 128`,
  );
  for (const p of policies) {
    const t = p.templates[0]!;
    lines.push(
      `xfrm policy add src ${p.selector.src} dst ${p.selector.dst} dir out priority ${p.priority} tmpl src ${t.src} dst ${t.dst} proto esp reqid ${t.reqid} mode tunnel`,
    );
  }
  return lines.join('\n') + '\n';
}

async function reset(k: Kernel): Promise<void> {
  await k.flushPolicies();
  await k.flushSas();
}

async function timed(label: string, k: Kernel, run: () => Promise<number>): Promise<number> {
  await reset(k);
  const t0 = performance.now();
  const installed = await run();
  const ms = performance.now() - t0;
  const rate = (installed / ms) * 1000;
  console.log(
    `${label.padEnd(26)} ${installed} objects in ${ms.toFixed(1)} ms = ${rate.toFixed(0)} objects/s`,
  );
  return rate;
}

async function inner(): Promise<void> {
  const k = await openXfrmKernel({ timeoutMs: 30_000 });
  const set = makeSet(count);
  let withSas = !policiesOnly;
  if (withSas) {
    try {
      await reset(k);
      await k.addSa(set.sas[0]!);
    } catch (e) {
      console.log(`this kernel cannot install ESP SAs (${(e as Error).message}): policies only`);
      withSas = false;
    }
  }
  const sas = withSas ? set.sas : [];
  const n = sas.length + set.policies.length;
  console.log(
    `installing ${sas.length} SAs + ${set.policies.length} policies (kernel ${process.platform}, pid ${process.pid})`,
  );
  const ops: KernelOp[] = [
    ...sas.map((sa) => ({ op: 'addSa' as const, sa })),
    ...set.policies.map((policy) => ({ op: 'addPolicy' as const, policy })),
  ];
  // Warm-up (JIT, caches), untimed: a small round of each of our paths.
  const warm = ops.slice(0, Math.min(300, ops.length));
  await reset(k);
  await k.batch(warm);
  await reset(k);
  for (const op of warm) if (op.op === 'addPolicy') await k.addPolicy(op.policy);
  const batched = await timed('ours, pipelined batch', k, async () => {
    const res = await k.batch(ops);
    const bad = res.filter(Boolean);
    if (bad.length) throw bad[0]!;
    return n;
  });
  const oneByOne = await timed('ours, one by one', k, async () => {
    for (const sa of sas) await k.addSa(sa);
    for (const p of set.policies) await k.addPolicy(p);
    return n;
  });
  const dir = mkdtempSync(join(tmpdir(), 'ikw-bench-'));
  const file = join(dir, 'batch.txt');
  writeFileSync(file, ipBatchText(sas, set.policies), { mode: 0o600 });
  const ipBatch = await timed('ip -batch (incl. exec)', k, async () => {
    const r = spawnSync('ip', ['-batch', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip -batch: ${r.stderr}`);
    return n;
  });
  rmSync(dir, { recursive: true, force: true });
  await reset(k);
  await k.close();
  if (json)
    console.log(
      `BENCH-JSON ${JSON.stringify({ objects: n, sas: sas.length, policies: set.policies.length, batched, oneByOne, ipBatch })}`,
    );
  console.log(
    `ratios: batch/one-by-one ${(batched / oneByOne).toFixed(2)}x, batch/ip -batch ${(batched / ipBatch).toFixed(2)}x, one-by-one/ip -batch ${(oneByOne / ipBatch).toFixed(2)}x`,
  );
}

if (inPlace) await inner();
else {
  const { Netns } = await import('../lab/netns/netns.ts');
  const ns = Netns.create('bench');
  try {
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', self, ...argv, '--in-place'],
      {
        stdio: 'inherit',
        timeout: 600_000,
      },
    );
    process.exitCode = r.status ?? 1;
  } finally {
    ns.delete();
  }
}
