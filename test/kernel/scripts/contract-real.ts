// Runs the Kernel contract cases against the real XFRM backend, inside the network namespace the
// test placed this process in. Prints one JSON line per case: { name, ok, error? }.
import { openXfrmKernel } from '../../../src/kernel/xfrm/netlink.ts';
import { contractCases } from '../contract-cases.ts';

for (const c of contractCases) {
  const k = await openXfrmKernel({ timeoutMs: 3000 });
  try {
    await k.flushPolicies();
    await k.flushSas();
    await c.run(k);
    console.log(JSON.stringify({ name: c.name, ok: true }));
  } catch (e) {
    console.log(JSON.stringify({ name: c.name, ok: false, error: e instanceof Error ? e.stack : String(e) }));
  } finally {
    await k.close();
  }
}
