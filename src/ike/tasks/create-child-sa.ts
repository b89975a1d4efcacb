// CREATE_CHILD_SA for a Child SA (RFC 7296 §1.3.1 new Child SA, §1.3.3 rekey with REKEY_SA, §2.17
// KEYMAT with g^ir when a KE payload gives perfect forward secrecy, §2.8.1 rekey collisions). One task,
// both roles: the initiator's role comes from the IKE SA's task queue, the responder's from the
// registry. The rekey-specific ending (old SA retired, nonce rule) lives in ../child-rekey-end.ts.
import { ExchangeType, NotifyType, ProtocolId, isErrorNotify, type Payload } from '../../codec/index.ts';
import { wipe } from '../../crypto/index.ts';
import { initiatorKeyShare, responderRespond, type KeInitiator } from '../../crypto/ke-roles.ts';
import { childRekeyed, rekeyTarget } from '../child-rekey-end.ts';
import { FollowupKe, awaitFollowup, forgetFollowup } from '../followup-ke.ts';
import type { ChildSa } from '../child-sa.ts';
import { narrowedAwayParts, notePartsToComplete } from '../pair-completion.ts';
import { firstChild, selectChild, type ChildConfig } from '../child-config.ts';
import { addTfcRefusal, allocateChild, childProtocolId, installContext, settleTfc } from '../child-setup.ts';
import {
  IkeError,
  InvalidSyntaxError,
  NoProposalChosenError,
  PeerRefused,
  TsUnacceptableError,
} from '../errors.ts';
import type { IkeSa } from '../ike-sa.ts';
import { resolveEsp } from '../keymat.ts';
import { NONCE_LEN } from '../nonces.ts';
import {
  additionalKeGroups,
  checkKeGroup,
  keGroupOf,
  retryKeGroup,
  selectProposal,
  verifyChosen,
  type Proposal,
} from '../proposals.ts';
import {
  expectChildDelete,
  notePeerMade,
  replaceLostChild,
  replacedLost,
  retryChildRekey,
} from '../rekey-guard.ts';
import { holderOf } from '../sa-holder.ts';
import type { InboundMessage, OutboundMessage, Task, TaskResult } from '../task.ts';
import { narrowPair, tsContains, type TrafficSelector } from '../traffic-selectors.ts';
import {
  findNotify,
  findPayload,
  notify,
  proposalFromWire,
  proposalToWire,
  tsFromWire,
  tsToWire,
  u32,
  u32Bytes,
} from '../wire.ts';

export interface CreateChildOptions {
  /** Rekey this Child SA (RFC 7296 §1.3.3) instead of creating an additional one. */
  readonly rekey?: ChildSa;
  /**
   * A new Child SA (no REKEY_SA) that replaces this one, which the peer no longer has (its rekey was
   * answered CHILD_SA_NOT_FOUND, §2.25): same selectors, mode and reqid; the old one goes after.
   */
  readonly replaces?: ChildSa;
  /** A new Child SA of this child of the connection (default: the first, as in IKE_AUTH). */
  readonly child?: ChildConfig;
}

/** The parts of one CREATE_CHILD_SA negotiation both roles fill in. */
interface Negotiated {
  chosen: Proposal;
  spiOut: number;
  localTs: readonly TrafficSelector[];
  remoteTs: readonly TrafficSelector[];
  gir: Uint8Array | undefined;
}

export class CreateChildSa implements Task {
  readonly name: string;
  child: ChildSa | undefined;
  /** The Child SA being rekeyed (initiator: given; responder: found by REKEY_SA). */
  old: ChildSa | undefined;
  /** Initiator: the Child SA the peer lost, which this new one replaces (rekey-guard.ts). */
  readonly replaces: ChildSa | undefined;
  nonceI: Uint8Array | undefined;
  nonceR: Uint8Array | undefined;
  /** Initiator: our key share (DH or ML-KEM, ke-roles.ts). */
  #ke: KeInitiator | undefined;
  /** Responder: the KEr payload to send. */
  #share: { readonly group: number; readonly data: Uint8Array } | undefined;
  #offer: Proposal[] = [];
  #negotiated: Negotiated | undefined;
  #transport = false;
  /** Responder: the request's payloads (its ESP_TFC_PADDING_NOT_SUPPORTED, RFC 7296 §3.10.1). */
  #peerPayloads: readonly Payload[] = [];
  /** Initiator: the peer answered with its new Child SA, which we have not installed yet. */
  #peerInstalled = false;
  /** §1.3: the group the responder asked for with INVALID_KE_PAYLOAD (one retry). */
  #retryGroup: number | undefined;
  /** Initiator of a rekey: we moved the old Child SA to `rekeying` (and must end that state). */
  #owner = false;
  /** Initiator of a rekey: the peer answered CHILD_SA_NOT_FOUND (§2.25). */
  #notFound = false;
  /** RFC 9370 §2.2.4: the additional key exchanges after this CREATE_CHILD_SA (IKE_FOLLOWUP_KE). */
  #followup: FollowupKe | undefined;

  /** CREATE_CHILD_SA, then IKE_FOLLOWUP_KE while additional key exchanges are due. */
  get exchange(): number {
    return this.#followup ? ExchangeType.IKE_FOLLOWUP_KE : ExchangeType.CREATE_CHILD_SA;
  }
  /** Initiator: the error notify the peer answered with, for the child-failed event. */
  #refused: number | undefined;
  /** The connection's child this exchange makes an instance of (responder: chosen by §2.9). */
  #cc: ChildConfig | undefined;
  /** Initiator: the child a new Child SA was asked for. */
  readonly #wanted: ChildConfig | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
    opts: CreateChildOptions = {},
  ) {
    this.old = opts.rekey;
    this.replaces = opts.replaces;
    this.#wanted = opts.child;
    this.name = opts.rekey ? 'child-rekey' : 'child-create';
  }

  /** The child of the connection this exchange is about: the rekeyed or replaced one's, or the asked one. */
  get childConfig(): ChildConfig {
    return (this.#cc ??= (this.old ?? this.replaces)?.config ?? this.#wanted ?? firstChild(this.sa.config));
  }

  #allocate(reqid: number): Promise<ChildSa> {
    return allocateChild(this.sa, this.childConfig, reqid, this.initiator);
  }

  /** A rekey keeps the reqid so the policies stay (RFC 7296 §2.8: "an equivalent SA"). */
  #reqid(): number {
    const same = this.old ?? this.replaces;
    return same?.reqid ?? this.childConfig.reqid ?? this.sa.services.allocReqid();
  }

  build(msg: OutboundMessage): Promise<void> {
    if (this.#followup) {
      if (!this.initiator) return this.#buildFollowupResponse(msg);
      this.#followup.buildRequest(this.sa, msg);
      return Promise.resolve();
    }
    return this.initiator ? this.#buildRequest(msg) : this.#buildResponse(msg);
  }

  process(msg: InboundMessage): Promise<TaskResult | void> {
    if (this.#followup)
      return this.initiator ? this.#processFollowupResponse(msg) : this.#processFollowup(msg);
    return this.initiator ? this.#processResponse(msg) : this.#processRequest(msg);
  }

  async #buildRequest(msg: OutboundMessage): Promise<void> {
    const sa = this.sa;
    const old = this.old;
    if (!sa.established) throw new IkeError('ERR_TIMEOUT', 'IKE SA not established');
    if (old) {
      // The Child SA may have been deleted or rekeyed by the peer while this task waited.
      const retry = this.#retryGroup !== undefined && old.state === 'rekeying';
      if (old.state !== 'installed' && !retry)
        throw new IkeError('ERR_NO_CONNECTION', `Child SA ${old.id} is ${old.state}, not rekeyed`);
      old.setState('rekeying');
      this.#owner = true;
    }
    this.child ??= await this.#allocate(this.#reqid());
    this.nonceI ??= sa.services.randomBytes(NONCE_LEN);
    // §1.3.1: the KE transforms stay in the offer here; the KE payload carries the first group.
    const cc = this.childConfig;
    this.#offer = cc.espProposals.map((p) => ({ ...p, spi: u32Bytes(this.child!.spiIn) }));
    const group = this.#retryGroup ?? this.#offer.map(keGroupOf).find((g) => g !== undefined);
    if (group !== undefined && this.#ke?.method !== group) {
      this.#ke?.destroy();
      const r = initiatorKeyShare(group, { createDh: (g) => sa.services.pool.take(g) });
      if (!r.ok) throw new IkeError('ERR_NO_PROPOSAL_CHOSEN', r.message);
      this.#ke = r.initiator;
    }
    // §1.3.3: REKEY_SA names the rekeyed SA by the SPI we receive on and its protocol (ESP or AH).
    if (old) msg.add(notify(NotifyType.REKEY_SA, new Uint8Array(0), protoId(old), u32Bytes(old.spiIn)));
    const base = old ?? this.replaces;
    const mode = base ? base.mode : cc.mode;
    if (mode === 'transport') msg.add(notify(NotifyType.USE_TRANSPORT_MODE));
    addTfcRefusal(cc, msg);
    msg.add({ kind: 'SA', proposals: this.#offer.map(proposalToWire) }, { kind: 'NONCE', data: this.nonceI });
    if (this.#ke) msg.add({ kind: 'KE', group: this.#ke.method, data: this.#ke.share });
    // §2.8: "the new Child SA SHOULD NOT have different Traffic Selectors" than the old one.
    const [l, r] = base ? [base.localTs, base.remoteTs] : [cc.localTs, cc.remoteTs];
    msg.add({ kind: 'TSi', selectors: l.map(tsToWire) }, { kind: 'TSr', selectors: r.map(tsToWire) });
  }

  async #processRequest(msg: InboundMessage): Promise<void> {
    const sa = this.sa;
    // §2.25: while the IKE SA itself is being rekeyed, Child SA work waits.
    if (sa.state !== 'established')
      throw new IkeError('ERR_TIMEOUT', `IKE SA is ${sa.state}`, NotifyType.TEMPORARY_FAILURE);
    this.old = rekeyTarget(sa, msg);
    const saP = findPayload(msg.payloads, 'SA');
    const nonce = findPayload(msg.payloads, 'NONCE');
    const tsi = findPayload(msg.payloads, 'TSi');
    const tsr = findPayload(msg.payloads, 'TSr');
    if (!saP || !nonce || !tsi || !tsr) throw new InvalidSyntaxError('CREATE_CHILD_SA without SA, Ni or TS');
    const offered = { tsi: tsFromWire(tsi.selectors), tsr: tsFromWire(tsr.selectors) };
    const transportAsked = !!findNotify(msg.payloads, NotifyType.USE_TRANSPORT_MODE);
    // §2.9: a new Child SA is narrowed to the child its selectors fit (TS_UNACCEPTABLE: none); a
    // rekey stays an instance of the rekeyed SA's child.
    const picked = this.old ? undefined : selectChild(sa.config, offered, transportAsked);
    this.#cc = this.old?.config ?? picked!.child;
    const cc = this.#cc;
    const child = (this.child = await this.#allocate(this.#reqid()));
    notePeerMade(sa, child, msg.header.messageId);
    if (picked) notePartsToComplete(child, narrowedAwayParts(sa.config, picked.child, offered));
    const ke = findPayload(msg.payloads, 'KE');
    // §1.3: prefer the group of the KEi we got, as in IKE_SA_INIT (saves an INVALID_KE round trip).
    const chosen = selectProposal(saP.proposals.map(proposalFromWire), cc.espProposals, {
      spi: u32Bytes(child.spiIn),
      ...(ke ? { preferKeGroup: ke.group } : {}),
    });
    const peerSpi = saP.proposals.find((p) => p.num === chosen.number)?.spi;
    // A rekey keeps the protocol of the rekeyed Child SA (RFC 7296 §2.8: "an equivalent SA").
    const want = this.old ? protoId(this.old) : childProtocolId(cc);
    if (chosen.protocol !== want || !peerSpi || peerSpi.length !== 4)
      throw new NoProposalChosenError(`only ${want === ProtocolId.AH ? 'AH' : 'ESP'} with 4-octet SPIs`);
    // §1.3.1 / §1.2: with a KE transform chosen, KEi must be of that group (else INVALID_KE_PAYLOAD).
    const group = keGroupOf(chosen);
    let gir: Uint8Array | undefined;
    if (group !== undefined) {
      if (!ke) throw new InvalidSyntaxError('a KE transform was chosen but no KEi sent');
      checkKeGroup(chosen, ke.group);
      const r = responderRespond(group, ke.data, { createDh: (g) => sa.services.pool.take(g) });
      if (!r.ok) {
        sa.services.counters.inc('ike.bad_ke');
        throw new IkeError('ERR_INVALID_SYNTAX', r.message, r.notify ?? NotifyType.INVALID_SYNTAX);
      }
      this.#share = { group, data: r.share };
      gir = r.secret.bytes();
    }
    // RFC 9370 §2.2.4: additional key exchanges follow the first one; without it they make no sense.
    if (group === undefined && additionalKeGroups(chosen).length > 0)
      throw new NoProposalChosenError('additional key exchanges chosen without a first one');
    // §2.9: narrow the initiator's selectors to the child's policy (its side = the child's remoteTs).
    const narrowed = picked?.narrowed ?? selectChildOf(cc, offered);
    this.nonceI = nonce.data.slice();
    this.nonceR = sa.services.randomBytes(NONCE_LEN);
    this.#negotiated = {
      chosen,
      spiOut: u32(peerSpi),
      localTs: narrowed.tsr,
      remoteTs: narrowed.tsi,
      gir,
    };
    const mode = this.old ? this.old.mode : cc.mode;
    this.#transport = transportAsked && mode === 'transport';
    this.#peerPayloads = msg.payloads;
  }

  async #buildResponse(msg: OutboundMessage): Promise<void> {
    const child = this.child!;
    const n = this.#negotiated!;
    child.mode = this.#transport ? 'transport' : 'tunnel';
    settleTfc(this.sa, child, this.#peerPayloads);
    const addKe = additionalKeGroups(n.chosen);
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: nothing is installed before the last IKE_FOLLOWUP_KE.
      if (this.#transport) msg.add(notify(NotifyType.USE_TRANSPORT_MODE));
      addTfcRefusal(child.config, msg);
      msg.add({ kind: 'SA', proposals: [proposalToWire(n.chosen)] }, { kind: 'NONCE', data: this.nonceR! });
      msg.add({ kind: 'KE', group: this.#share!.group, data: this.#share!.data });
      msg.add(
        { kind: 'TSi', selectors: n.remoteTs.map(tsToWire) },
        { kind: 'TSr', selectors: n.localTs.map(tsToWire) },
      );
      this.#followup = new FollowupKe(addKe, n.gir!);
      n.gir = undefined;
      this.#followup.announce(this.sa, msg);
      awaitFollowup(this.sa, this.#followup.link!, this);
      this.#dropKe();
      return;
    }
    await this.#finishResponder(msg, child, n);
  }

  /** Responder: KEi(n) of an IKE_FOLLOWUP_KE (the task registry found us by its link). */
  async #processFollowup(msg: InboundMessage): Promise<void> {
    const sa = this.sa;
    if (sa.state !== 'established')
      throw new IkeError('ERR_TIMEOUT', `IKE SA is ${sa.state}`, NotifyType.TEMPORARY_FAILURE);
    this.#followup!.processRequest(sa, msg);
    return Promise.resolve();
  }

  async #buildFollowupResponse(msg: OutboundMessage): Promise<void> {
    const f = this.#followup!;
    f.buildResponse(this.sa, msg);
    if (f.pending) return awaitFollowup(this.sa, f.link!, this);
    const n = this.#negotiated!;
    n.gir = f.secrets[0];
    this.#keys(this.child!, n, f.secrets.slice(1));
    f.destroy();
    this.#followup = undefined;
    await this.#finishResponder(msg, this.child!, n, true);
  }

  /** Responder: install (keys derived) and answer; `keyed`: #keys ran already. */
  async #finishResponder(msg: OutboundMessage, child: ChildSa, n: Negotiated, keyed = false): Promise<void> {
    if (!keyed) this.#keys(child, n);
    // Make-before-break: the outbound SA of a rekey waits until the peer receives on it (child-rekey-end.ts).
    await this.#install(child, !!this.old);
    if (!keyed) {
      if (this.#transport) msg.add(notify(NotifyType.USE_TRANSPORT_MODE));
      addTfcRefusal(child.config, msg);
      msg.add({ kind: 'SA', proposals: [proposalToWire(n.chosen)] }, { kind: 'NONCE', data: this.nonceR! });
      if (this.#share) msg.add({ kind: 'KE', group: this.#share.group, data: this.#share.data });
      msg.add(
        { kind: 'TSi', selectors: child.remoteTs.map(tsToWire) },
        { kind: 'TSr', selectors: child.localTs.map(tsToWire) },
      );
    }
    this.#dropKe();
    if (this.old) await childRekeyed(this.sa, this, false);
  }

  async #processResponse(msg: InboundMessage): Promise<TaskResult | void> {
    const sa = this.sa;
    const child = this.child;
    if (!child) return;
    const err = msg.payloads.find((p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType));
    if (err?.kind === 'NOTIFY') {
      if (err.notifyType === NotifyType.INVALID_KE_PAYLOAD && this.#retryWith(err.data)) return 'retry';
      this.#notFound = err.notifyType === NotifyType.CHILD_SA_NOT_FOUND;
      this.#refused = err.notifyType;
      throw new PeerRefused(err.notifyType); // abort() retries a rekey later (§2.25)
    }
    // No error notify: the responder installed its side (§1.3); a failure from here on is ours to clean
    // up at the peer too (abort()).
    this.#peerInstalled = true;
    const saP = findPayload(msg.payloads, 'SA');
    const nonce = findPayload(msg.payloads, 'NONCE');
    const tsi = findPayload(msg.payloads, 'TSi');
    const tsr = findPayload(msg.payloads, 'TSr');
    if (!saP || !nonce || !tsi || !tsr) throw new InvalidSyntaxError('CREATE_CHILD_SA response incomplete');
    const chosen = verifyChosen(this.#offer, saP.proposals.map(proposalFromWire));
    const group = keGroupOf(chosen);
    const ke = findPayload(msg.payloads, 'KE');
    let gir: Uint8Array | undefined;
    if (group !== undefined) {
      if (!ke || !this.#ke || ke.group !== this.#ke.method || group !== ke.group)
        throw new InvalidSyntaxError(`responder chose group ${group} without a matching KEr`);
      const r = this.#ke.finish(ke.data); // wipes our private key whatever the outcome
      this.#ke = undefined;
      if (!r.ok) {
        sa.services.counters.inc('ike.bad_ke');
        throw new InvalidSyntaxError(`CREATE_CHILD_SA response: ${r.message}`);
      }
      gir = r.secret.bytes();
    }
    const local = tsFromWire(tsi.selectors);
    const remote = tsFromWire(tsr.selectors);
    const base = this.old ?? this.replaces;
    const [l, r] = base ? [base.localTs, base.remoteTs] : [child.config.localTs, child.config.remoteTs];
    // §2.9: the responder may only narrow what we proposed.
    const inside = (got: TrafficSelector[], ours: readonly TrafficSelector[]) =>
      got.length > 0 && got.every((g) => ours.some((o) => tsContains(o, g)));
    if (!inside(local, l) || !inside(remote, r)) {
      if (gir) wipe(gir);
      throw new TsUnacceptableError('responder returned selectors wider than proposed');
    }
    this.nonceR = nonce.data.slice();
    child.mode = findNotify(msg.payloads, NotifyType.USE_TRANSPORT_MODE) ? 'transport' : 'tunnel';
    settleTfc(sa, child, msg.payloads);
    const n: Negotiated = { chosen, spiOut: u32(chosen.spi), localTs: local, remoteTs: remote, gir };
    const addKe = additionalKeGroups(chosen);
    if (addKe.length > 0) {
      if (!gir) throw new InvalidSyntaxError('responder chose additional key exchanges without a first one');
      // RFC 9370 §2.2.4: one IKE_FOLLOWUP_KE per additional key exchange, then the keys.
      this.#followup = new FollowupKe(addKe, gir);
      n.gir = undefined;
      this.#negotiated = n;
      this.#dropKe();
      this.#followup.takeLink(msg, 'CREATE_CHILD_SA response');
      return 'next';
    }
    if (findNotify(msg.payloads, NotifyType.ADDITIONAL_KEY_EXCHANGE))
      throw new InvalidSyntaxError('CREATE_CHILD_SA response: a link without additional key exchanges');
    await this.#finishInitiator(child, n);
  }

  /** Initiator: KEr(n) of an IKE_FOLLOWUP_KE; after the last one, the Child SA. */
  async #processFollowupResponse(msg: InboundMessage): Promise<TaskResult | void> {
    const f = this.#followup!;
    f.processResponse(this.sa, msg);
    if (f.pending) return 'next';
    const n = this.#negotiated!;
    n.gir = f.secrets[0];
    this.#negotiated = undefined;
    try {
      this.#keys(this.child!, n, f.secrets.slice(1));
    } finally {
      f.destroy();
      this.#followup = undefined;
    }
    await this.#finishInitiator(this.child!, n, true);
  }

  async #finishInitiator(child: ChildSa, n: Negotiated, keyed = false): Promise<void> {
    const sa = this.sa;
    if (!keyed) this.#keys(child, n);
    this.#dropKe();
    await this.#install(child);
    this.#peerInstalled = false;
    if (this.old) await childRekeyed(sa, this, true);
    else if (this.replaces) replacedLost(sa, this.replaces, child);
  }

  /**
   * RFC 7296 §1.3: "If the responder selects a proposal using a different Diffie-Hellman group ... the
   * responder will indicate the correct group" -- retry once with it (fresh nonce, same SPI).
   */
  #retryWith(data: Uint8Array): boolean {
    const group =
      this.#retryGroup === undefined ? retryKeGroup(this.#offer, data, this.#ke?.method) : undefined;
    if (group === undefined) return false;
    this.sa.logger.log('info', 'CREATE_CHILD_SA: INVALID_KE_PAYLOAD, retrying', { group });
    this.#retryGroup = group;
    this.nonceI = undefined;
    this.#dropKe();
    return true;
  }

  /**
   * §2.17: KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS; with additional
   * key exchanges (`more`) prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)) (RFC 9370 §2.2.4).
   */
  #keys(child: ChildSa, n: Negotiated, more?: readonly Uint8Array[]): void {
    const esp = resolveEsp(n.chosen);
    child.proposal = n.chosen;
    child.encr = esp.encr;
    child.integ = esp.integ;
    child.esn = esp.esn;
    child.spiOut = n.spiOut;
    child.localTs = n.localTs;
    child.remoteTs = n.remoteTs;
    try {
      child.keys = this.sa.keymat!.childKeys(esp, this.nonceI!, this.nonceR!, n.gir, more);
    } finally {
      if (n.gir) wipe(n.gir);
      n.gir = undefined;
    }
  }

  /** Inbound SA first, then outbound, then policies (ChildSa.install): no packet meets a gap. */
  async #install(child: ChildSa, deferOutbound = false): Promise<void> {
    const sa = this.sa;
    await child.install(sa.services.kernel, installContext(sa, child.config), deferOutbound);
    sa.addChild(child);
    sa.services.counters.inc('ike.child_installed');
    sa.logger.log('info', this.old ? 'Child SA rekeyed' : 'Child SA installed', { child: child.describe() });
    sa.services.emit({ type: 'child-installed', sa, child });
  }

  #dropKe(): void {
    this.#ke?.destroy(); // the private value is not needed after g^ir (RFC 7296 §2.12)
    this.#ke = undefined;
    this.#share = undefined;
  }

  async abort(): Promise<void> {
    const sa = this.sa;
    this.#dropKe();
    this.#followup?.destroy();
    this.#followup = undefined;
    forgetFollowup(sa, this);
    if (this.#negotiated?.gir) wipe(this.#negotiated.gir); // g^ir never outlives the exchange
    this.#negotiated = undefined;
    const child = this.child;
    this.child = undefined;
    // §2.9 / §1.2: "the initiator ... MUST delete" the Child SA the responder installed (on the IKE
    // SA that holds the rekeyed Child SA now, if an IKE SA rekey moved it).
    const holder = this.old ? holderOf(sa, this.old) : sa;
    if (child && this.#peerInstalled) holder.queueOrphanDelete(child.spiIn);
    this.#peerInstalled = false;
    if (child && child.state !== 'installed') await child.destroy(sa.services.kernel);
    if (!this.initiator) return;
    if (this.old) return this.#rekeyFailed(this.old);
    // The replacement of a lost Child SA failed: the old one is rekeyed (and maybe replaced) again.
    if (this.replaces?.state === 'installed')
      retryChildRekey(sa, this.replaces, sa.services.options.rekeyRetryMs);
    sa.services.counters.inc('ike.child_failed');
    const refused = this.#refused;
    sa.services.emit({
      type: 'child-failed',
      sa,
      reason: 'CREATE_CHILD_SA failed',
      ...(refused !== undefined ? { notify: refused } : {}),
    });
  }

  /**
   * Our rekey of `old` failed. If we answered the peer's rekey of it meanwhile, that one replaces it
   * (§2.8.1, the peer deletes the old SA). Otherwise the old SA carries on and the rekey is tried
   * again (§2.25 "retries later"; the kernel's soft EXPIRE came once). A rekey of it that another
   * task owns is left alone.
   */
  #rekeyFailed(old: ChildSa): void {
    const sa = this.sa;
    if (!this.#owner) {
      if (old.state === 'installed' && !holderOf(sa, old).rekeyPending(old))
        retryChildRekey(sa, old, sa.services.options.rekeyRetryMs);
      return;
    }
    this.#owner = false;
    const peer = old.peerRekey;
    old.peerRekey = undefined;
    if (old.state === 'rekeying' && peer && peer.child.state !== 'destroyed') {
      old.successor = peer.child;
      old.setState('rekeyed');
      sa.services.emit({ type: 'child-rekeyed', sa: holderOf(sa, old), child: peer.child, old });
      expectChildDelete(sa, old);
      return;
    }
    if (old.state === 'rekeying') old.setState('installed');
    if (old.state !== 'installed') return;
    // §2.25: the peer does not have it; a new Child SA replaces it (if it is really gone, rekey-guard).
    if (this.#notFound) replaceLostChild(sa, old, sa.services.options.rekeyRetryMs);
    else retryChildRekey(sa, old, sa.services.options.rekeyRetryMs);
  }
}

const protoId = (c: ChildSa): ProtocolId => (c.protocol === 'ah' ? ProtocolId.AH : ProtocolId.ESP);

/** §2.9 for a rekey: the offered selectors narrowed to the rekeyed SA's child. */
function selectChildOf(cc: ChildConfig, offered: { tsi: TrafficSelector[]; tsr: TrafficSelector[] }) {
  return narrowPair(offered, { tsi: cc.remoteTs, tsr: cc.localTs });
}

/** Queues a rekey of `child` on `sa` and starts it (RFC 7296 §1.3.3). */
export function queueChildRekey(sa: IkeSa, child: ChildSa): void {
  sa.tasks.queue(new CreateChildSa(sa, true, { rekey: child }));
  sa.services.run(sa, () => sa.tasks.initiate());
}

/** Queues a new Child SA on `sa` that replaces `lost`, which the peer no longer has (§2.25). */
export function queueChildReplacement(sa: IkeSa, lost: ChildSa): void {
  sa.tasks.queue(new CreateChildSa(sa, true, { replaces: lost }));
  sa.services.run(sa, () => sa.tasks.initiate());
}

/** True when a rekey (or a replacement) of `child` is queued or running on `sa`. */
export function rekeyPending(sa: IkeSa, child: ChildSa): boolean {
  const tasks = [...sa.tasks.queued, ...(sa.tasks.active?.tasks ?? [])];
  return tasks.some((t) => t instanceof CreateChildSa && (t.old === child || t.replaces === child));
}
