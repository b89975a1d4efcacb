// Named drop/event counters (iked keeps "a counter for every reason a packet is dropped"). One registry
// per daemon, shared by the transport and every exchange runner; `ikeway status` prints a snapshot.
// Names are a closed union so a typo is a compile error, and the status output is stable.

/** Every counter the engine knows, grouped by the layer that increments it. */
export const COUNTER_NAMES = [
  // src/net: datagrams that never reach the IKE parser.
  'net.rx_packets',
  'net.tx_packets',
  'net.tx_errors',
  'net.drop_too_short', // shorter than an IKE header (RFC 7296 §3.1: 28 octets)
  'net.drop_too_long',
  'net.drop_natt_keepalive', // RFC 3948 §2.3: one octet 0xff on port 4500
  'net.drop_esp_on_natt', // RFC 3948 §2.2: non-zero SPI on port 4500 is ESP, not IKE
  'net.drop_no_handler',
  'net.rcvbuf_drops', // datagrams the kernel dropped on our sockets' full receive buffers (/proc/net/udp)
  // src/ike/exchange: message-ID window and retransmission (RFC 7296 §2.1-§2.3).
  'ike.drop_msgid_old', // a request below the window, already answered and forgotten
  'ike.drop_msgid_future', // a request beyond the window (window size 1)
  'ike.drop_request_in_progress', // a retransmitted request whose response is still being built
  'ike.drop_unexpected_response', // a response to no outstanding request
  'ike.drop_retransmit_fragment', // a non-first fragment of an already answered request (RFC 7383 §2.6.1)
  'ike.drop_queue_full',
  'ike.retransmit_answered', // a duplicate request answered from the cached response
  'ike.msgid_resume_skip', // after an HA takeover, the peer's request one beyond the synced window taken (the old active had answered the one before)
  'ike.retransmit_sent', // our own request sent again after a timeout
  'ike.request_sent',
  'ike.response_sent',
  'ike.give_up', // retransmissions exhausted; the IKE SA is dead (RFC 7296 §2.4)
  'ike.restart_hint', // unprotected INVALID_IKE_SPI answer to our request: the peer may have restarted (§2.21.4)
  // src/ike/engine: the cheap receive path, before any DH or decryption (ARCHITECTURE principle 6).
  'ike.drop_too_long', // larger than the engine's maxPacket
  'ike.drop_bad_header', // major version not 2, or the header does not decode (RFC 7296 §2.5, §3.1)
  'ike.drop_malformed', // the payload chain does not decode
  'ike.drop_rules', // payloads not allowed in this exchange (src/codec/rules.ts), unauthenticated
  'ike.drop_unknown_spi', // no IKE SA with this SPI (RFC 7296 §2.21.4: we stay silent)
  'ike.drop_unexpected_exchange', // e.g. an IKE_AUTH before IKE_SA_INIT finished, or a response to no request
  'ike.drop_half_open_limit', // too many half-open SAs, even with cookies
  'ike.drop_peer_limit', // the peer address holds limits.ike-sas-per-peer IKE SAs already
  'ike.drop_no_connection', // no connection configured for these addresses
  'ike.drop_bad_cookie', // a COOKIE that was not ours or has expired (RFC 7296 §2.6)
  // src/ike/admission: who gets a half-open SA under load (RFC 7296 §2.6, RFC 8019).
  'ike.drop_source_half_open', // the source address holds limits.half-open-per-source half-open SAs
  'ike.evict_half_open', // a flooding source's oldest half-open SA aged out to make room (RFC 8019 §5)
  'ike.drop_puzzle_missing', // puzzles are on and the request has no Puzzle Solution (RFC 8019 §7.1)
  'ike.drop_bad_puzzle', // a Puzzle Solution that is not four keys with enough zero bits (RFC 8019 §7.1.4)
  'ike.puzzle_sent', // COOKIE and PUZZLE sent (RFC 8019 §7.1.1)
  'ike.puzzle_no_prf', // puzzles on, no PRF we support proposed: NO_PROPOSAL_CHOSEN (RFC 8019 §7.1.1.2)
  'ike.puzzle_ignored', // as initiator: a puzzle we will not solve; COOKIE returned alone (RFC 8019 §7.1.2)
  'ike.puzzle_solved', // as initiator: a responder's puzzle solved (RFC 8019 §7.1.2)
  'ike.unsupported_critical_sent', // RFC 7296 §2.5: IKE_SA_INIT answered UNSUPPORTED_CRITICAL_PAYLOAD
  'ike.drop_decrypt_failed', // SK/SKF integrity check failed: unauthenticated garbage
  'ike.drop_fragment', // an SKF that cannot belong to the message being reassembled (RFC 7383 §2.6)
  'ike.drop_reassembly_limit', // a fragmented message above the memory bounds
  'ike.drop_response_in_progress', // a duplicate response while the first copy is processed
  'ike.cookie_sent', // RFC 7296 §2.6: answered with a COOKIE instead of creating state
  'ike.invalid_ke_sent', // RFC 7296 §1.2: answered INVALID_KE_PAYLOAD
  'ike.error_notify_sent', // an exchange answered with an error notify
  'ike.fragments_sent',
  'ike.fragments_received',
  'ike.sa_established',
  'ike.sa_failed',
  'ike.auth_failed',
  'ike.child_installed',
  'ike.child_failed',
  'ike.bad_ke', // a KE payload whose data the method refuses (wrong length, invalid value)
  'ike.intermediate_unexpected', // RFC 9242/9370: IKE_INTERMEDIATE or IKE_AUTH out of order / not negotiated
  'ike.intermediate_bad_ke', // RFC 9370 §2.2.2: an additional KE of the wrong method or data
  'ike.followup_bad_ke', // RFC 9370 §2.2.4: an IKE_FOLLOWUP_KE KE of the wrong method or data
  'ike.followup_unexpected', // RFC 9370 §2.2.4: an IKE_FOLLOWUP_KE whose link names no pending exchange
  'ike.tfc_refused_by_peer', // RFC 7296 §3.10.1: TFC padding configured, the peer refused it: none sent
  // src/creds/revocation: the revocation status of peer certificates (RFC 5280 §6.3, RFC 6960).
  'creds.revocation_good', // a certificate with a definite "good" answer
  'creds.revocation_revoked', // a revoked certificate: AUTHENTICATION_FAILED
  'creds.revocation_unknown', // no source gave a definite answer
  'creds.revocation_refused', // of the unknown: refused because the connection's revocation is strict
  'creds.revocation_cache_hit', // answered from a cached OCSP response or CRL
  'creds.ocsp_requests', // OCSP requests sent
  'creds.ocsp_no_nonce', // OCSP responses without our nonce (accepted only when fresh)
  'creds.ocsp_bad_response', // malformed, badly signed, replayed or stale OCSP responses
  'creds.crl_fetches', // CRLs fetched from distribution points
  'creds.crl_bad', // malformed, badly signed or stale CRLs
  'creds.fetch_timeout', // a CRL or OCSP fetch that did not finish in time
  'creds.fetch_too_large', // a response above the size limit
  'creds.fetch_failed', // connection refused, reset, not HTTP 200, or a bad URL
  // src/daemon/hooks: the programs run on tunnel events (a failure never touches the tunnel).
  'hook.started', // a hook program spawned
  'hook.failed', // exited non-zero, was killed at its time limit, or could not be spawned
  'hook.timed_out', // of the failed: killed at its time limit
  'hook.coalesced', // an event merged into a queued one of the same kind (the hook was still running)
  // src/kernel/error-count: kernel operations that failed (netlink NLMSG_ERROR, timeout, closed socket).
  'kernel.netlink_errors',
  // src/daemon/runtime: netlink socket errors (ENOBUFS: the kernel overran a receive buffer).
  'kernel.socket_errors',
  // src/daemon: control requests refused for bad input (e.g. `explain` with a bad address).
  'control.bad_request',
  // src/daemon/peer-resolve: `remote: <name>` resolved again before each initiation.
  'peer.resolve_failed', // no address within the time limit, or none of the connection's family
  'peer.moved', // the name now points elsewhere; new SAs use the new address
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

/** A registry of monotonically increasing counters. */
export class Counters {
  readonly #values = new Map<CounterName, number>();

  inc(name: CounterName, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  get(name: CounterName): number {
    return this.#values.get(name) ?? 0;
  }

  /** All counters, zero ones included, in declaration order (stable for `ikeway status`). */
  snapshot(): ReadonlyMap<CounterName, number> {
    return new Map(COUNTER_NAMES.map((n) => [n, this.get(n)]));
  }

  /** Only the counters that moved, as a plain object (for JSON status output and test messages). */
  nonZero(): Partial<Record<CounterName, number>> {
    const out: Partial<Record<CounterName, number>> = {};
    for (const [n, v] of this.#values) if (v !== 0) out[n] = v;
    return out;
  }

  reset(): void {
    this.#values.clear();
  }
}

export function isCounterName(name: string): name is CounterName {
  return (COUNTER_NAMES as readonly string[]).includes(name);
}
