// The one owner of every connection's policies in the kernel (RFC 4301 §4.4.1, the SPD). Per
// connection it computes the policies once from the connection's selectors and keeps them standing:
// - fail-closed trap/block policies (policies.ts) for the configured subnets whenever no Child SA's
//   own policies stand there: installed at start (replacing a killed run's in place), put back by
//   this module itself when a Child SA that stood on them dies, withdrawn on reload only after the
//   new connection's stand, so the subnets are never unprotected;
// - the outbound trap policies of dpdAction 'trap' (and the reqid -> connection map for ACQUIRE);
// - Child SA policies by selectors: when a Child SA goes, another live Child SA with the same
//   selectors (another IKE SA's, RFC 7296 §2.4 INITIAL_CONTACT) gets its policies back.
// A Child SA installs and removes its own policies (the shapes of policies.ts, no other); nothing here
// goes up to the daemon: the engine hands this module every Child SA death (Engine.emit).
import type { Logger } from '../../base/logger.ts';
import { nullLogger } from '../../base/logger.ts';
import type { Kernel, PolicyParams } from '../../kernel/types.ts';
import type { ChildSa } from '../child-sa.ts';
import type { IkeSa } from '../ike-sa.ts';
import {
  failClosedPolicies,
  policyKey,
  removePolicies,
  trapPolicies,
  writePolicies,
  type ConnectionPolicyView,
} from './policies.ts';

/** What the policy owner needs of the engine: its IKE SAs and their serial order. */
export interface SpdHost {
  sas(): readonly IkeSa[];
  sasOf(name: string): readonly IkeSa[];
  run(sa: IkeSa, fn: () => Promise<void>): void;
}

export type SpdConnection = ConnectionPolicyView & { readonly name: string };

const NO_SAS: SpdHost = { sas: () => [], sasOf: () => [], run: () => undefined };
/** A Child SA whose own policies stand in the kernel: installed and not gone, in any state (rekeyed too). */
const holding = (c: ChildSa) => c.policies().length > 0;
/** A Child SA's selectors as one string (policies are keyed by them); fixed once it is installed. */
const SELECTOR_KEYS = new WeakMap<ChildSa, string>();
const selectorKey = (c: ChildSa): string => {
  let k = SELECTOR_KEYS.get(c);
  if (k === undefined) {
    k = JSON.stringify([c.localTs, c.remoteTs], (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    SELECTOR_KEYS.set(c, k);
  }
  return k;
};

export class Spd {
  readonly kernel: Kernel;
  readonly #log: Logger;
  #host: SpdHost = NO_SAS;
  /** Fail-closed policies of each current connection. */
  readonly #failClosed = new Map<string, readonly PolicyParams[]>();
  /** Fail-closed policies of connections a reload removed or changed, until sweep(). */
  #retired: PolicyParams[] = [];
  /** reqid of installed trap policies -> connection name and child (ACQUIRE lookup). */
  readonly #traps = new Map<number, { readonly conn: string; readonly child: string | undefined }>();
  /**
   * Installed Child SAs by selectors, with the IKE SA they were installed on (#handBack): a Child SA's
   * death looks at its own selectors' few, not at every Child SA of the gateway (a rekey storm on a
   * hub made that quadratic: 10 ms per rekey at 2,000 tunnels).
   */
  readonly #bySelectors = new Map<string, Map<ChildSa, IkeSa>>();
  #closed = false;

  constructor(kernel: Kernel, logger: Logger = nullLogger) {
    this.kernel = kernel;
    this.#log = logger;
  }

  /** The engine whose Child SAs hold the connections' selectors (Engine's constructor). */
  attach(host: SpdHost): void {
    this.#host = host;
  }

  /** No more restores: the engine is closing (its SAs and then all our policies go). */
  close(): void {
    this.#closed = true;
  }

  // ---- fail-closed ----

  /**
   * Installs (or replaces in place) a connection's fail-closed policies and keeps them as its own.
   * `remote: any` with no remote subnets has none: pass `failClosed: false` then.
   */
  async protect(conn: SpdConnection, failClosed = true): Promise<void> {
    const pols = failClosed ? failClosedPolicies(conn) : [];
    await writePolicies(this.kernel, pols);
    this.#failClosed.set(conn.name, pols);
  }

  /** How many fail-closed policies a connection has (status). */
  failClosedCount(name: string): number {
    return this.#failClosed.get(name)?.length ?? 0;
  }

  /** A current connection's fail-closed policies (`explain` names their owner, `plan` diffs them). */
  failClosedOf(name: string): readonly PolicyParams[] {
    return this.#failClosed.get(name) ?? [];
  }

  /**
   * Reload, before a connection's SAs are deleted: it is no longer current, so its Child SAs' deaths
   * restore nothing. Returns the policies for hold() once they are gone.
   */
  detach(name: string): readonly PolicyParams[] {
    const pols = this.#failClosed.get(name) ?? [];
    this.#failClosed.delete(name);
    return pols;
  }

  /** Its Child SAs took their policies with them: the old ones stand again until sweep(). */
  async hold(pols: readonly PolicyParams[]): Promise<void> {
    await writePolicies(this.kernel, pols);
    this.#retired.push(...pols);
  }

  /** Removes held policies no current connection claims (same identity = replaced in place). */
  async sweep(): Promise<void> {
    const live = new Set([...this.#failClosed.values()].flatMap((ps) => ps.map(policyKey)));
    const gone = this.#retired.filter((p) => !live.has(policyKey(p)));
    this.#retired = [];
    await removePolicies(this.kernel, gone);
  }

  // ---- dpdAction trap ----

  /**
   * Outbound trap policies for a connection (or one `child` of it: pass the child's view): its next
   * packet starts it again (kernel ACQUIRE).
   */
  async trap(
    conn: SpdConnection & { readonly remoteAddr: string },
    reqid: number,
    child?: string,
  ): Promise<void> {
    for (const p of trapPolicies(conn, reqid)) await this.kernel.updatePolicy(p);
    this.#traps.set(reqid, { conn: conn.name, child });
  }

  /** The connection whose trap carries `reqid`. */
  trapOwner(reqid: number): string | undefined {
    return this.#traps.get(reqid)?.conn;
  }

  /** The child whose trap carries `reqid`, if the trap was a child's. */
  trapChild(reqid: number): string | undefined {
    return this.#traps.get(reqid)?.child;
  }

  // ---- Child SA lives and deaths ----

  /** A Child SA of `owner` was installed (the engine's 'child-installed'). */
  childInstalled(owner: IkeSa, child: ChildSa): void {
    if (this.#closed) return;
    const k = selectorKey(child);
    let m = this.#bySelectors.get(k);
    if (!m) this.#bySelectors.set(k, (m = new Map()));
    m.set(child, owner);
  }

  /** A Child SA of `owner` was removed with its policies (except those a successor shares). */
  childGone(owner: IkeSa, gone: ChildSa): void {
    if (this.#closed) return;
    this.#handBack(owner, gone);
    const fc = this.#failClosed.get(owner.config.name);
    if (fc && fc.length > 0) this.#restoreFailClosed(owner, gone, fc);
  }

  /**
   * Policies are keyed by selectors, not by SA: a Child SA removed with another IKE SA (a stale one
   * after INITIAL_CONTACT, RFC 7296 §2.4) may have taken the policies a live Child SA with the same
   * selectors relies on. The kernel holds one policy per selector, direction, mark and if_id, so
   * one Child SA that shares the gone one's policies gets them back: the one installed last (as
   * charon hands a shared policy to the next SA using it). Writing every sharer's policies (as
   * before) made a mass delete quadratic: 700 Child SAs with one selector pair took 700 x 3 policy
   * updates per delete, and the guest responder answered a third of their Deletes in 120 s.
   */
  #handBack(from: IkeSa, gone: ChildSa): void {
    const k = selectorKey(gone);
    const same = this.#bySelectors.get(k);
    if (!same) return;
    same.delete(gone);
    for (const [c, at] of same) {
      // Its holder now: an IKE SA rekey (§2.8) or a heir may have taken it from the one it came on.
      const sa = at.children.includes(c) ? at : this.#host.sas().find((x) => x.children.includes(c));
      if (c.state === 'destroyed' || !sa) same.delete(c);
      else if (sa !== at) same.set(c, sa);
    }
    if (same.size === 0) {
      this.#bySelectors.delete(k);
      return;
    }
    const goneKeys = new Set(gone.placedPolicies().map(policyKey));
    const sharers = [...same];
    for (let i = sharers.length - 1; i >= 0; i--) {
      const [c, sa] = sharers[i]!;
      if (sa === from || sa.state === 'destroyed' || c.state !== 'installed') continue;
      if (!c.policies().some((p) => goneKeys.has(policyKey(p)))) continue; // another mark or if_id
      this.#host.run(sa, () => c.refreshPolicies(this.kernel).catch(() => undefined));
      return;
    }
  }

  /**
   * Fail-closed policies back where the gone Child SA stood, but not over a policy another live
   * Child SA of the connection holds (a rekey's successor, or the new SA after INITIAL_CONTACT
   * removed a stale one, RFC 7296 §2.4): updatePolicy would replace that one with the trap
   * (priority 2000), or with a discard policy for remote: any. Found by test/robust/failure.test.ts.
   */
  #restoreFailClosed(owner: IkeSa, gone: ChildSa, fc: readonly PolicyParams[]): void {
    const name = owner.config.name;
    // Only policies the gone Child SA stood on can be missing now (its policies had replaced them).
    const goneKeys = new Set(gone.placedPolicies().map(policyKey));
    const candidates = fc.filter((p) => goneKeys.has(policyKey(p)));
    if (candidates.length === 0) return;
    const isLive = (c: ChildSa) => c !== gone && holding(c);
    // Missing unless a live Child SA holds its place; stop looking once all are held. The gone
    // Child SA's own IKE SA first: a rekey's successor stands there.
    const want = new Set(candidates.map(policyKey));
    for (const sa of [owner, ...this.#host.sasOf(name)]) {
      for (const c of sa.children)
        if (want.size > 0 && isLive(c)) for (const p of c.policies()) want.delete(policyKey(p));
      if (want.size === 0) break;
    }
    const missing = candidates.filter((p) => want.has(policyKey(p)));
    if (missing.length === 0) return;
    const written = new Set(missing.map(policyKey));
    writePolicies(this.kernel, missing)
      .then(async () => {
        // A Child SA installed while these were on their way (INITIAL_CONTACT removes the stale SA
        // inside the exchange that installs the new one): its own policies must win.
        for (const sa of this.#host.sasOf(name))
          for (const c of sa.children)
            if (isLive(c) && c.policies().some((p) => written.has(policyKey(p))))
              await c.refreshPolicies(this.kernel);
      })
      .catch((err: unknown) =>
        this.#log.log('error', 'cannot restore fail-closed policies', {
          component: 'daemon',
          sa: owner.name,
          error: String(err),
        }),
      );
  }
}
