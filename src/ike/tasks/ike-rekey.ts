// Rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18): SA (protocol IKE, the new SPI in
// the proposal), Nonce and KE -- "implementations MUST perform a new Diffie-Hellman exchange". The new
// IKE SA takes over the Child SAs; its initiator deletes the old one. Collisions: §2.8.2 nonce rule.
import { ExchangeType, NotifyType, ProtocolId, isErrorNotify } from '../../codec/index.ts';
import { wipe } from '../../crypto/index.ts';
import { initiatorKeyShare, responderRespond, type KeInitiator } from '../../crypto/ke-roles.ts';
import { IkeError, InvalidSyntaxError, NoProposalChosenError, PeerRefused } from '../errors.ts';
import { FollowupKe, awaitFollowup, forgetFollowup } from '../followup-ke.ts';
import { IkeSa } from '../ike-sa.ts';
import { IkeKeymat, resolveIke } from '../keymat.ts';
import { NONCE_LEN, oursIsRedundant } from '../nonces.ts';
import {
  additionalKeGroups,
  checkKeGroup,
  keGroupOf,
  retryKeGroup,
  selectProposal,
  verifyChosen,
  type Proposal,
} from '../proposals.ts';
import { expectIkeDelete, retryDelayMs } from '../rekey-guard.ts';
import type { InboundMessage, OutboundMessage, Task, TaskResult } from '../task.ts';
import { findNotify, findPayload, proposalFromWire, proposalToWire } from '../wire.ts';

/** IKE SA rekeys retried after a failure, per IKE SA (bounded; its lifetime ends it anyway). */
const retries = new WeakMap<IkeSa, number>();
const MAX_IKE_REKEY_RETRIES = 8;

/** Tries the rekey of `sa` again after `ms` (§2.25 TEMPORARY_FAILURE, or a failed exchange). */
function retryIkeRekey(sa: IkeSa, ms: number): void {
  const n = retries.get(sa) ?? 0;
  if (n >= MAX_IKE_REKEY_RETRIES) return;
  retries.set(sa, n + 1);
  sa.after(retryDelayMs(sa.services, ms), () => {
    if (sa.state !== 'established') return;
    const tasks = [...sa.tasks.queued, ...(sa.tasks.active?.tasks ?? [])];
    if (tasks.some((t) => t instanceof IkeRekey)) return;
    sa.tasks.queue(new IkeRekey(sa, true));
    sa.services.run(sa, () => sa.tasks.initiate());
  });
}

interface NewSaParams {
  readonly initiator: boolean;
  readonly spiI: Uint8Array;
  readonly spiR: Uint8Array;
  readonly chosen: Proposal;
  readonly gir: Uint8Array;
  /** RFC 9370 §2.2.4: the secrets of the IKE_FOLLOWUP_KE exchanges after `gir`. */
  readonly more: readonly Uint8Array[];
  readonly nonceI: Uint8Array;
  readonly nonceR: Uint8Array;
}

/** §2.18: the new IKE SA, keyed from the old SK_d, inheriting identity, path and NAT state. */
function createRekeyedSa(old: IkeSa, p: NewSaParams): IkeSa {
  const s = old.services;
  const sa = new IkeSa({
    services: s,
    config: old.config,
    initiator: p.initiator,
    path: { ...old.path },
    spiI: p.spiI,
    spiR: p.spiR,
  });
  sa.proposal = p.chosen;
  sa.algorithms = resolveIke(p.chosen);
  sa.keGroup = keGroupOf(p.chosen);
  sa.keMethods = [...(sa.keGroup === undefined ? [] : [sa.keGroup]), ...additionalKeGroups(p.chosen)];
  sa.nonceI = p.nonceI;
  sa.nonceR = p.nonceR;
  // "Because the rekeying exchange belongs to the old IKE SA, it is the old IKE SA's PRF that is used
  // to generate SKEYSEED" (§2.18).
  sa.keymat = new IkeKeymat(sa.algorithms, p.gir, p.nonceI, p.nonceR, p.spiI, p.spiR, p.initiator, {
    prf: old.algorithms!.prf,
    skD: old.keymat!.keys.skD,
    more: p.more,
  });
  sa.natLocal = old.natLocal;
  sa.natRemote = old.natRemote;
  sa.fragmentation = old.fragmentation;
  sa.peerHashes = old.peerHashes;
  sa.peerId = old.peerId;
  sa.lastInbound = s.timers.now();
  sa.wasEstablished = true;
  s.indexSa(sa);
  sa.setState('connecting');
  sa.setState('established');
  sa.logger.log('info', 'IKE SA rekeyed', { old: old.name, spis: sa.describe() });
  return sa;
}

/** Moves every Child SA of `from` to `to` and reports the rekey. */
function handOver(from: IkeSa, to: IkeSa): void {
  to.children.push(...from.children.splice(0));
  from.successor = to;
  if (from.state !== 'rekeyed') from.setState('rekeyed');
  from.services.emit({ type: 'ike-rekeyed', sa: to, old: from });
}

export class IkeRekey implements Task {
  readonly name = 'ike-rekey';
  /** Initiator: our key share (DH or ML-KEM, ke-roles.ts). */
  #ke: KeInitiator | undefined;
  /** Responder: the KEr payload to send. */
  #share: { readonly group: number; readonly data: Uint8Array } | undefined;
  #spi: Uint8Array | undefined;
  #nonce: Uint8Array | undefined;
  #offer: Proposal[] = [];
  #chosen: Proposal | undefined;
  #peerSpi: Uint8Array | undefined;
  #peerNonce: Uint8Array | undefined;
  #gir: Uint8Array | undefined;
  /** §1.3 / §2.18: the group the responder asked for with INVALID_KE_PAYLOAD (one retry). */
  #retryGroup: number | undefined;
  /** RFC 9370 §2.2.4: the additional key exchanges after the CREATE_CHILD_SA (IKE_FOLLOWUP_KE). */
  #followup: FollowupKe | undefined;

  /** CREATE_CHILD_SA, then IKE_FOLLOWUP_KE while additional key exchanges are due. */
  get exchange(): number {
    return this.#followup ? ExchangeType.IKE_FOLLOWUP_KE : ExchangeType.CREATE_CHILD_SA;
  }

  constructor(
    private readonly sa: IkeSa,
    private readonly initiator: boolean,
  ) {}

  build(msg: OutboundMessage): void {
    if (this.#followup && this.initiator) return this.#followup.buildRequest(this.sa, msg);
    if (this.#followup) return this.#buildFollowupResponse(msg);
    return this.initiator ? this.#buildRequest(msg) : this.#buildResponse(msg);
  }
  process(msg: InboundMessage): TaskResult | void {
    if (this.#followup && this.initiator) return this.#processFollowupResponse(msg);
    if (this.#followup) return this.#processFollowup(msg);
    return this.initiator ? this.#processResponse(msg) : this.#processRequest(msg);
  }

  #buildRequest(msg: OutboundMessage): void {
    const sa = this.sa;
    const retry = this.#retryGroup !== undefined && sa.state === 'rekeying';
    if (sa.state !== 'established' && !retry)
      throw new IkeError('ERR_TIMEOUT', `IKE SA is ${sa.state}, not rekeyed`);
    sa.setState('rekeying');
    this.#spi ??= sa.services.newIkeSpi();
    this.#nonce = sa.services.randomBytes(NONCE_LEN);
    this.#offer = sa.config.ikeProposals.map((p) => ({ ...p, spi: this.#spi! }));
    const group = this.#retryGroup ?? sa.keGroup ?? this.#offer.map(keGroupOf).find((g) => g !== undefined);
    if (group === undefined)
      throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', 'no key exchange group for the rekey');
    const r = initiatorKeyShare(group, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', r.message);
    this.#ke = r.initiator;
    msg.add(
      { kind: 'SA', proposals: this.#offer.map(proposalToWire) },
      { kind: 'NONCE', data: this.#nonce },
      { kind: 'KE', group, data: this.#ke.share },
    );
  }

  #processRequest(msg: InboundMessage): void {
    const sa = this.sa;
    // §2.25: TEMPORARY_FAILURE while we close the IKE SA or work on one of its Child SAs.
    const busy = sa.children.some((c) => c.state === 'rekeying' || c.state === 'installing');
    if ((sa.state !== 'established' && sa.state !== 'rekeying') || busy)
      throw new IkeError('ERR_TIMEOUT', `IKE SA is ${sa.state}`, NotifyType.TEMPORARY_FAILURE);
    const saP = findPayload(msg.payloads, 'SA');
    const nonce = findPayload(msg.payloads, 'NONCE');
    const ke = findPayload(msg.payloads, 'KE');
    if (!saP || !nonce || !ke) throw new InvalidSyntaxError('IKE rekey without SA, Ni or KEi');
    this.#spi = sa.services.newIkeSpi();
    const chosen = selectProposal(saP.proposals.map(proposalFromWire), sa.config.ikeProposals, {
      preferKeGroup: ke.group,
      spi: this.#spi,
    });
    const peerSpi = saP.proposals.find((p) => p.num === chosen.number)?.spi;
    if (chosen.protocol !== ProtocolId.IKE || !peerSpi || peerSpi.length !== 8)
      throw new NoProposalChosenError('IKE rekey needs protocol IKE with an 8-octet SPI');
    // §2.18: "a responder MUST NOT accept" a proposal without a key exchange.
    if (keGroupOf(chosen) === undefined) throw new NoProposalChosenError('IKE rekey without a KE transform');
    checkKeGroup(chosen, ke.group);
    this.#chosen = chosen;
    this.#peerSpi = peerSpi.slice();
    this.#peerNonce = nonce.data.slice();
    this.#nonce = sa.services.randomBytes(NONCE_LEN);
    const r = responderRespond(ke.group, ke.data, { createDh: (g) => sa.services.pool.take(g) });
    if (!r.ok) {
      sa.services.counters.inc('ike.bad_ke');
      throw new IkeError('ERR_INVALID_SYNTAX', r.message, r.notify ?? NotifyType.INVALID_SYNTAX);
    }
    this.#share = { group: ke.group, data: r.share };
    this.#gir = r.secret.bytes();
  }

  #buildResponse(msg: OutboundMessage): void {
    msg.add(
      { kind: 'SA', proposals: [proposalToWire(this.#chosen!)] },
      { kind: 'NONCE', data: this.#nonce! },
      { kind: 'KE', group: this.#share!.group, data: this.#share!.data },
    );
    const addKe = additionalKeGroups(this.#chosen!);
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: the new IKE SA exists only after the last IKE_FOLLOWUP_KE.
      this.#followup = new FollowupKe(addKe, this.#gir!);
      this.#gir = undefined;
      this.#share = undefined;
      this.#followup.announce(this.sa, msg);
      awaitFollowup(this.sa, this.#followup.link!, this);
      return;
    }
    this.#finishResponder();
  }

  /** Responder: KEi(n) of an IKE_FOLLOWUP_KE (the task registry found us by its link). */
  #processFollowup(msg: InboundMessage): void {
    const sa = this.sa;
    if (sa.state !== 'established' && sa.state !== 'rekeying')
      throw new IkeError('ERR_TIMEOUT', `IKE SA is ${sa.state}`, NotifyType.TEMPORARY_FAILURE);
    this.#followup!.processRequest(sa, msg);
  }

  #buildFollowupResponse(msg: OutboundMessage): void {
    const f = this.#followup!;
    f.buildResponse(this.sa, msg);
    if (f.pending) return awaitFollowup(this.sa, f.link!, this);
    this.#finishResponder();
  }

  #finishResponder(): void {
    const old = this.sa;
    const sa = this.#create(false, this.#peerSpi!, this.#spi!, this.#peerNonce!, this.#nonce!);
    if (old.state === 'rekeying') {
      // §2.8.2: we rekey it too; the Child SAs stay until our own exchange applies the nonce rule.
      old.peerRekey = { nonces: [this.#peerNonce!, this.#nonce!], sa };
      return;
    }
    handOver(old, sa); // the initiator of the rekey deletes the old IKE SA (§2.18)
    expectIkeDelete(old);
  }

  #processResponse(msg: InboundMessage): TaskResult | void {
    const old = this.sa;
    const err = msg.payloads.find((p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType));
    if (err?.kind === 'NOTIFY') {
      if (err.notifyType === NotifyType.INVALID_KE_PAYLOAD && this.#retryWith(err.data)) return 'retry';
      throw new PeerRefused(err.notifyType); // §2.25: abort() retries a little later
    }
    const saP = findPayload(msg.payloads, 'SA');
    const nonce = findPayload(msg.payloads, 'NONCE');
    const ke = findPayload(msg.payloads, 'KE');
    if (!saP || !nonce || !ke) throw new InvalidSyntaxError('IKE rekey response without SA, Nr or KEr');
    const chosen = verifyChosen(this.#offer, saP.proposals.map(proposalFromWire));
    if (chosen.spi.length !== 8 || ke.group !== this.#ke!.method || keGroupOf(chosen) !== ke.group)
      throw new InvalidSyntaxError('IKE rekey response with a bad SPI or KE group');
    this.#chosen = chosen;
    const r = this.#ke!.finish(ke.data); // wipes our private key whatever the outcome
    this.#ke = undefined;
    if (!r.ok) {
      old.services.counters.inc('ike.bad_ke');
      throw new InvalidSyntaxError(`IKE rekey response: ${r.message}`);
    }
    this.#gir = r.secret.bytes();
    this.#peerNonce = nonce.data.slice();
    const addKe = additionalKeGroups(chosen);
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: one IKE_FOLLOWUP_KE per additional key exchange, then the new IKE SA.
      this.#followup = new FollowupKe(addKe, this.#gir);
      this.#gir = undefined;
      this.#followup.takeLink(msg, 'IKE rekey response');
      return 'next';
    }
    if (findNotify(msg.payloads, NotifyType.ADDITIONAL_KEY_EXCHANGE))
      throw new InvalidSyntaxError('IKE rekey response: a link without additional key exchanges');
    this.#finishInitiator();
  }

  /** Initiator: KEr(n) of an IKE_FOLLOWUP_KE; after the last one, the new IKE SA. */
  #processFollowupResponse(msg: InboundMessage): TaskResult | void {
    const f = this.#followup!;
    f.processResponse(this.sa, msg);
    if (f.pending) return 'next';
    this.#finishInitiator();
  }

  #finishInitiator(): void {
    const old = this.sa;
    const chosen = this.#chosen!;
    const ours = this.#create(true, this.#spi!, chosen.spi.slice(), this.#nonce!, this.#peerNonce!);
    const peer = old.peerRekey;
    old.peerRekey = undefined;
    if (
      peer &&
      peer.sa.state !== 'destroyed' &&
      oursIsRedundant([this.#nonce!, this.#peerNonce!], peer.nonces)
    ) {
      // §2.8.2: the new IKE SA with the lowest nonce is redundant; we created it, so we delete it.
      old.logger.log('info', 'IKE SA rekey collision lost: deleting our redundant IKE SA');
      handOver(old, peer.sa);
      expectIkeDelete(old); // the peer won: it deletes the old IKE SA
      ours.successor = peer.sa;
      ours.queueIkeDelete();
      return;
    }
    if (peer) {
      old.logger.log('info', 'IKE SA rekey collision won: the peer deletes its redundant IKE SA');
      ours.children.push(...peer.sa.children.splice(0));
      peer.sa.successor = ours;
      expectIkeDelete(peer.sa, old); // the peer lost: it deletes its redundant IKE SA
    }
    handOver(old, ours);
    old.queueIkeDelete();
  }

  /** RFC 7296 §1.3: retry once with the group the responder named (same new SPI, fresh nonce). */
  #retryWith(data: Uint8Array): boolean {
    const group =
      this.#retryGroup === undefined ? retryKeGroup(this.#offer, data, this.#ke?.method) : undefined;
    if (group === undefined) return false;
    this.sa.logger.log('info', 'IKE rekey: INVALID_KE_PAYLOAD, retrying', { group });
    this.#retryGroup = group;
    this.#release();
    return true;
  }

  #create(initiator: boolean, spiI: Uint8Array, spiR: Uint8Array, ni: Uint8Array, nr: Uint8Array): IkeSa {
    const f = this.#followup;
    try {
      return createRekeyedSa(this.sa, {
        initiator,
        spiI,
        spiR,
        chosen: this.#chosen!,
        gir: f ? f.secrets[0]! : this.#gir!,
        more: f ? f.secrets.slice(1) : [],
        nonceI: ni,
        nonceR: nr,
      });
    } finally {
      this.#release();
    }
  }

  #release(): void {
    if (this.#gir) wipe(this.#gir);
    this.#gir = undefined;
    this.#ke?.destroy();
    this.#ke = undefined;
    this.#share = undefined;
    this.#followup?.destroy();
    this.#followup = undefined;
  }

  abort(): void {
    this.#release();
    const sa = this.sa;
    forgetFollowup(sa, this);
    if (!this.initiator || sa.state !== 'rekeying') return;
    // Our rekey failed. If we answered the peer's rekey meanwhile, that one stands (§2.8.2).
    const peer = sa.peerRekey;
    sa.peerRekey = undefined;
    if (peer && peer.sa.state !== 'destroyed') {
      handOver(sa, peer.sa);
      expectIkeDelete(sa);
      return;
    }
    sa.setState('established');
    retryIkeRekey(sa, sa.services.options.rekeyRetryMs);
  }
}
