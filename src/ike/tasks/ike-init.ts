// IKE_SA_INIT (RFC 7296 §1.2): SA, KE, Nonce; proposal selection (§2.7), INVALID_KE_PAYLOAD retry
// (§1.2), COOKIE retry (§2.6), IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3) and
// SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4). Derives the IKE SA keys (§2.14).
import {
  CertEncoding,
  ExchangeType,
  HashAlgorithm,
  NotifyType,
  isErrorNotify,
  type Payload,
} from '../../codec/index.ts';
import { initiatorKeyShare, responderRespond } from '../../crypto/ke-roles.ts';
import type { Secret } from '../../crypto/secret.ts';
import { IkeError, InvalidSyntaxError, NoProposalChosenError, PeerError } from '../errors.ts';
import type { IkeSa } from '../ike-sa.ts';
import { IkeKeymat, resolveIke } from '../keymat.ts';
import {
  additionalKeGroups,
  checkKeGroup,
  hasAdditionalKe,
  keGroupOf,
  selectProposal,
  verifyChosen,
  withoutAdditionalKe,
  type Proposal,
} from '../proposals.ts';
import type { InboundMessage, OutboundMessage, Task, TaskResult } from '../task.ts';
import { noteCreated } from '../uniqueness.ts';
import { findNotify, findPayload, notify, proposalFromWire, proposalToWire } from '../wire.ts';
import { solveResponderPuzzle } from '../puzzle-solve.ts';

/** RFC 7296 §2.10: nonces at least half the PRF key size and 128 bits; 32 octets covers SHA-512. */
const NONCE_LEN = 32;
/** Bounded retries (COOKIE and INVALID_KE together) so two confused peers cannot loop forever. */
const MAX_RETRIES = 4;
const SIG_HASHES = [
  HashAlgorithm.SHA2_256,
  HashAlgorithm.SHA2_384,
  HashAlgorithm.SHA2_512,
  HashAlgorithm.IDENTITY,
];

function hashList(hashes: readonly number[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 2);
  hashes.forEach((h, i) => out.set([h >> 8, h & 0xff], 2 * i));
  return out;
}

function parseHashes(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < data.length; i += 2) out.push((data[i]! << 8) | data[i + 1]!);
  return out;
}

export class IkeInit implements Task {
  readonly name = 'ike-init';
  readonly exchange = ExchangeType.IKE_SA_INIT;
  #cookie: Uint8Array | undefined;
  /** RFC 8019 §7.1.2: the Puzzle Solution returned with the COOKIE. */
  #solution: Uint8Array | undefined;
  #retries = 0;
  /** The responder's KE data (its key share is complete in process(), before build()). */
  #public: Uint8Array | undefined;

  constructor(private readonly sa: IkeSa) {}

  #common(msg: OutboundMessage): void {
    const sa = this.sa;
    if (sa.config.fragmentation !== false) msg.add(notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED));
    const hashes = sa.config.auth.kind === 'cert' ? sa.config.auth.credentials.hashes : SIG_HASHES;
    msg.add(notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, hashList(hashes)));
    // RFC 9242 §3.1: the initiator announces IKE_INTERMEDIATE when it proposes additional key
    // exchanges (RFC 9370 §2.2.1); the responder answers in kind when it supports them.
    const announce = sa.initiator ? sa.config.ikeProposals.some(hasAdditionalKe) : sa.intermediate;
    if (announce) msg.add(notify(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED));
  }

  #peerCapabilities(payloads: readonly Payload[]): void {
    const sa = this.sa;
    sa.fragmentation =
      sa.config.fragmentation !== false && !!findNotify(payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED);
    const h = findNotify(payloads, NotifyType.SIGNATURE_HASH_ALGORITHMS);
    sa.peerHashes = h ? parseHashes(h.data) : [];
    sa.intermediate = !!findNotify(payloads, NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED);
  }

  /** RFC 9370 §2.2.2: the additional key exchanges of the chosen proposal need IKE_INTERMEDIATE. */
  #negotiated(chosen: Proposal): void {
    const sa = this.sa;
    sa.addKe = additionalKeGroups(chosen);
    sa.keMethods = [sa.keGroup!];
    if (sa.addKe.length > 0 && !sa.intermediate)
      throw new NoProposalChosenError('additional key exchanges chosen without IKE_INTERMEDIATE support');
  }

  build(msg: OutboundMessage): void {
    const sa = this.sa;
    if (!sa.initiator) return this.#buildResponse(msg);
    if (sa.state === 'created') sa.setState('connecting');
    const group = (sa.keGroup ??= sa.config.ikeProposals.map(keGroupOf).find((g) => g !== undefined));
    if (group === undefined) throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', 'no key exchange group configured');
    if (sa.ke?.method !== group) {
      sa.ke?.destroy();
      const r = initiatorKeyShare(group, { createDh: (g) => sa.services.pool.take(g) });
      if (!r.ok) throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', r.message);
      sa.ke = r.initiator;
    }
    sa.nonceI ??= sa.services.randomBytes(NONCE_LEN); // §2.6: a cookie retry keeps Ni
    if (this.#cookie) msg.add(notify(NotifyType.COOKIE, this.#cookie)); // §2.6: the COOKIE comes first
    if (this.#solution) msg.add({ kind: 'PS', data: this.#solution }); // RFC 8019 §7.1.2: then PS
    msg.add(
      { kind: 'SA', proposals: sa.config.ikeProposals.map(proposalToWire) },
      { kind: 'KE', group, data: sa.ke.share },
      { kind: 'NONCE', data: sa.nonceI },
    );
    this.#common(msg);
  }

  process(msg: InboundMessage): TaskResult | void {
    return this.sa.initiator ? this.#processResponse(msg) : this.#processRequest(msg);
  }

  #processRequest(msg: InboundMessage): void {
    const sa = this.sa;
    sa.setState('connecting');
    noteCreated(sa);
    const saP = findPayload(msg.payloads, 'SA');
    const ke = findPayload(msg.payloads, 'KE');
    const nonce = findPayload(msg.payloads, 'NONCE');
    if (!saP || !ke || !nonce) throw new InvalidSyntaxError('IKE_SA_INIT request lacks SA, KE or Nonce');
    // §2.7 selection; §1.2: prefer the group the initiator already sent a KE for.
    this.#peerCapabilities(msg.payloads);
    // RFC 9370 §2.2.1: without IKE_INTERMEDIATE support no proposal with additional exchanges fits.
    const local = sa.intermediate
      ? sa.config.ikeProposals
      : sa.config.ikeProposals.map(withoutAdditionalKe).filter((p) => p !== undefined);
    const chosen = selectProposal(saP.proposals.map(proposalFromWire), local, {
      preferKeGroup: ke.group,
    });
    checkKeGroup(chosen, ke.group); // throws InvalidKePayloadError -> INVALID_KE_PAYLOAD with our group
    sa.proposal = chosen;
    sa.algorithms = resolveIke(chosen);
    sa.keGroup = ke.group;
    this.#negotiated(chosen);
    sa.intermediate &&= sa.addKe.length > 0;
    const r = responderRespond(ke.group, ke.data, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) {
      sa.services.counters.inc('ike.bad_ke');
      throw new IkeError('ERR_INVALID_SYNTAX', r.message, r.notify ?? NotifyType.INVALID_SYNTAX);
    }
    this.#public = r.share;
    sa.nonceI = nonce.data.slice();
    sa.nonceR = sa.services.randomBytes(NONCE_LEN);
    sa.initRequest = msg.bytes.slice();
    this.#derive(r.secret);
  }

  #buildResponse(msg: OutboundMessage): void {
    const sa = this.sa;
    msg.add(
      { kind: 'SA', proposals: [proposalToWire(sa.proposal!)] },
      { kind: 'KE', group: sa.keGroup!, data: this.#public! },
      { kind: 'NONCE', data: sa.nonceR! },
    );
    // RFC 7296 §1.2 / §3.7: a responder using certificates asks for the initiator's certificate here.
    // Peers that send CERT only when asked (strongSwan's default send_cert = ifasked) need it, or
    // their IKE_AUTH carries no certificate to verify.
    if (sa.config.auth.kind === 'cert') {
      const hashes = sa.config.auth.credentials.certReqHashes();
      if (hashes.length > 0)
        msg.add({ kind: 'CERTREQ', encoding: CertEncoding.X509_SIGNATURE, data: hashes });
    }
    this.#common(msg);
  }

  #processResponse(msg: InboundMessage): TaskResult {
    const sa = this.sa;
    const cookie = findNotify(msg.payloads, NotifyType.COOKIE);
    const invalidKe = findNotify(msg.payloads, NotifyType.INVALID_KE_PAYLOAD);
    const puzzle = findNotify(msg.payloads, NotifyType.PUZZLE);
    if (puzzle && !cookie && !findPayload(msg.payloads, 'SA')) {
      // RFC 8019 §7.1.2: a PUZZLE without the COOKIE it is computed over is malformed; "the Initiator
      // MUST ignore the received message and continue to wait" (retransmissions go on).
      sa.services.counters.inc('ike.drop_malformed');
      sa.logger.log('info', 'IKE_SA_INIT response with PUZZLE but no COOKIE ignored (RFC 8019 §7.1.2)');
      return 'ignore';
    }
    if ((cookie || invalidKe) && ++this.#retries > MAX_RETRIES) {
      throw new IkeError('ERR_INVALID_SYNTAX', `gave up after ${MAX_RETRIES} IKE_SA_INIT retries`);
    }
    if (cookie) {
      // RFC 7296 §2.6: retry with the COOKIE as the first payload, same Ni, same SPIi.
      this.#cookie = cookie.data.slice();
      // RFC 8019 §7.1.2: "HDR, N(COOKIE), [PS,] SA, KE, Ni, [V+][N+]" (see build()).
      this.#solution = puzzle ? solveResponderPuzzle(sa, puzzle.data, this.#cookie) : undefined;
      sa.logger.log('info', 'responder asked for a COOKIE, retrying');
      return 'retry';
    }
    if (invalidKe) {
      // RFC 7296 §1.2: retry with the group the responder wants, if we offered it.
      const wanted = invalidKe.data.length >= 2 ? (invalidKe.data[0]! << 8) | invalidKe.data[1]! : -1;
      const offered = sa.config.ikeProposals.some((p) =>
        p.transforms.some((t) => t.type === 4 && t.id === wanted),
      );
      if (!offered || wanted === sa.keGroup)
        throw new PeerError(NotifyType.INVALID_KE_PAYLOAD, `responder wants group ${wanted}, not offered`);
      sa.logger.log('info', 'INVALID_KE_PAYLOAD, retrying', { group: wanted });
      sa.keGroup = wanted;
      return 'retry';
    }
    const err = msg.payloads.find((p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType));
    if (err?.kind === 'NOTIFY')
      throw new PeerError(err.notifyType, `IKE_SA_INIT refused with notify ${err.notifyType}`);
    const saP = findPayload(msg.payloads, 'SA');
    const ke = findPayload(msg.payloads, 'KE');
    const nonce = findPayload(msg.payloads, 'NONCE');
    if (!saP || !ke || !nonce) throw new InvalidSyntaxError('IKE_SA_INIT response lacks SA, KE or Nonce');
    const chosen = verifyChosen(sa.config.ikeProposals, saP.proposals.map(proposalFromWire));
    if (keGroupOf(chosen) !== sa.keGroup || ke.group !== sa.keGroup) {
      throw new InvalidSyntaxError(`responder chose group ${ke.group}, our KE was ${sa.keGroup}`);
    }
    sa.proposal = chosen;
    sa.algorithms = resolveIke(chosen);
    sa.spiR = msg.header.spiR.slice();
    sa.nonceR = nonce.data.slice();
    sa.initResponse = msg.bytes.slice();
    this.#peerCapabilities(msg.payloads);
    this.#negotiated(chosen);
    const r = sa.ke!.finish(ke.data); // wipes the private value whatever the outcome (§2.12)
    sa.ke = undefined;
    if (!r.ok) throw new InvalidSyntaxError(`IKE_SA_INIT response: ${r.message}`);
    this.#derive(r.secret);
    if (sa.addKe.length > 0) sa.queueIntermediate(sa.addKe);
    return 'done';
  }

  #derive(secret: Secret): void {
    const sa = this.sa;
    try {
      const gir = secret.bytes();
      sa.keymat = new IkeKeymat(sa.algorithms!, gir, sa.nonceI!, sa.nonceR!, sa.spiI, sa.spiR, sa.initiator);
    } finally {
      secret.destroy();
    }
  }
}
