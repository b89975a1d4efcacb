// The engine's own connection configuration: a plain typed object the daemon builds from the
// validated YAML config (src/config/types.ts) and tests build directly. No parsing here.
import type { Proposal } from './proposals.ts';
import type { TrafficSelector } from './traffic-selectors.ts';
import type { RetransmitPolicy } from './exchange/retransmit.ts';
import type { Credentials } from './credentials.ts';
import type { IkeIdentity } from './identity.ts';

// Declared in identity.ts (below credentials.ts, which needs it too); exported here with the connection.
export type { IkeIdentity };

export type IkeAuthConfig =
  | { readonly kind: 'psk'; readonly psk: Uint8Array }
  /** RFC 7427 signatures with certificates; the credentials module holds the private key. */
  | { readonly kind: 'cert'; readonly credentials: Credentials };

/** One Child SA of a connection (src/ike/child-config.ts). */
export interface ChildConfig {
  /** Unique within its connection; the shorthand child is named after the connection. */
  readonly name: string;
  readonly espProposals: readonly Proposal[];
  /** Our side's selectors (TSi when we initiate). */
  readonly localTs: readonly TrafficSelector[];
  /** The peer's side (TSr when we initiate). */
  readonly remoteTs: readonly TrafficSelector[];
  readonly mode: 'tunnel' | 'transport';
  /**
   * now: set up whenever the connection is initiated; on-traffic: when a packet meets its trap
   * (ACQUIRE); wait: only when the peer asks. Default now.
   */
  readonly start?: 'now' | 'on-traffic' | 'wait';
  /** Lifetimes (ms): soft = rekey time, hard = lifetime (RFC 7296 §2.8). */
  readonly childRekeyMs?: number;
  readonly childLifetimeMs?: number;
  readonly childLifetimeBytes?: bigint;
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly ifId?: number;
  /** Per-direction overrides of mark and ifId (xfrm-ids.ts). */
  readonly markIn?: { readonly value: number; readonly mask: number };
  readonly markOut?: { readonly value: number; readonly mask: number };
  readonly ifIdIn?: number;
  readonly ifIdOut?: number;
  /** Kernel reqid; default allocated per Child SA by the engine. */
  readonly reqid?: number;
  /** `one-sa-per-subnet-pair`: the child this one subnet pair was split from (its parts share it). */
  readonly pairOf?: string;
  /** ESP (default) or AH (RFC 4302): espProposals then hold AH proposals. */
  readonly childProtocol?: 'esp' | 'ah';
  /** RFC 4303 §2.7 TFC padding of outbound ESP packets in tunnel mode (octets; 65535 = to the MTU). */
  readonly tfcPadding?: number;
  /** false: send ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 §3.10.1). Default true. */
  readonly acceptTfcPadding?: boolean;
}

export interface IkeConnection {
  /** Unique name; IkeSa.name and engine.initiate(name) use it. */
  readonly name: string;
  readonly localAddr: string;
  /** The peer's address, or undefined for a responder-only connection matching any peer. */
  readonly remoteAddr?: string;
  /** Responder only: more local addresses it answers on (default: localAddr alone). */
  readonly localAddrs?: readonly string[];
  /** The DNS name remoteAddr was resolved from (`remote: <name>`): resolved again before each initiation. */
  readonly remoteName?: string;
  readonly localId: IkeIdentity;
  /** The identity the peer must prove; undefined = accept any (responder). */
  readonly remoteId?: IkeIdentity;
  /** RFC 7296 §2.4 / §3.5: send IDr in IKE_AUTH requests (optional IDr). Default false. */
  readonly sendIdr?: boolean;
  readonly auth: IkeAuthConfig;
  /** IKE proposals (protocol IKE), most preferred first (parseProposals(..., 'ike')). */
  readonly ikeProposals: readonly Proposal[];
  /**
   * Child SA proposals, most preferred first: ESP ones, or AH ones (protocol AH, integrity only) when
   * childProtocol is 'ah'.
   */
  readonly espProposals: readonly Proposal[];
  /** The Child SAs' security protocol: ESP (RFC 4303, default) or AH (RFC 4302). */
  readonly childProtocol?: 'esp' | 'ah';
  /**
   * RFC 4303 §2.7 TFC padding of our outbound ESP packets (tunnel mode): pad each to this many octets
   * (the kernel caps it at the path MTU; 65535 = "to the MTU"). Undefined: no padding. Never applied
   * towards a peer that sent ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 §3.10.1).
   */
  readonly tfcPadding?: number;
  /** false: announce ESP_TFC_PADDING_NOT_SUPPORTED so the peer does not pad towards us. Default true. */
  readonly acceptTfcPadding?: boolean;
  /** Our side's selectors (TSi when we initiate). */
  readonly localTs: readonly TrafficSelector[];
  /** The peer's side (TSr when we initiate). */
  readonly remoteTs: readonly TrafficSelector[];
  readonly mode: 'tunnel' | 'transport';
  /**
   * Several Child SAs under one IKE SA, in order (the first that starts now is set up in IKE_AUTH).
   * Absent: one child made of the flat fields above and below (child-config.ts `childrenOf`).
   */
  readonly children?: readonly ChildConfig[];
  /** Child SA lifetimes (ms): soft = rekey time, hard = lifetime (RFC 7296 §2.8). */
  readonly childRekeyMs?: number;
  readonly childLifetimeMs?: number;
  readonly childLifetimeBytes?: bigint;
  readonly ikeRekeyMs?: number;
  readonly ikeLifetimeMs?: number;
  /** RFC 7383: offer and use IKE fragmentation. Default true. */
  readonly fragmentation?: boolean;
  /** RFC 3948: force UDP encapsulation by faking a NAT (§2.23 allows it). Default false. */
  readonly forceEncap?: boolean;
  readonly replayWindow?: number;
  /** XFRM mark and interface id for route-based setups (both directions). */
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly ifId?: number;
  /** Per-direction overrides of mark and ifId (xfrm-ids.ts): inbound SA + in/fwd policies, outbound. */
  readonly markIn?: { readonly value: number; readonly mask: number };
  readonly markOut?: { readonly value: number; readonly mask: number };
  readonly ifIdIn?: number;
  readonly ifIdOut?: number;
  /** Kernel reqid; default allocated per Child SA by the engine. */
  readonly reqid?: number;
  /** Policy priority for the Child SA's policies (lower wins). Default 1000. */
  readonly policyPriority?: number;
  /**
   * RFC 7296 §2.4 liveness: when nothing authenticated arrived from the peer for this long (ms), send
   * an empty INFORMATIONAL request. Undefined or 0: no liveness checks.
   */
  readonly dpdDelayMs?: number;
  /**
   * RFC 7296 §2.4: a peer that sent nothing authenticated for this long after a liveness probe went
   * out is dead, even while the probe's retransmissions still run. Undefined: only the retransmission
   * schedule decides.
   */
  readonly dpdTimeoutMs?: number;
  /**
   * What to do when the peer is deemed dead (retransmissions of any request exhausted on an
   * established IKE SA): 'clear' removes everything (default); 'restart' removes and initiates
   * again; 'trap' removes and installs trap policies so the next matching packet (kernel ACQUIRE)
   * initiates again.
   */
  readonly dpdAction?: 'clear' | 'restart' | 'trap';
  /**
   * Duplicate IKE SAs of this connection with the same peer identity (RFC 7296 §2.4): 'replace'
   * (default) keeps one, the same on both ends (src/ike/uniqueness.ts); 'no' keeps all.
   */
  readonly unique?: 'replace' | 'no';
}

export interface EngineOptions {
  /** IKE_SA_INIT requests are answered with a COOKIE above this many half-open SAs (RFC 7296 §2.6). */
  readonly cookieThreshold?: number;
  /** Hard limit of half-open responder SAs; requests beyond it are dropped. */
  readonly halfOpenLimit?: number;
  /**
   * IKE SAs (half-open and established) one peer address may hold; a new IKE_SA_INIT beyond it is
   * dropped before any DH (RFC 7296 §2.6 resource exhaustion). Default 64.
   */
  readonly ikeSasPerPeer?: number;
  /**
   * Half-open responder SAs one source address may hold; more IKE_SA_INIT from it are dropped before
   * decoding (src/ike/admission.ts). Default 5.
   */
  readonly halfOpenPerSource?: number;
  /**
   * Of halfOpenLimit, room only peers whose address a connection names may use: a flood from other
   * addresses (a `remote: any` connection) cannot starve them. Default 64 (capped at half the limit).
   */
  readonly halfOpenReserved?: number;
  /** RFC 8019 client puzzles (responder): off unless enabled. */
  readonly puzzles?: PuzzleOptions;
  /** As initiator: the hardest puzzle we solve (RFC 8019 §7.1.2); harder ones are declined (COOKIE alone). Default 20. */
  readonly puzzleMaxSolve?: number;
  /** How long a cookie secret lives before rotation (ms). */
  readonly cookieSecretLifetimeMs?: number;
  /** Half-open SAs are dropped after this (ms). */
  readonly halfOpenTimeoutMs?: number;
  readonly retransmit?: Partial<RetransmitPolicy>;
  /** RFC 7383 §2.5.1: largest IKE message (header + payloads) before fragmenting. Default 1280. */
  readonly fragmentSize?: number;
  /** Largest reassembled message and most fragments we keep per message (bounded memory). */
  readonly maxReassembly?: number;
  readonly maxFragments?: number;
  /** Largest datagram the engine looks at. */
  readonly maxPacket?: number;
  /** ESP SPI range (kernel allocSpi). */
  readonly spiMin?: number;
  readonly spiMax?: number;
  /**
   * After a rekey, the replaced Child SA stays in the kernel this long (ms) so packets already in
   * flight on it are still accepted (RFC 7296 §2.8: "a node MUST accept incoming packets through
   * either SA"). Default 5000.
   */
  readonly rekeyGraceMs?: number;
  /**
   * Make-before-break for a Child SA rekey we answer: our new outbound SA is added when the peer's
   * Delete of the old SA arrives (it has installed the new one then), at the latest after this (ms).
   * Default 10000: longer than one retransmission of the request (4 s by default), so an initiator
   * whose first response was lost, or that is slow, gets the new SA before we send on it (issue 13:
   * 2 s lost packets in a loaded guest). Waiting costs nothing: the old SA stays valid until its Delete.
   */
  readonly rekeyOutboundGraceMs?: number;
  /**
   * During that grace the new inbound SA's kernel counters are read this often (ms): a packet the peer
   * sent on the new SA proves it can receive on it, and the outbound switch happens at once. 0: no
   * polling (Delete or grace only). Default 200 (at most grace/poll reads per rekey).
   */
  readonly rekeyTrafficPollMs?: number;
  /**
   * The old inbound SA of a rekey leaves the kernel `rekeyGraceMs` after the Delete exchange; when the
   * peer still sent on it during that time, it stays for another `rekeyGraceMs`, at most this many
   * times. Default 3.
   */
  readonly rekeyGraceExtensions?: number;
  /**
   * RFC 7296 §2.21.4: after an unprotected INVALID_IKE_SPI answer to our request on an established
   * IKE SA, the request is sent again at once and then after each of these waits (ms); no protected
   * answer by the end of the last one and the IKE SA fails (dead-peer action). Default [1000, 1000,
   * 2000]: a restarted peer is noticed 4 s after its first hint.
   */
  readonly restartProbeMs?: readonly number[];
  /** RFC 3948 §4: NAT-keepalive interval when we are behind a NAT (ms). Default 20000. */
  readonly keepaliveMs?: number;
  /** Delay before retrying a rekey the peer answered with TEMPORARY_FAILURE (RFC 7296 §2.25). */
  readonly rekeyRetryMs?: number;
  /**
   * Rekey jitter (strongSwan's rand_time, RFC 7296 §2.8.1 collisions made rare): the Child SA soft
   * lifetime and the IKE SA rekey timer come earlier by a random 0..rekeyJitter of the margin
   * between rekey time and lifetime. 0 disables it. Default 0.1.
   */
  readonly rekeyJitter?: number;
  /**
   * HA active node (src/ha/): Child SAs keep their ESP keys in memory after install (wiped when they
   * die), so that the sync channel can hand them to the standby. Default false.
   */
  readonly retainChildKeys?: boolean;
}

/** RFC 8019 client puzzles, switched on by load (src/ike/admission.ts). */
export interface PuzzleOptions {
  readonly enabled: boolean;
  /** New IKE_SA_INIT requests per second at which puzzles switch on. */
  readonly above: number;
  /** Difficulty (zero bits) at `above`; one more bit each time the rate doubles. */
  readonly difficulty: number;
  readonly maxDifficulty: number;
  /** Puzzles stay on this long after the rate fell below `above` (ms). */
  readonly holdMs: number;
}

export const PUZZLE_DEFAULTS: PuzzleOptions = {
  enabled: false,
  above: 1000,
  difficulty: 8,
  maxDifficulty: 16,
  holdMs: 10_000,
};

export const ENGINE_DEFAULTS = {
  cookieThreshold: 128,
  halfOpenLimit: 4096,
  ikeSasPerPeer: 64,
  halfOpenPerSource: 5,
  halfOpenReserved: 64,
  puzzles: PUZZLE_DEFAULTS,
  puzzleMaxSolve: 20,
  cookieSecretLifetimeMs: 120_000,
  halfOpenTimeoutMs: 30_000,
  fragmentSize: 1280,
  maxReassembly: 64 * 1024,
  maxFragments: 64,
  maxPacket: 65_535,
  rekeyGraceMs: 5_000,
  rekeyOutboundGraceMs: 10_000,
  rekeyTrafficPollMs: 200,
  rekeyGraceExtensions: 3,
  restartProbeMs: [1_000, 1_000, 2_000],
  keepaliveMs: 20_000,
  rekeyRetryMs: 2_000,
  rekeyJitter: 0.1,
  retainChildKeys: false,
} as const;
