// The status report of the control protocol (`ikeway status`, the `status` request of
// src/control/protocol.ts): connections, IKE SAs and Child SAs with their algorithms, ages, time to
// rekey and the kernel's traffic counters. Plain JSON-able data with no secrets and no keys. The daemon
// builds it (src/daemon/status.ts); the CLI renders it (src/control/render.ts).

import type { AdmissionStatus } from '../ike/admission.ts';

export interface ChildStatus {
  readonly id: number;
  /** The connection's child this Child SA is of (the connection's name for the shorthand). */
  readonly name: string;
  readonly state: string;
  readonly mode: 'tunnel' | 'transport';
  /** ESP (RFC 4303) or AH (RFC 4302: integrity only, nothing encrypted). Absent from older daemons: esp. */
  readonly protocol?: 'esp' | 'ah';
  /** RFC 4303 §2.7: outbound packets padded to this many octets (absent: none). */
  readonly tfcPadding?: number;
  /** The peer sent ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 §3.10.1): we never pad towards it. */
  readonly peerRefusesTfc?: boolean;
  readonly spiIn: string;
  readonly spiOut: string;
  readonly reqid: number;
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
  readonly algorithms: string;
  /** Key exchanges of its CREATE_CHILD_SA (PFS method, then RFC 9370 additional ones); absent without PFS. */
  readonly keyExchanges?: readonly string[];
  readonly installedSeconds?: number;
  readonly rekeySeconds?: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  readonly packetsIn?: number;
  readonly packetsOut?: number;
  /** Why the kernel counters are missing (e.g. the in-memory kernel, or a query error). */
  readonly countersError?: string;
}

export interface IkeSaStatus {
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly initiator: boolean;
  readonly spiI: string;
  readonly spiR: string;
  readonly local: string;
  readonly remote: string;
  readonly localId: string;
  readonly remoteId?: string;
  readonly algorithms?: string;
  /** Every key exchange the SA ran (IKE_SA_INIT, then each RFC 9370 additional one), e.g. x25519, mlkem768. */
  readonly keyExchanges?: readonly string[];
  readonly nat: { readonly local: boolean; readonly remote: boolean };
  readonly establishedSeconds?: number;
  readonly rekeySeconds?: number;
  readonly children: readonly ChildStatus[];
}

export interface ConnectionStatus {
  readonly name: string;
  readonly local: string;
  readonly remote: string;
  readonly mode: string;
  readonly start: string;
  readonly localSubnets: readonly string[];
  readonly remoteSubnets: readonly string[];
  readonly ikeProposals: readonly string[];
  readonly espProposals: readonly string[];
  /** protocol: ah (RFC 4302) connections: the protocol and the AH proposals in use. */
  readonly protocol?: 'ah';
  readonly ahProposals?: readonly string[];
  readonly failClosedPolicies: number;
  /** Route-based tunnel: its XFRM interface, if_id, the routes ikeway holds and the counters. */
  readonly interface?: InterfaceStatus;
  readonly ikeSas: readonly IkeSaStatus[];
  /** start: now after a failure: why it waits and when it initiates again (or that it gave up). */
  readonly retry?: RetryStatus;
  /** Our own, intermediate and trusted CA certificates that expire within 30 days (or have expired). */
  readonly expiring?: readonly CertificateExpiry[];
}

export interface CertificateExpiry {
  readonly role: 'local' | 'chain' | 'ca';
  readonly subject: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** Whole days left; negative once expired. */
  readonly days: number;
}

export interface RetryStatus {
  /** Why the last attempt ended (e.g. the peer's AUTHENTICATION_FAILED, no response). */
  readonly reason: string;
  /** The retry's number since the last establishment. */
  readonly attempt: number;
  /** Seconds until it initiates again; absent when it gave up (retry attempts used). */
  readonly inSeconds?: number;
  readonly gaveUp: boolean;
}

export interface DaemonStatus {
  readonly version: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly config: string;
  /** 'memory' means no kernel IPsec at all: IKE only, traffic is NOT protected. */
  readonly kernel: 'xfrm' | 'memory';
  readonly kernelWarning?: string;
  /** Set when debug-keys writes SA keys to a file: the file, in a warning sentence. */
  readonly debugKeysWarning?: string;
  readonly socket: string;
  readonly ports: { readonly ike: number; readonly natT: number };
}

/** Load on the responder (src/ike/admission.ts) and on our sockets (src/net/rcvbuf.ts). */
export interface LoadStatus extends AdmissionStatus {
  /** Datagrams the kernel dropped on our full UDP receive buffers (undefined: /proc cannot tell). */
  readonly rcvbufDrops?: number;
}

/** This node of an HA pair (src/ha/node.ts HaStatus, and the wall time of the last failover). */
export interface HaStatusReport {
  readonly role: 'active' | 'standby';
  readonly nodeId: number;
  readonly priority: number;
  readonly peerRole: 'active' | 'standby' | undefined;
  readonly records: number;
  readonly synced: boolean;
  readonly syncLagMs: number | undefined;
  readonly lastFailover?:
    | { readonly at: number; readonly atUnixSeconds?: number; readonly to: string; readonly sas: number }
    | undefined;
  readonly splitBrains: number;
  readonly counters: Readonly<Record<string, number>>;
}

export interface StatusReport {
  readonly daemon: DaemonStatus;
  readonly load?: LoadStatus;
  readonly ha?: HaStatusReport;
  readonly connections: readonly ConnectionStatus[];
  readonly counters: Readonly<Record<string, number>>;
}

/** A route-based tunnel's XFRM interface as `ikeway status` shows it. */
export interface InterfaceStatus {
  readonly name: string;
  readonly ifId: number;
  readonly present: boolean;
  readonly up: boolean;
  readonly mtu: number | undefined;
  readonly addresses: readonly string[];
  /** Routes ikeway holds in the kernel now (installed while the tunnel is up). */
  readonly routes: readonly string[];
  /** The interface's own counters (IFLA_STATS64). */
  readonly counters:
    | {
        readonly rxPackets: number;
        readonly txPackets: number;
        readonly rxBytes: number;
        readonly txBytes: number;
        readonly rxErrors: number;
        readonly txErrors: number;
        readonly rxDropped: number;
        readonly txDropped: number;
      }
    | undefined;
}
