// The daemon-wide count of failed kernel operations: every Kernel call that rejects (or throws)
// with a KernelError (a netlink NLMSG_ERROR with its errno, a timeout, a closed socket) adds one
// to `kernel.netlink_errors`, whoever made the call (engine, policy owner, reload, a metrics
// scrape's SA dump), and every failed operation inside a batch (which resolves with per-operation
// errors instead of rejecting). The error itself goes on to the caller unchanged.
import type { Counters } from '../base/counters.ts';
import { KernelError } from './errors.ts';
import type { Kernel } from './types.ts';

export function countKernelErrors(kernel: Kernel, counters: Counters): Kernel {
  const count = (e: unknown): never => {
    if (e instanceof KernelError) counters.inc('kernel.netlink_errors');
    throw e;
  };
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(kernel, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const have = cache.get(prop);
      if (have) return have;
      const f = (...args: unknown[]) => {
        let r: unknown;
        try {
          r = (v as (...a: unknown[]) => unknown).apply(target, args);
        } catch (e) {
          return count(e);
        }
        if (!(r instanceof Promise)) return r;
        if (prop !== 'batch') return r.catch(count);
        return (r as Promise<unknown[]>).then((res) => {
          for (const e of res) if (e instanceof KernelError) counters.inc('kernel.netlink_errors');
          return res;
        }, count);
      };
      cache.set(prop, f);
      return f;
    },
  });
}
