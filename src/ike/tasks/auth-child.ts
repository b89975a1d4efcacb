// The first Child SA, negotiated inside IKE_AUTH (RFC 7296 §1.2, §2.17): ESP or AH proposal (KE ignored,
// §1.2), traffic selectors with narrowing (§2.9), USE_TRANSPORT_MODE (§1.3.1), ESN (RFC 4303 §2.2.1).
// A failure here (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) fails only the Child SA: the IKE SA stays (§1.2).
// Additional Child SAs and rekeys are the CREATE_CHILD_SA exchange (create-child-sa.ts).
import { ExchangeType, NotifyType, TransformType, isErrorNotify } from '../../codec/index.ts';
import type { ChildSa } from '../child-sa.ts';
import { narrowedAwayParts, notePartsToComplete } from '../pair-completion.ts';
import { firstChild, selectChild, type ChildConfig } from '../child-config.ts';
import { addTfcRefusal, allocateChild, childProtocolId, installContext, settleTfc } from '../child-setup.ts';
import { CHILD_ERRORS, IkeError, NoProposalChosenError, TsUnacceptableError } from '../errors.ts';
import type { IkeSa } from '../ike-sa.ts';
import { resolveEsp } from '../keymat.ts';
import { selectProposal, verifyChosen, type Proposal } from '../proposals.ts';
import type { InboundMessage, OutboundMessage, Task } from '../task.ts';
import { tsContains, type TrafficSelector } from '../traffic-selectors.ts';
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

const isKe = (t: { type: number }) => t.type === TransformType.KE || (t.type >= 6 && t.type <= 12);

/** §1.2: no KE in IKE_AUTH; the ESP proposals carry our inbound SPI. */
function espOffer(proposals: readonly Proposal[], spi: number): Proposal[] {
  return proposals.map((p) => ({
    ...p,
    spi: u32Bytes(spi),
    transforms: p.transforms.filter((t) => !isKe(t)),
  }));
}

export class IkeAuthChild implements Task {
  readonly name = 'child-create';
  readonly exchange = ExchangeType.IKE_AUTH;
  child: ChildSa | undefined;
  #offer: Proposal[] = [];
  #failure: number | undefined;

  /**
   * @param wanted initiator: the child to set up (default: the first that starts now); the others
   * that start now follow with CREATE_CHILD_SA once the IKE SA stands (engine.initiate).
   */
  constructor(
    private readonly sa: IkeSa,
    private readonly wanted?: string,
  ) {}

  #allocate(cc: ChildConfig): Promise<ChildSa> {
    return allocateChild(this.sa, cc, cc.reqid ?? this.sa.services.allocReqid(), this.sa.initiator);
  }

  async build(msg: OutboundMessage): Promise<void> {
    const sa = this.sa;
    if (!sa.initiator) return this.#buildResponse(msg);
    const cc = this.child?.config ?? firstChild(sa.config, this.wanted);
    this.child ??= await this.#allocate(cc);
    this.#offer = espOffer(cc.espProposals, this.child.spiIn);
    if (cc.mode === 'transport') msg.add(notify(NotifyType.USE_TRANSPORT_MODE));
    addTfcRefusal(cc, msg);
    msg.add(
      { kind: 'SA', proposals: this.#offer.map(proposalToWire) },
      { kind: 'TSi', selectors: cc.localTs.map(tsToWire) },
      { kind: 'TSr', selectors: cc.remoteTs.map(tsToWire) },
    );
  }

  async process(msg: InboundMessage): Promise<void> {
    if (this.sa.initiator) return this.#processResponse(msg);
    return this.#processRequest(msg);
  }

  async #processRequest(msg: InboundMessage): Promise<void> {
    const sa = this.sa;
    const saP = findPayload(msg.payloads, 'SA');
    const tsi = findPayload(msg.payloads, 'TSi');
    const tsr = findPayload(msg.payloads, 'TSr');
    if (!saP || !tsi || !tsr) return; // RFC 6023 childless IKE_AUTH: no Child SA requested
    const transport = !!findNotify(msg.payloads, NotifyType.USE_TRANSPORT_MODE);
    const offered = { tsi: tsFromWire(tsi.selectors), tsr: tsFromWire(tsr.selectors) };
    let picked: ReturnType<typeof selectChild>;
    try {
      // §2.9: narrow the initiator's selectors to the policy of the child they fit (its side = remoteTs).
      picked = selectChild(sa.config, offered, transport);
    } catch (e) {
      if (!(e instanceof TsUnacceptableError)) throw e;
      this.#failure = NotifyType.TS_UNACCEPTABLE;
      sa.logger.log('info', 'Child SA refused', { error: e.message });
      return;
    }
    const cc = picked.child;
    const child = (this.child = await this.#allocate(cc));
    notePartsToComplete(child, narrowedAwayParts(sa.config, cc, offered));
    try {
      const chosen = selectProposal(saP.proposals.map(proposalFromWire), cc.espProposals, {
        ignoreKe: true,
        spi: u32Bytes(child.spiIn),
      });
      const peerSpi = chosen.number && saP.proposals.find((p) => p.num === chosen.number)?.spi;
      if (chosen.protocol !== childProtocolId(cc) || !peerSpi || peerSpi.length !== 4)
        throw new NoProposalChosenError(`only ${cc.childProtocol ?? 'esp'} with 4-octet SPIs`);
      const narrowed = picked.narrowed;
      this.#negotiated(child, chosen, u32(peerSpi), narrowed.tsr, narrowed.tsi);
      // §1.3.1: transport mode only when asked for and configured; otherwise tunnel.
      child.mode = transport && cc.mode === 'transport' ? 'transport' : 'tunnel';
      settleTfc(sa, child, msg.payloads);
    } catch (e) {
      if (!(e instanceof NoProposalChosenError || e instanceof TsUnacceptableError || e instanceof IkeError))
        throw e;
      this.#failure = e.notify ?? NotifyType.NO_PROPOSAL_CHOSEN;
      sa.logger.log('info', 'Child SA refused', { error: e.message });
    }
  }

  #negotiated(
    child: ChildSa,
    chosen: Proposal,
    spiOut: number,
    localTs: readonly TrafficSelector[],
    remoteTs: readonly TrafficSelector[],
  ): void {
    const esp = resolveEsp(chosen);
    child.proposal = chosen;
    child.encr = esp.encr;
    child.integ = esp.integ;
    child.esn = esp.esn;
    child.spiOut = spiOut;
    child.localTs = localTs;
    child.remoteTs = remoteTs;
    // §2.17: KEYMAT = prf+(SK_d, Ni | Nr) for the Child SA of IKE_AUTH.
    child.keys = this.sa.keymat!.childKeys(esp, this.sa.nonceI!, this.sa.nonceR!);
  }

  async #buildResponse(msg: OutboundMessage): Promise<void> {
    const child = this.child;
    if (!child && this.#failure === undefined) return;
    if (child && this.#failure === undefined) {
      try {
        await this.#install(child);
        if (child.mode === 'transport') msg.add(notify(NotifyType.USE_TRANSPORT_MODE));
        addTfcRefusal(child.config, msg);
        msg.add(
          { kind: 'SA', proposals: [proposalToWire(child.proposal!)] },
          { kind: 'TSi', selectors: child.remoteTs.map(tsToWire) },
          { kind: 'TSr', selectors: child.localTs.map(tsToWire) },
        );
        return;
      } catch (e) {
        this.sa.logger.log('warn', 'installing the Child SA failed', {
          error: e instanceof Error ? e.message : String(e),
        });
        this.#failure = NotifyType.NO_PROPOSAL_CHOSEN;
      }
    }
    const failure = this.#failure ?? NotifyType.NO_PROPOSAL_CHOSEN;
    msg.add(notify(failure));
    await this.#fail(`Child SA refused (notify ${failure})`, failure);
  }

  async #processResponse(msg: InboundMessage): Promise<void> {
    const sa = this.sa;
    const child = this.child;
    if (!child) return;
    const err = msg.payloads.find(
      (p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType) && CHILD_ERRORS.has(p.notifyType),
    );
    if (err?.kind === 'NOTIFY')
      return this.#fail(`responder refused the Child SA (notify ${err.notifyType})`, err.notifyType);
    const saP = findPayload(msg.payloads, 'SA');
    const tsi = findPayload(msg.payloads, 'TSi');
    const tsr = findPayload(msg.payloads, 'TSr');
    if (!saP || !tsi || !tsr) return this.#fail('IKE_AUTH response without a Child SA');
    try {
      const chosen = verifyChosen(this.#offer, saP.proposals.map(proposalFromWire), { ignoreKe: true });
      const local = tsFromWire(tsi.selectors);
      const remote = tsFromWire(tsr.selectors);
      // §2.9: the responder may only narrow: each returned selector lies inside one we proposed.
      const inside = (got: TrafficSelector[], ours: readonly TrafficSelector[]) =>
        got.length > 0 && got.every((g) => ours.some((o) => tsContains(o, g)));
      if (!inside(local, child.config.localTs) || !inside(remote, child.config.remoteTs)) {
        throw new TsUnacceptableError('responder returned selectors wider than proposed');
      }
      this.#negotiated(child, chosen, u32(chosen.spi), local, remote);
      child.mode = findNotify(msg.payloads, NotifyType.USE_TRANSPORT_MODE) ? 'transport' : 'tunnel';
      if (child.mode !== child.config.mode)
        sa.logger.log('warn', 'responder chose another mode', { mode: child.mode });
      settleTfc(sa, child, msg.payloads);
      await this.#install(child);
    } catch (e) {
      // §1.2 / §2.9: the responder answered with its SA, so it holds the Child SA: delete it there.
      sa.queueOrphanDelete(child.spiIn);
      await this.#fail(
        e instanceof Error ? e.message : String(e),
        e instanceof IkeError ? e.notify : undefined,
      );
    }
  }

  async #install(child: ChildSa): Promise<void> {
    const sa = this.sa;
    await child.install(sa.services.kernel, installContext(sa, child.config));
    sa.addChild(child);
    sa.services.counters.inc('ike.child_installed');
    sa.logger.log('info', 'Child SA installed', { child: child.describe() });
    sa.services.emit({ type: 'child-installed', sa, child });
  }

  async #fail(reason: string, notifyType?: number): Promise<void> {
    const sa = this.sa;
    const child = this.child;
    this.child = undefined;
    if (child) await child.destroy(sa.services.kernel);
    sa.services.counters.inc('ike.child_failed');
    sa.logger.log('warn', 'Child SA failed; the IKE SA stays (RFC 7296 §1.2)', { reason });
    sa.services.emit({
      type: 'child-failed',
      sa,
      reason,
      ...(notifyType !== undefined ? { notify: notifyType } : {}),
    });
  }

  async abort(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.state !== 'installed') await child.destroy(this.sa.services.kernel);
  }
}
