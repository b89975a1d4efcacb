// Public surface of the kernel layer: the interface, its errors, and the implementations.
export type * from './types.ts';
export { KernelError, errnoName, type KernelErrorKind } from './errors.ts';
export { openXfrmKernel, type XfrmKernelOptions } from './xfrm/netlink.ts';
export { FakeKernel, type FakeCall } from './fake.ts';
export { OwnedKernel, type OwnedObject } from './ownership.ts';
export { countKernelErrors } from './error-count.ts';
export {
  installIkeBypass,
  removeIkeBypass,
  ikeBypassPolicies,
  IKE_BYPASS_PRIORITY,
  type IkeBypassOptions,
} from './bypass.ts';
export { enableEspInUdp, espInUdpMode } from './natt.ts';
export {
  openRtnl,
  type Rtnl,
  type RouteParams,
  type LinkInfo,
  type LinkStats,
  type RouteInfo,
  type XfrmInterfaceParams,
} from './rtnl.ts';
