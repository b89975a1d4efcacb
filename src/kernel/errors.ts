// Typed kernel errors. Every netlink NLMSG_ERROR becomes a KernelError carrying the errno, its
// name, the request type (e.g. XFRM_MSG_NEWSA) and a short description of the object (addresses,
// SPI, selector) - never key bytes. EEXIST and ESRCH/ENOENT are outcomes the caller acts on.
import { constants as osConstants } from 'node:os';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, num]) => [num, name] as [number, string]),
);

/** Errno name ('EEXIST') of a positive errno, or `E<num>` if unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

export type KernelErrorKind = 'errno' | 'timeout' | 'unsupported' | 'invalid' | 'closed' | 'protocol';

export class KernelError extends Error {
  override readonly name = 'KernelError';
  /** Positive errno (0 for errors that did not come from the kernel). */
  readonly errno: number;
  /** Errno name ('EEXIST'), or for local errors the kind in capitals ('TIMEOUT', 'UNSUPPORTED', 'CLOSED'). */
  readonly code: string;
  constructor(
    readonly kind: KernelErrorKind,
    errno: number,
    /** Request message type name, e.g. 'XFRM_MSG_NEWSA'. */
    readonly request: string,
    /** Short description of the object, e.g. 'esp spi 0xc0000001 192.0.2.1->192.0.2.2'. */
    readonly object: string,
    detail?: string,
  ) {
    const code = errno > 0 ? errnoName(errno) : kind.toUpperCase();
    super(`${request} ${object}: ${code}${detail ? ` (${detail})` : ''}`);
    this.errno = errno;
    this.code = code;
  }
  /** The object exists already (EEXIST). */
  get isExists(): boolean {
    return this.code === 'EEXIST';
  }
  /** The object does not exist (ESRCH, ENOENT). */
  get isNotFound(): boolean {
    return this.code === 'ESRCH' || this.code === 'ENOENT';
  }
  /** The kernel did not answer within the timeout. */
  get isTimeout(): boolean {
    return this.kind === 'timeout';
  }
  /** The kernel lacks the feature (EOPNOTSUPP, EAFNOSUPPORT, EPROTONOSUPPORT, or a local 'unsupported'). */
  get isUnsupported(): boolean {
    return (
      this.kind === 'unsupported' ||
      this.code === 'EOPNOTSUPP' ||
      this.code === 'EPROTONOSUPPORT' ||
      this.code === 'EAFNOSUPPORT'
    );
  }

  static fromErrno(errno: number, request: string, object: string, detail?: string): KernelError {
    return new KernelError('errno', errno, request, object, detail);
  }
  static invalid(request: string, object: string, detail: string): KernelError {
    return new KernelError('invalid', osConstants.errno.EINVAL, request, object, detail);
  }
  static timeout(request: string, object: string, ms: number): KernelError {
    return new KernelError('timeout', 0, request, object, `no reply within ${ms} ms`);
  }
  static unsupported(request: string, object: string, detail: string): KernelError {
    return new KernelError('unsupported', 0, request, object, detail);
  }
  static closed(request: string, object: string): KernelError {
    return new KernelError('closed', 0, request, object, 'socket closed');
  }
}
