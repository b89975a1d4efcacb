// Ownership phases against the host kernel (argv: phase stateDir). Prints JSON.
import { OwnedKernel } from '../../../src/kernel/ownership.ts';
import { openXfrmKernel } from '../../../src/kernel/xfrm/netlink.ts';
import type { PolicyParams } from '../../../src/kernel/types.ts';

const [phase, dir] = process.argv.slice(2);
const pol = (n: number): PolicyParams => ({
  selector: { src: `10.${n}.0.0/16`, dst: '10.99.0.0/16' },
  dir: 'out',
  action: 'allow',
  priority: 200,
  templates: [{ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', mode: 'tunnel', reqid: n }],
});
const k = new OwnedKernel(await openXfrmKernel(), dir!);
const out: Record<string, unknown> = {};
const sels = async (): Promise<string[]> => (await k.dumpPolicies()).map((p) => p.selector.src).sort();
if (phase === 'crash') {
  await k.addPolicy(pol(1));
  await k.addPolicy(pol(2));
  await k.addPolicy(pol(3));
  await k.deletePolicy(pol(2));
  try {
    await k.addPolicy({ ...pol(50), selector: { src: '10.50.0.0/16', dst: '10.99.0.0/16' } });
  } catch (e) {
    out.foreignDup = (e as { code: string }).code;
  }
  out.spi = await k.allocSpi({ src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp', reqid: 4 });
  out.owned = k.list().length;
  // exit without removeAll(), as a crash would
} else if (phase === 'restart') {
  out.reconciled = (await k.reconcile()).map((o) => o.kind).sort();
  out.after = await sels();
  out.sas = (await k.dumpSas()).length;
  await k.addPolicy(pol(4));
  await k.flushPolicies();
  out.afterFlush = await sels();
  await k.addPolicy(pol(5));
  await k.addPolicy(pol(6));
  out.removed = await k.removeAll();
  out.afterRemoveAll = await sels();
}
await k.close();
console.log(JSON.stringify(out));
