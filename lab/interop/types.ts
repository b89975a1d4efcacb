// The interoperability matrix: ikeway against a real peer implementation, in the lab topology
// (lab/two-site/topology.ts), inside a kernel with ESP so both kernels carry and count real traffic.
//
// HOW A PEER KIND PLUGS IN (e.g. Libreswan):
//   1. Implement `PeerDriver` below in lab/interop/<kind>-peer.ts (see strongswan-peer.ts): it
//      configures and runs ONE instance of the peer daemon in the peer router's namespace
//      (`ctx.ns`, site b) from a `CellContext`: addresses, identities, subnets, credentials
//      (PSK or certificate files made by pki.ts) and the proposals in strongSwan syntax.
//   2. Add `kind: () => new YourPeer()` to `PEER_DRIVERS` in lab/interop/peers.ts and the kind
//      to `PeerKind`. Cells the peer cannot do at all go in `PeerDriver.unsupported()` with the
//      peer's own evidence (a log line or documented limit): the report shows them, not green.
//   3. Add test/interop/matrix-<kind>-{initiator,responder}.test.ts (two lines each, see the
//      strongSwan and Libreswan ones): test/interop/scripts/matrix-run.ts runs the cells inside the
//      guest, results go to docs/interop/<kind>-<role>.jsonl and docs/interop.md is re-rendered
//      from every results file present.
// The cell runner (run-cell.ts) does everything else: topology, ikeway daemon on router-a, traffic
// both ways, kernel counters on both routers, rekeys, delete, liveness.
import type { LabNs } from '../netns/lab-ns.ts';
import type { Family, Topology } from '../two-site/topology.ts';

export type PeerKind = 'strongswan' | 'libreswan' | 'ikeway' | 'strongswan6';
/** ikeway's role in the cell: 'initiator' means ikeway starts the IKE SA, the peer responds. */
export type Role = 'initiator' | 'responder';
export type AuthKind = 'psk' | 'ecdsa' | 'rsa' | 'ed25519';

/** One cell of the matrix: the base cell with at most one dimension changed. Pure data. */
export interface CellSpec {
  readonly id: string;
  readonly title: string;
  readonly auth: AuthKind;
  /** Family of the WAN (outer) addresses. */
  readonly wanFamily: Family;
  /** Family of the protected LAN subnets (tunnel mode). */
  readonly lanFamily: Family;
  readonly mode: 'tunnel' | 'transport';
  /** A NAT router (masquerade) in front of the initiator's site: ESP in UDP 4500 (RFC 3948). */
  readonly nat: boolean;
  /** Certificate chain (root -> intermediate -> end, RSA 3072), WAN MTU 1400 and IP fragments
   *  dropped on the WAN: IKE_AUTH only gets through as RFC 7383 fragments. */
  readonly fragmentation: boolean;
  /** Proposals in strongSwan syntax (ikeway uses the same spelling). */
  readonly ike: string;
  readonly esp: string;
  /** Child and IKE rekeys checked in this cell (RFC 7296 §2.8). */
  readonly rekeys: boolean;
  /** Peer killed -> ikeway clears within its liveness time; peer restarted -> tunnel returns. */
  readonly liveness: boolean;
  /** ikeway runs its default IKE proposal instead of `ike` (which then is the peer's only). */
  readonly ikewayDefaultIke?: boolean;
  /** IKE messages too big for one datagram without certificates (ML-KEM-1024): RFC 7383 fragments
   *  both ways are required, on the default MTU. */
  readonly ikeFragments?: boolean;
  /** The key exchanges ikeway's status must show for the IKE SA (RFC 9370), e.g. x25519, mlkem768. */
  readonly keyExchanges?: readonly string[];
}

export interface PeerCredentials {
  readonly kind: 'psk' | 'cert';
  /** PSK as 0x-hex (both daemons take this form). Secret: never log. */
  readonly psk?: string;
  /** PEM files of the peer's side (cert auth). */
  readonly cert?: string;
  readonly key?: string;
  readonly keyType?: 'ecdsa' | 'rsa' | 'ed25519';
  /** Intermediate CA certificates to send/know (the chain cell), then the root trust anchor. */
  readonly intermediates?: readonly string[];
  readonly root?: string;
}

export interface Endpoint {
  /** The address this side's IKE daemon binds, or (remote) where the peer sees it. */
  readonly address: string;
  /** FQDN identity (RFC 7296 §3.5 ID_FQDN), also the certificate's subjectAltName. */
  readonly id: string;
  /** Protected prefixes (transport mode: the host's own /32 or /128). */
  readonly subnets: readonly string[];
}

/** Everything a peer driver needs to run one cell. */
export interface CellContext {
  readonly cell: CellSpec;
  readonly role: Role;
  readonly topology: Topology;
  /** The peer router's namespace (site b). */
  readonly ns: LabNs;
  /** A private directory for the peer's files (removed after the cell). */
  readonly dir: string;
  /** Connection / child name both sides use. */
  readonly name: string;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly creds: PeerCredentials;
  /** Dead peer detection on the peer side (seconds), so it notices a restarted ikeway. */
  readonly dpdSeconds: number;
  /**
   * Set when the liveness cell starts the peer again after killing it: where the peer was the
   * initiator (ikeway responder) it must bring the tunnel up by itself (a start action), since
   * nobody calls initiate() then. On the first start the peer must NOT initiate by itself.
   */
  readonly restarted?: boolean;
}

/** The peer's own view of the tunnel (its status command), SPIs as 8 hex digits lower case. */
export interface PeerSa {
  readonly ikeSpiI: string;
  readonly ikeSpiR: string;
  readonly children: readonly {
    readonly spiIn: string;
    readonly spiOut: string;
    readonly packetsIn?: number;
    readonly packetsOut?: number;
  }[];
}

export interface PeerDriver {
  readonly kind: PeerKind;
  /** Product and version as the peer reports it, e.g. "strongSwan 5.9.8". */
  version(): string;
  /** Why the peer cannot run this cell at all (with its evidence), or undefined. */
  unsupported(cell: CellSpec, role: Role): string | undefined;
  /** Writes the configuration and starts the daemon in ctx.ns; resolves when it takes commands. */
  start(ctx: CellContext): Promise<void>;
  /** The peer initiates the IKE SA and its Child SA (ikeway is the responder). */
  initiate(): Promise<void>;
  /** Established IKE SA with installed Child SA(s), or undefined. */
  status(): Promise<PeerSa | undefined>;
  rekeyChild(): Promise<void>;
  rekeyIke(): Promise<void>;
  /** Graceful stop (the peer may delete its SAs). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: nothing deleted, the peer just vanishes. */
  kill(): Promise<void>;
  /**
   * Optional, called right before `ikeway down`: stops the peer from bringing the tunnel back by
   * itself once ikeway deletes it (pluto "revives" a connection it initiated). Returns a note for
   * the delete step's evidence.
   */
  beforeDelete?(): Promise<string>;
  /** The peer's log so far (no secrets: log levels that print keys are never enabled). */
  log(): string;
  /** Optional: IKE fragments (RFC 7383) the peer sent and received, counted from its own log. */
  fragments?(): PeerFragments;
}

export interface PeerFragments {
  readonly sent: number;
  readonly received: number;
  /** The peer's own log lines that were counted (a few, as evidence). */
  readonly lines: readonly string[];
}

export type CellOutcome = 'pass' | 'fail' | 'unsupported';

export interface StepResult {
  readonly step: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
}

export interface CellResult {
  readonly peer: PeerKind;
  readonly peerVersion: string;
  readonly role: Role;
  readonly cell: string;
  readonly title: string;
  readonly result: CellOutcome;
  readonly seconds: number;
  readonly steps: readonly StepResult[];
  /** Why it is not green: the failed step, and peer/ikeway log lines as evidence. */
  readonly why: string;
  readonly evidence: readonly string[];
}
