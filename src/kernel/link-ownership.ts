// Ownership of the links and routes of route-based tunnels, kept like OwnedKernel keeps SAs and
// policies (ownership.ts): a write-ahead record under the state directory. A link or route is
// recorded *before* it is created (a crash between the two leaves a record of a missing object,
// which reconcile skips as not found) and forgotten after it is deleted. A daemon killed outright
// leaves its interfaces, routes and policies in place (traffic into them is dropped, never sent in
// clear); the next start re-claims the interfaces it still configures and removes the rest.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJournal, writeJournal } from './journal-file.ts';

export type OwnedLinkObject =
  | { readonly kind: 'link'; readonly name: string; readonly ifId: number }
  | {
      readonly kind: 'route';
      readonly dst: string;
      readonly dev: string;
      readonly table: number;
      readonly metric: number;
    };

const RECORD = 'kernel-links.json';

export function linkObjectKey(o: OwnedLinkObject): string {
  return o.kind === 'link' ? `link|${o.name}` : `route|${o.dst}|${o.dev}|${o.table}|${o.metric}`;
}

export class LinkJournal {
  private readonly file: string;
  private readonly owned = new Map<string, OwnedLinkObject>();
  /** What the previous run recorded and this run has not re-claimed or removed. */
  private left: Map<string, OwnedLinkObject>;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = join(stateDir, RECORD);
    this.left = new Map(this.load().map((o) => [linkObjectKey(o), o]));
  }

  private load(): OwnedLinkObject[] {
    return readJournal<OwnedLinkObject>(this.file);
  }

  private save(): void {
    writeJournal(this.file, [...this.left.values(), ...this.owned.values()]);
  }

  /** True if this run or the previous one created the link of that name. */
  ownsLink(name: string): boolean {
    const k = `link|${name}`;
    return this.owned.has(k) || this.left.has(k);
  }

  /** Takes a previous run's object over as this run's (it stays in the kernel). */
  claim(o: OwnedLinkObject): void {
    const k = linkObjectKey(o);
    this.left.delete(k);
    this.owned.set(k, o);
    this.save();
  }

  /** Records before creating; call forget() if the creation failed. */
  record(o: OwnedLinkObject): void {
    this.owned.set(linkObjectKey(o), o);
    this.save();
  }

  forget(o: OwnedLinkObject): void {
    const k = linkObjectKey(o);
    if (this.owned.delete(k) || this.left.delete(k)) this.save();
  }

  /** The previous run's objects not re-claimed, routes first (they hang on the links). */
  leftovers(): OwnedLinkObject[] {
    return [...this.left.values()].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'route' ? -1 : 1));
  }

  /** This run's objects, routes first. */
  list(): OwnedLinkObject[] {
    return [...this.owned.values()].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'route' ? -1 : 1));
  }
}
