// Ownership of kernel objects: the daemon removes exactly the SAs and policies it installed, never
// flushes others' (strongSwan's or an admin's), and on start removes what its own previous run left
// behind. OwnedKernel wraps any Kernel and keeps a write-ahead record under the state directory:
// an object is recorded *before* it is added (a crash between the two leaves a record of a missing
// object, which reconcile() skips as not found) and forgotten after it is deleted.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppendJournal } from './append-journal.ts';
import { KernelError } from './errors.ts';
import type {
  AllocSpiParams,
  IpProto,
  Kernel,
  KernelEvent,
  KernelOp,
  PolicyId,
  PolicyInfo,
  PolicyParams,
  SaId,
  SaInfo,
  SaParams,
} from './types.ts';

export type OwnedObject = { kind: 'sa'; id: SaId } | { kind: 'policy'; id: PolicyId };

const RECORD = 'kernel-objects';

export function ownedObjectKey(o: OwnedObject): string {
  if (o.kind === 'sa')
    return `sa|${o.id.dst}|${o.id.spi}|${o.id.proto}|${o.id.mark?.value ?? 0}/${o.id.mark?.mask ?? 0}`;
  const s = o.id.selector;
  return `pol|${o.id.dir}|${s.src}|${s.dst}|${s.proto ?? 0}|${s.sport ?? 0}|${s.dport ?? 0}|${o.id.mark?.value ?? 0}/${o.id.mark?.mask ?? 0}|${o.id.ifId ?? 0}`;
}
const saObj = (p: SaId): OwnedObject => ({
  kind: 'sa',
  id: { dst: p.dst, spi: p.spi, proto: p.proto, ...(p.mark ? { mark: p.mark } : {}) },
});
const polObj = (p: PolicyId): OwnedObject => ({
  kind: 'policy',
  id: {
    selector: p.selector,
    dir: p.dir,
    ...(p.mark ? { mark: p.mark } : {}),
    ...(p.ifId !== undefined ? { ifId: p.ifId } : {}),
  },
});

export class OwnedKernel implements Kernel {
  private readonly owned = new Map<string, OwnedObject>();
  private readonly journal: AppendJournal<OwnedObject>;
  /** What the previous run left in the record (consumed by reconcile()). */
  private leftovers: OwnedObject[];

  /** `stateDir` is created if missing; the record file inside it is private to this daemon. */
  constructor(
    readonly inner: Kernel,
    stateDir: string,
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.journal = new AppendJournal(join(stateDir, RECORD), ownedObjectKey);
    this.leftovers = this.journal.load();
  }

  /** Records an object before it is added (write-ahead). */
  private record(o: OwnedObject): void {
    this.journal.add(o);
  }

  /** Forgets an object (unless an unreconciled leftover has the same identity). */
  private forget(k: string): void {
    if (!this.leftovers.some((o) => ownedObjectKey(o) === k)) this.journal.remove(k);
  }

  /** Objects this run installed and has not removed. */
  list(): OwnedObject[] {
    return [...this.owned.values()];
  }

  /**
   * Deletes what the previous run recorded and did not remove; returns what was actually removed.
   * Objects this run has already re-installed (same identity, e.g. the daemon's fail-closed policies
   * replaced in place at start) are now owned by this run and are kept.
   */
  async reconcile(): Promise<OwnedObject[]> {
    const removed: OwnedObject[] = [];
    for (const o of this.leftovers) {
      if (this.owned.has(ownedObjectKey(o))) continue;
      if (await this.remove(o)) removed.push(o);
    }
    this.leftovers = [];
    this.journal.reset(this.owned.values());
    return removed;
  }

  /** Clean shutdown: removes every object this run owns (and any unreconciled leftovers). */
  async removeAll(): Promise<number> {
    let n = 0;
    for (const o of [...this.leftovers, ...this.owned.values()].reverse()) if (await this.remove(o)) n++;
    this.leftovers = [];
    this.owned.clear();
    this.journal.reset([]);
    return n;
  }

  /** Deletes one object; false if it was already gone. */
  private async remove(o: OwnedObject): Promise<boolean> {
    try {
      if (o.kind === 'sa') await this.inner.deleteSa(o.id);
      else await this.inner.deletePolicy(o.id);
      return true;
    } catch (e) {
      if (e instanceof KernelError && e.isNotFound) return false;
      throw e;
    }
  }

  /** Write-ahead: record, run, and forget again if the kernel refused (not ours then). */
  private async adding(o: OwnedObject, run: () => Promise<void>): Promise<void> {
    const k = ownedObjectKey(o);
    const had = this.owned.has(k);
    this.owned.set(k, o);
    if (!had) this.record(o);
    try {
      await run();
    } catch (e) {
      if (!had) {
        this.owned.delete(k);
        this.forget(k);
      }
      throw e;
    }
  }
  private async deleting(o: OwnedObject, run: () => Promise<void>): Promise<void> {
    await run();
    const k = ownedObjectKey(o);
    if (this.owned.delete(k)) this.forget(k);
  }

  async allocSpi(p: AllocSpiParams): Promise<number> {
    const spi = await this.inner.allocSpi(p);
    const o = saObj({ dst: p.dst, spi, proto: p.proto, ...(p.mark ? { mark: p.mark } : {}) });
    this.owned.set(ownedObjectKey(o), o);
    this.record(o);
    return spi;
  }
  addSa(p: SaParams): Promise<void> {
    return this.adding(saObj(p), () => this.inner.addSa(p));
  }
  updateSa(p: SaParams): Promise<void> {
    return this.adding(saObj(p), () => this.inner.updateSa(p));
  }
  getSa(id: SaId): Promise<SaInfo> {
    return this.inner.getSa(id);
  }
  deleteSa(id: SaId): Promise<void> {
    return this.deleting(saObj(id), () => this.inner.deleteSa(id));
  }
  dumpSas(): Promise<SaInfo[]> {
    return this.inner.dumpSas();
  }
  /** Removes only the owned SAs (of `proto`), never the kernel's whole table. */
  async flushSas(proto?: IpProto): Promise<void> {
    for (const o of this.list())
      if (o.kind === 'sa' && (!proto || o.id.proto === proto)) await this.deleteSa(o.id);
  }
  addPolicy(p: PolicyParams): Promise<void> {
    return this.adding(polObj(p), () => this.inner.addPolicy(p));
  }
  updatePolicy(p: PolicyParams): Promise<void> {
    return this.adding(polObj(p), () => this.inner.updatePolicy(p));
  }
  getPolicy(id: PolicyId): Promise<PolicyInfo> {
    return this.inner.getPolicy(id);
  }
  deletePolicy(id: PolicyId): Promise<void> {
    return this.deleting(polObj(id), () => this.inner.deletePolicy(id));
  }
  dumpPolicies(): Promise<PolicyInfo[]> {
    return this.inner.dumpPolicies();
  }
  /** Removes only the owned policies. */
  async flushPolicies(): Promise<void> {
    for (const o of this.list()) if (o.kind === 'policy') await this.deletePolicy(o.id);
  }

  async batch(ops: readonly KernelOp[]): Promise<(KernelError | null)[]> {
    const objOf = (op: KernelOp): OwnedObject =>
      op.op === 'addSa' || op.op === 'updateSa'
        ? saObj(op.sa)
        : op.op === 'deleteSa'
          ? saObj(op.id)
          : op.op === 'deletePolicy'
            ? polObj(op.id)
            : polObj(op.policy);
    // Each op's object and key once (the keys are the journal's and the owned map's identity).
    const objs = ops.map(objOf);
    const keys = objs.map(ownedObjectKey);
    const fresh = new Set<string>();
    ops.forEach((op, i) => {
      if (op.op.startsWith('delete')) return;
      const k = keys[i]!;
      if (!this.owned.has(k)) {
        fresh.add(k);
        this.record(objs[i]!);
      }
      this.owned.set(k, objs[i]!);
    });
    const res = await this.inner.batch(ops);
    ops.forEach((op, i) => {
      const k = keys[i]!;
      const gone = op.op.startsWith('delete') ? !res[i] || res[i]?.isNotFound : res[i] && fresh.has(k);
      if (gone && this.owned.delete(k)) this.forget(k);
    });
    return res;
  }

  onEvent(listener: (e: KernelEvent) => void): () => void {
    return this.inner.onEvent(listener);
  }
  close(): Promise<void> {
    this.journal.close();
    return this.inner.close();
  }
}
