// The validated configuration the engine consumes: typed, defaults filled, durations in
// milliseconds, prefixes normalized, secrets and credentials loaded. Deeply frozen by the loader.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Secret } from '../crypto/secret.ts';
import type { Identity, IpAddress, IpPrefix, Mark } from './values.ts';

export type { Identity, IpAddress, IpPrefix, Mark } from './values.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type Mode = 'tunnel' | 'transport';
/** now: initiate at startup; on-traffic: install trap policies, initiate on ACQUIRE; wait: responder. */
export type StartAction = 'now' | 'on-traffic' | 'wait';
export type LivenessAction = 'restart' | 'clear' | 'trap';

export interface PskAuth {
  readonly kind: 'psk';
  readonly psk: Secret;
}

export interface CertAuth {
  readonly kind: 'cert';
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly ca: readonly X509Certificate[];
  /** Intermediate CAs we send after our certificate, issuer of `cert` first. */
  readonly chain: readonly X509Certificate[];
  /** Absolute paths, for reloads and messages. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFiles: readonly string[];
  readonly chainFiles: readonly string[];
  readonly revocation: RevocationConfig;
}

export type RevocationMode = 'strict' | 'best-effort' | 'off';

/** Revocation of the peer's certificates (src/creds/revocation). */
export interface RevocationConfig {
  readonly mode: RevocationMode;
  /** CRL files (absolute paths) and their bytes as read (parsed by src/creds). */
  readonly crlFiles: readonly string[];
  readonly crls: readonly Uint8Array[];
  readonly ocspResponder: string | undefined;
  readonly ocspMethod: 'post' | 'get';
  readonly fetch: boolean;
  readonly timeoutMs: number;
}

/** RFC 7670 raw public keys: our private key, and the one public key the peer must prove. */
export interface PubkeyAuth {
  readonly kind: 'pubkey';
  readonly key: KeyObject;
  readonly peer: KeyObject;
  readonly keyFile: string;
  readonly peerFile: string;
}

export interface Liveness {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly action: LivenessAction;
}

/** Routes into a tunnel interface, installed while the tunnel is up. */
export interface TunnelRoutes {
  readonly subnets: readonly IpPrefix[];
  /** Table number (main is 254) and the name it was written with. */
  readonly table: number;
  readonly tableName: string;
  readonly metric: number;
}

/** A route-based tunnel's XFRM interface, created and owned by the daemon. */
export interface TunnelInterface {
  readonly name: string;
  readonly ifId: number;
  /** undefined: path MTU minus the ESP overhead. */
  readonly mtu: number | undefined;
  readonly underlying: string | undefined;
  readonly addresses: readonly IpPrefix[];
  readonly routes: TunnelRoutes | false;
  /** Where `interface.name` sits in the file, for problems only the running system shows. */
  readonly at: { readonly file: string; readonly line: number; readonly col: number; readonly path: string };
}
/** Re-initiation after a failed attempt (start: now): exponential backoff with jitter. */
export interface RetryPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Retries after a failure before giving up; 0 = forever. */
  readonly attempts: number;
}
export type HookEvent =
  'child-up' | 'child-down' | 'child-rekeyed' | 'ike-up' | 'ike-down' | 'ike-rekeyed' | 'liveness-failure';

/** A program run on tunnel events (src/daemon/hooks.ts). */
export interface Hook {
  /** Absolute path, checked by the loader: exists, executable, not writable by others. */
  readonly program: string;
  readonly timeoutMs: number;
  readonly events: readonly HookEvent[];
}

/** One Child SA of a connection (`children:`), the connection's values filled in where it named none. */
export interface Child {
  readonly name: string;
  readonly localSubnets: readonly IpPrefix[];
  /** Empty only when remote is 'any' and none were given (as the connection's). */
  readonly remoteSubnets: readonly IpPrefix[];
  readonly espProposals: readonly string[];
  readonly mode: Mode;
  readonly start: StartAction;
  readonly childLifetimeMs: number;
  readonly childLifetimeBytes: number | undefined;
  readonly mark: Mark | undefined;
  readonly ifId: number | undefined;
}

export interface Connection {
  readonly name: string;
  readonly localAddress: IpAddress;
  /**
   * remote: any without local-address on a gateway with several local addresses: every one of
   * localAddress's family (a request is answered from the address it came to). Absent: localAddress only.
   */
  readonly answersOn?: readonly IpAddress[];
  /** The peer, or 'any' for a responder-only connection. */
  readonly remote: IpAddress | 'any';
  /** The DNS name `remote` was resolved from, if the file gave one. */
  readonly remoteName: string | undefined;
  readonly auth: PskAuth | CertAuth | PubkeyAuth;
  readonly localId: Identity;
  readonly remoteId: Identity;
  /** Never empty: defaults to our own address as a host prefix. */
  readonly localSubnets: readonly IpPrefix[];
  /** Empty only when remote is 'any' and none were given: "the peer's address, whatever it is". */
  readonly remoteSubnets: readonly IpPrefix[];
  readonly mode: Mode;
  readonly start: StartAction;
  /**
   * The `children:` list, or undefined for the shorthand (one child of the fields above, named after
   * the connection). With children, localSubnets/remoteSubnets are the connection's own if given (a
   * bound the children lie inside), else the union of the children's.
   */
  readonly children: readonly Child[] | undefined;
  /** One Child SA per subnet pair of each child (`one-sa-per-subnet-pair`). */
  readonly onePerPair: boolean;
  /** Lower-case strongSwan-style proposal strings, most preferred first. */
  readonly ikeProposals: readonly string[];
  readonly espProposals: readonly string[];
  /** esp (RFC 4303) or ah (RFC 4302: integrity only). */
  readonly protocol: 'esp' | 'ah';
  /** AH proposals (integrity words), used when protocol is ah. */
  readonly ahProposals: readonly string[];
  /** RFC 4303 §2.7 TFC padding of outbound ESP packets (tunnel mode): octets or 'mtu'; undefined = off. */
  readonly tfcPadding: number | 'mtu' | undefined;
  /** false: send ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 §3.10.1). */
  readonly acceptTfcPadding: boolean;
  readonly ikeLifetimeMs: number;
  readonly childLifetimeMs: number;
  /** Hard byte limit per ESP SA; undefined = none. Soft limit (rekey) at 90%. */
  readonly childLifetimeBytes: number | undefined;
  /** Rekey this long before the hard time limit (IKE and CHILD SAs). */
  readonly rekeyMarginMs: number;
  readonly liveness: Liveness | false;
  readonly retry: RetryPolicy;
  readonly encapsulation: 'auto' | 'force';
  readonly fragmentation: boolean;
  readonly pfs: boolean;
  readonly esn: boolean;
  readonly replayWindow: number;
  readonly mark: Mark | undefined;
  readonly ifId: number | undefined;
  /** Per-direction overrides of mark and ifId (inbound SA + in/fwd policies; outbound SA + out). */
  readonly markIn: Mark | undefined;
  readonly markOut: Mark | undefined;
  readonly ifIdIn: number | undefined;
  readonly ifIdOut: number | undefined;
  /** Route-based tunnel: the interface ikeway owns (ifId is then its if-id). */
  readonly interface: TunnelInterface | undefined;
  readonly hook: Hook | undefined;
}

export interface Config {
  /** Absolute path of the file this came from. */
  readonly file: string;
  /** address: the default; addresses: every address IKE listens on (address first). */
  readonly local: { readonly address: IpAddress; readonly addresses: readonly IpAddress[] };
  /** In file order; names are unique. */
  readonly connections: readonly Connection[];
  readonly log: { readonly level: LogLevel; readonly format: 'text' | 'json' };
  readonly controlSocket: string;
  readonly stateDir: string;
  readonly ports: { readonly ike: number; readonly natT: number };
  readonly cookieThreshold: number;
  readonly limits: {
    readonly halfOpen: number;
    readonly ikeSasPerPeer: number;
    readonly halfOpenPerSource: number;
    readonly halfOpenReserved: number;
    readonly puzzles: {
      readonly enabled: boolean;
      readonly above: number;
      readonly difficulty: number;
      readonly maxDifficulty: number;
    };
  };
  readonly retransmit: { readonly timeoutMs: number; readonly tries: number; readonly base: number };
  /** Prometheus endpoint (metrics: in YAML); absent = off. */
  readonly metrics?: { readonly address: IpAddress; readonly port: number };
  /** DEBUG: file the SA keys are written to in Wireshark's formats (debug-keys: in YAML); absent = off. */
  readonly debugKeys?: string;
  /** Active/standby pair (ha: in YAML, src/config/ha.ts); absent = a single node. */
  readonly ha?: HaConfig;
}

/** This node of an active/standby pair (ha: in YAML, src/config/ha.ts). */
export interface HaConfig {
  readonly nodeId: number;
  readonly priority: number;
  readonly role: 'active' | 'standby';
  readonly local: IpAddress;
  readonly peer: IpAddress;
  readonly port: number;
  readonly syncKey: Secret;
  readonly heartbeatMs: number;
  readonly seqReportMs: number;
  readonly maxPacketRate: number;
}
