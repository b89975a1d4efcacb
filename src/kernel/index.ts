// Public surface of the kernel layer: the interface, its errors, and the implementations.
export type * from './types.ts';
export { KernelError, errnoName, type KernelErrorKind } from './errors.ts';
export { openXfrmKernel, type XfrmKernelOptions } from './xfrm/netlink.ts';
export { FakeKernel, type FakeCall } from './fake.ts';
