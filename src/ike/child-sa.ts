// A Child SA (RFC 7296 §1.3, §2.17): one pair of ESP SAs with its traffic selectors, keys and kernel
// state. Created by the child-create task; its SAs reach the kernel through kernel-install.ts, its
// policies are the ones the policy module (spd/) makes of its selectors. When it dies, the connection's
// policy owner (spd/spd.ts) puts the trap/block policies back where it stood.
import type { ChildSaKeys, EncrSpec, IntegAlgorithm } from '../crypto/index.ts';
import type { IpProto, Kernel, PolicyParams } from '../kernel/types.ts';
import type { Logger } from '../base/logger.ts';
import type { ChildConfig } from './config.ts';
import type { Proposal } from './proposals.ts';
import { CHILD_TRANSITIONS, StateMachine, type ChildSaState } from './state.ts';
import type { TrafficSelector } from './traffic-selectors.ts';
import {
  installChildSas,
  installOutboundSa,
  saParams,
  uninstallChildSas,
  type InstallContext,
} from './kernel-install.ts';
import { childPolicies, installChildPolicies, removeChildPolicies } from './spd/policies.ts';
import { formatTs } from './traffic-selectors.ts';
import { markOnly } from './xfrm-ids.ts';

export interface ChildSaInit {
  readonly id: number;
  readonly name: string;
  /** The connection's child this Child SA is an instance of (selectors, proposals, lifetimes ...). */
  readonly config: ChildConfig;
  readonly reqid: number;
  /** Our inbound SPI, allocated with Kernel.allocSpi (a larval SA until installed). */
  readonly spiIn: number;
  /** Our address: where the larval inbound SA lives until install (for cleanup on failure). */
  readonly localAddr: string;
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly logger: Logger;
  /** ESP (default) or AH (RFC 4302): the protocol of both SAs and of the policy templates. */
  readonly protocol?: IpProto;
}

export class ChildSa {
  readonly id: number;
  readonly name: string;
  /** The child of the connection this is an instance of; rekeys and replacements keep it. */
  readonly config: ChildConfig;
  readonly reqid: number;
  readonly spiIn: number;
  /** ESP or AH: fixed at allocation (the SPI is allocated for it), the same on a rekey. */
  readonly protocol: IpProto;
  /**
   * RFC 4303 §2.7: pad outbound packets to this many octets (XFRMA_TFCPAD), or undefined: none
   * configured, or the peer sent ESP_TFC_PADDING_NOT_SUPPORTED for this Child SA.
   */
  tfcPad: number | undefined;
  /** The peer announced ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 §3.10.1) in this Child SA's exchange. */
  peerRefusesTfc = false;
  readonly #larval: {
    readonly dst: string;
    readonly mark?: { readonly value: number; readonly mask: number };
  };
  spiOut = 0;
  mode: 'tunnel' | 'transport' = 'tunnel';
  proposal: Proposal | undefined;
  encr: EncrSpec | undefined;
  integ: IntegAlgorithm | undefined;
  esn = false;
  /** Our side's and the peer's selectors after narrowing (RFC 7296 §2.9). */
  localTs: readonly TrafficSelector[] = [];
  remoteTs: readonly TrafficSelector[] = [];
  keys: ChildSaKeys | undefined;
  /** True when we initiated the exchange that created this Child SA (key direction, §2.17). */
  initiator = false;
  /** What was installed, for removal (kept after install: addresses may change later). */
  installed: InstallContext | undefined;
  /**
   * RFC 7296 §2.8.1: the peer's rekey of this Child SA that we answered while rekeying it ourselves
   * (its two nonces and the Child SA it created), for the nonce rule once our own exchange completes.
   */
  peerRekey: { readonly nonces: readonly Uint8Array[]; readonly child: ChildSa } | undefined;
  /** The Child SA that replaced this one (rekey), if any. */
  successor: ChildSa | undefined;
  /** Rekeys of this Child SA retried after a failure (bounded: tasks/rekey-guard.ts). */
  rekeyRetries = 0;
  /**
   * Installed without its outbound SA (a rekey we answered: the peer may not receive on it yet);
   * `installOutbound` adds it (child-rekey-end.ts decides when). Its keys are kept until then.
   */
  outboundPending = false;
  /** Keep the keys after install (an HA active node syncs them to its standby); wiped in destroy(). */
  retainKeys = false;
  readonly #state: StateMachine<ChildSaState>;
  /** Its policies where they were last computed (install, status and removal all ask for them). */
  #placed: { readonly at: InstallContext; readonly list: readonly PolicyParams[] } | undefined;

  constructor(init: ChildSaInit) {
    this.id = init.id;
    this.name = init.name;
    this.config = init.config;
    this.reqid = init.reqid;
    this.spiIn = init.spiIn;
    this.protocol = init.protocol ?? 'esp';
    this.tfcPad = undefined;
    this.#larval = { dst: init.localAddr, ...(init.mark ? { mark: init.mark } : {}) };
    this.#state = new StateMachine<ChildSaState>(
      'created',
      CHILD_TRANSITIONS,
      () => `CHILD_SA ${this.name}{${this.id}}`,
      init.logger,
    );
  }

  get state(): ChildSaState {
    return this.#state.state;
  }
  setState(s: ChildSaState): void {
    this.#state.set(s);
  }

  /**
   * Inbound SA first, then outbound, then policies (RFC 4301 §4.4: never a policy without its SA).
   * `deferOutbound`: the outbound SA waits for `installOutbound` (the policies already lead to the
   * Child SA this one replaces, same reqid, whose outbound SA carries the traffic meanwhile).
   */
  async install(kernel: Kernel, ctx: InstallContext, deferOutbound = false): Promise<void> {
    this.setState('installing');
    await installChildSas(kernel, this, ctx, !deferOutbound);
    await installChildPolicies(kernel, this.#policiesAt(ctx));
    this.installed = ctx;
    this.outboundPending = deferOutbound;
    this.setState('installed');
    this.releaseKeys();
  }

  /** Adds the deferred outbound SA (once; nothing for a destroyed Child SA). */
  async installOutbound(kernel: Kernel): Promise<boolean> {
    const ctx = this.installed;
    if (!this.outboundPending || !ctx || this.state === 'destroyed') return false;
    this.outboundPending = false;
    await installOutboundSa(kernel, this, ctx);
    this.releaseKeys();
    return true;
  }

  /**
   * Packets the kernel accepted on our inbound SA so far (its lifetime counters), or undefined when
   * it is not installed or cannot be read. Make-before-break reads it to see the peer use a new SA.
   */
  async inboundPackets(kernel: Kernel): Promise<bigint | undefined> {
    const ctx = this.installed;
    if (!ctx || this.state === 'destroyed') return undefined;
    const mark = ctx.mark ? { mark: { ...ctx.mark } } : {};
    try {
      const info = await kernel.getSa({ dst: ctx.localAddr, spi: this.spiIn, proto: 'esp', ...mark });
      return info.current.packets;
    } catch {
      return undefined;
    }
  }

  /**
   * The kernel holds its own copy once both SAs are in: ours are wiped and let go (~0.6 KiB per
   * tunnel). Only a UDP-encapsulated SA keeps them (wiped in destroy()): a NAT mapping change
   * re-points the SAs, and the kernel wants the keys again (RFC 3948); an HA active node keeps them
   * for its standby (retainKeys).
   */
  releaseKeys(): void {
    if (this.outboundPending || this.installed?.encap || this.retainKeys) return;
    this.keys?.destroy();
    this.keys = undefined;
  }

  /**
   * Re-points the installed SAs and policies at a new peer address/port (a NAT mapping change, RFC
   * 3948 / RFC 7296 §2.23). Inbound SA and a same-address outbound SA are updated in place; an outbound
   * SA to a new address is added before the old one is removed; policy templates follow.
   */
  async repoint(kernel: Kernel, ctx: InstallContext): Promise<void> {
    const before = this.installed;
    if (!before || this.state === 'destroyed' || !this.keys || this.keys.destroyed) return;
    await kernel.updateSa(saParams(this, ctx, true));
    if (this.outboundPending) {
      // Not in the kernel yet: installOutbound adds it with the new path.
    } else if (ctx.remoteAddr === before.remoteAddr) await kernel.updateSa(saParams(this, ctx, false));
    else {
      await kernel.addSa(saParams(this, ctx, false));
      await kernel.deleteSa({
        dst: before.remoteAddr,
        spi: this.spiOut,
        proto: this.protocol,
        ...markOnly(before, 'out'),
      });
    }
    for (const p of this.#policiesAt(ctx)) await kernel.updatePolicy(p);
    this.installed = ctx;
  }

  /** The policies this Child SA installed (empty before install). */
  policies(): readonly PolicyParams[] {
    return this.installed && this.state !== 'destroyed' ? this.#policiesAt(this.installed) : [];
  }

  /** The policies it installed or would hold, whatever its state now (the policy owner's restore). */
  placedPolicies(): readonly PolicyParams[] {
    return this.installed ? this.#policiesAt(this.installed) : [];
  }

  /**
   * childPolicies() at `at`, computed once per place: selectors, mode, reqid and protocol are fixed
   * once the Child SA is negotiated, so only a new place (repoint) computes them again.
   */
  #policiesAt(at: InstallContext): readonly PolicyParams[] {
    if (this.#placed?.at !== at) this.#placed = { at, list: childPolicies(this, at) };
    return this.#placed.list;
  }

  /** Installs our policies again (another Child SA with the same selectors was removed). */
  async refreshPolicies(kernel: Kernel): Promise<void> {
    for (const p of this.policies()) await kernel.updatePolicy(p);
  }

  /**
   * Removes policies and SAs (errors for already missing objects are ignored) and wipes keys.
   * Policies in `keep` (shared with a Child SA that replaced this one) stay.
   */
  async destroy(kernel: Kernel, keep: readonly PolicyParams[] = []): Promise<void> {
    if (this.state === 'destroyed') return;
    const ctx = this.installed;
    this.keys?.destroy();
    // peerRekey stays: a rekey of ours still in flight needs it for the nonce rule (RFC 7296 §2.8.1)
    // when the peer deleted this SA before our response arrived.
    this.successor = undefined;
    this.setState('destroyed');
    if (ctx) {
      await removeChildPolicies(kernel, this.#policiesAt(ctx), keep);
      const spiOut = this.outboundPending ? 0 : this.spiOut; // a deferred outbound SA was never added
      this.outboundPending = false;
      await uninstallChildSas(kernel, { spiIn: this.spiIn, spiOut, protocol: this.protocol }, ctx);
    } else
      await kernel
        .deleteSa({ ...this.#larval, spi: this.spiIn, proto: this.protocol })
        .catch(() => undefined);
  }

  describe(): string {
    const l = this.localTs.map(formatTs).join(',');
    const r = this.remoteTs.map(formatTs).join(',');
    const spi = (n: number) => n.toString(16).padStart(8, '0');
    const proto = this.protocol === 'ah' ? ' AH' : '';
    return `${this.name}{${this.id}} ${this.mode}${proto} SPIs ${spi(this.spiIn)}_i ${spi(this.spiOut)}_o ${l} === ${r}`;
  }
}
