// The kernel interface: everything the IKE engine asks of the kernel's IPsec tables (SAs, policies,
// SPI allocation, events). Parameter objects in, typed results and KernelError out. Two
// implementations: the real one over NETLINK_XFRM (openXfrmKernel in ./xfrm/netlink.ts) and the
// in-memory FakeKernel (./fake.ts) for engine tests. Keys go in, but never come back out (SaInfo
// reports algorithm names and key lengths only).
import type { KernelError } from './errors.ts';

/** Security protocol of an SA (RFC 4303 ESP = 50, RFC 4302 AH = 51). */
export type IpProto = 'esp' | 'ah';
/** RFC 4301 §4.1: transport or tunnel mode. */
export type XfrmMode = 'transport' | 'tunnel';
/** Policy direction: in (inbound to this host), out, fwd (inbound to be forwarded). */
export type PolicyDir = 'in' | 'out' | 'fwd';
/** RFC 4301 §4.4.1: PROTECT is a policy with templates; BYPASS = allow without; DISCARD = block. */
export type PolicyAction = 'allow' | 'block';

/** XFRM mark: an object matches packets whose skb mark & mask === value. */
export interface Mark {
  value: number;
  mask: number;
}

/**
 * Traffic selector (RFC 4301 §4.4.1.1), one family. src/dst are CIDRs ("10.1.0.0/16",
 * "2001:db8::/64"); a bare address means a host prefix. proto 0/undefined = any; ports
 * 0/undefined = any (ports only for TCP/UDP/SCTP; for ICMP sport = type, dport = code).
 */
export interface Selector {
  src: string;
  dst: string;
  proto?: number;
  sport?: number;
  dport?: number;
  /** Interface index the selector is bound to (0/undefined = any). */
  ifindex?: number;
}

/** What identifies an SA in the kernel: (dst, spi, proto[, mark]). */
export interface SaId {
  dst: string;
  spi: number;
  proto: IpProto;
  mark?: Mark;
}

/** Limits of one lifetime (RFC 7296 §2.8: rekey on soft, delete on hard). undefined = unlimited. */
export interface LifeLimits {
  bytes?: bigint;
  packets?: bigint;
  /** Seconds after the SA/policy was added. */
  seconds?: number;
  /** Seconds after the SA/policy was first used. */
  useSeconds?: number;
}

export interface Lifetime {
  soft?: LifeLimits;
  hard?: LifeLimits;
}

/** Combined-mode algorithm by kernel name, e.g. "rfc4106(gcm(aes))" (key includes the 4-byte salt). */
export interface AeadAlgorithm {
  name: string;
  key: Uint8Array;
  icvBits: number;
}
/** Encryption algorithm by kernel name, e.g. "cbc(aes)". */
export interface CryptAlgorithm {
  name: string;
  key: Uint8Array;
}
/** Integrity algorithm by kernel name, e.g. "hmac(sha256)" with truncBits 128 (RFC 4868 §2.3). */
export interface AuthAlgorithm {
  name: string;
  key: Uint8Array;
  truncBits: number;
}

/** RFC 3948 UDP encapsulation of ESP (NAT-T): the UDP ports of the outer header. */
export interface EncapTemplate {
  sport: number;
  dport: number;
  /** Original address for checksum fixups in transport mode (RFC 3948 §3.1.2), optional. */
  oa?: string;
}

export interface SaParams extends SaId {
  src: string;
  mode: XfrmMode;
  reqid: number;
  /**
   * Selector the SA is restricted to. Default: for transport mode the host pair src->dst;
   * for tunnel mode none (any inner traffic, either family: XFRM_STATE_AF_UNSPEC).
   */
  selector?: Selector;
  aead?: AeadAlgorithm;
  crypt?: CryptAlgorithm;
  auth?: AuthAlgorithm;
  /** Anti-replay window in packets (RFC 4303 §3.4.3). Above 32, or with esn, XFRMA_REPLAY_ESN_VAL is used. */
  replayWindow?: number;
  /** RFC 4303 §2.2.1 extended sequence numbers. */
  esn?: boolean;
  lifetime?: Lifetime;
  encap?: EncapTemplate;
  /** XFRM interface id (route-based tunnels). */
  ifId?: number;
  /** RFC 4303 §2.7 TFC padding: pad packets to this length (XFRMA_TFCPAD). */
  tfcPad?: number;
  /** Do not copy ECN bits etc.; raw XFRM_STATE_* flags to OR in (advanced). */
  extraFlags?: number;
  /**
   * Outbound SA: the last sequence number counted as used (RFC 4303 §3.3.3), so the first packet
   * carries oseq + 1. An HA node taking over an SA jumps past what the old node sent (src/ha/).
   */
  oseq?: bigint;
}

/** Algorithms of an installed SA, without key bytes. */
export interface SaAlgorithmInfo {
  aead?: { name: string; keyBits: number; icvBits: number };
  crypt?: { name: string; keyBits: number };
  auth?: { name: string; keyBits: number; truncBits: number };
}

/** Lifetime counters of an SA or policy (xfrm_lifetime_cur). Times are Unix seconds, 0 = never. */
export interface LifeCurrent {
  bytes: bigint;
  packets: bigint;
  addTime: number;
  useTime: number;
}

export interface SaStats {
  replayWindow: number;
  replay: number;
  integrityFailed: number;
}

export interface SaInfo extends Omit<SaParams, 'aead' | 'crypt' | 'auth' | 'selector'> {
  selector: Selector | undefined;
  algorithms: SaAlgorithmInfo;
  current: LifeCurrent;
  stats: SaStats;
  /** Outbound / inbound sequence numbers (64-bit with ESN). */
  replay?: { oseq: bigint; seq: bigint };
}

/** A policy template (RFC 4301 SPD entry -> SA requirements), xfrm_user_tmpl. */
export interface Template {
  /** Outer addresses; required for tunnel mode, optional for transport. */
  src?: string;
  dst?: string;
  proto: IpProto;
  mode: XfrmMode;
  reqid: number;
  spi?: number;
  /** Optional templates (e.g. IPComp) may be skipped on input. */
  optional?: boolean;
}

/** What identifies a policy: selector+dir(+mark, ifId), or its index. */
export interface PolicyId {
  selector: Selector;
  dir: PolicyDir;
  mark?: Mark;
  ifId?: number;
  /** If set, the policy is looked up by index instead of selector. */
  index?: number;
}

export interface PolicyParams {
  selector: Selector;
  dir: PolicyDir;
  action: PolicyAction;
  /** Lower value = higher precedence (kernel semantics). */
  priority: number;
  /** Let the kernel choose (0/undefined) or request a specific index. */
  index?: number;
  mark?: Mark;
  ifId?: number;
  templates: Template[];
  lifetime?: Lifetime;
}

export interface PolicyInfo extends PolicyParams {
  index: number;
  current: LifeCurrent;
}

export interface AllocSpiParams {
  src: string;
  dst: string;
  proto: IpProto;
  reqid?: number;
  mark?: Mark;
  /** SPI range, inclusive; default 0xc0000000..0xcfffffff (like strongSwan). Min must be >= 256. */
  min?: number;
  max?: number;
}

/** Kernel events (RFC 7296 §1.3 / §2.8 triggers), typed. */
export type KernelEvent =
  | {
      type: 'acquire';
      /** Selector of the packet that triggered it. */
      selector: Selector;
      template: { src: string; dst: string; proto: IpProto; mode: XfrmMode; reqid: number };
      policyIndex: number;
      dir: PolicyDir | undefined;
      /** Acquire sequence number (xfrm_user_acquire.seq), echo it in the SA's seq if needed. */
      seq: number;
    }
  | { type: 'expire'; hard: boolean; sa: SaId & { src: string; reqid: number } }
  | { type: 'polexpire'; hard: boolean; selector: Selector; dir: PolicyDir; index: number }
  | {
      type: 'mapping';
      sa: SaId;
      reqid: number;
      oldAddr: string;
      oldPort: number;
      newAddr: string;
      newPort: number;
    };

export type KernelEventType = KernelEvent['type'];

/** One operation of a batch (see Kernel.batch). */
export type KernelOp =
  | { op: 'addSa'; sa: SaParams }
  | { op: 'updateSa'; sa: SaParams }
  | { op: 'deleteSa'; id: SaId }
  | { op: 'addPolicy'; policy: PolicyParams }
  | { op: 'updatePolicy'; policy: PolicyParams }
  | { op: 'deletePolicy'; id: PolicyId };

export interface Kernel {
  /** XFRM_MSG_ALLOCSPI: reserves a unique SPI in [min, max] as a larval SA; fill it with updateSa. */
  allocSpi(p: AllocSpiParams): Promise<number>;
  /** XFRM_MSG_NEWSA. KernelError.isExists if it exists already. */
  addSa(p: SaParams): Promise<void>;
  /** XFRM_MSG_UPDSA (replaces, or completes a larval SA from allocSpi). isNotFound if missing. */
  updateSa(p: SaParams): Promise<void>;
  /** XFRM_MSG_GETSA, with current counters. isNotFound if missing. */
  getSa(id: SaId): Promise<SaInfo>;
  /** XFRM_MSG_DELSA. isNotFound if missing. */
  deleteSa(id: SaId): Promise<void>;
  dumpSas(): Promise<SaInfo[]>;
  /** XFRM_MSG_FLUSHSA of one protocol, or all IPsec protocols. Callers with Ownership must not use it. */
  flushSas(proto?: IpProto): Promise<void>;
  addPolicy(p: PolicyParams): Promise<void>;
  updatePolicy(p: PolicyParams): Promise<void>;
  getPolicy(id: PolicyId): Promise<PolicyInfo>;
  deletePolicy(id: PolicyId): Promise<void>;
  dumpPolicies(): Promise<PolicyInfo[]>;
  flushPolicies(): Promise<void>;
  /**
   * Sends all operations without waiting a round trip for each; result i is null on success or
   * the KernelError of operation i. Never rejects for per-operation errors.
   */
  batch(ops: readonly KernelOp[]): Promise<(KernelError | null)[]>;
  /** Subscribes to events (joins the multicast groups on first use). Returns the unsubscribe function. */
  onEvent(listener: (e: KernelEvent) => void): () => void;
  close(): Promise<void>;
}

export interface KernelOptions {
  /** Per-request timeout in ms (default 5000). */
  timeoutMs?: number;
}
