// The SA and policy ownership record (ownership.ts) as an append-only log, so that recording one
// object costs one short write however many are owned (rewriting the whole record per object made a
// busy gateway's setup quadratic). File `<name>.jsonl`: a header line `{"version":2}`, then one line
// per change, `{"add":OBJECT}` or `{"del":KEY}`. A line is written before the kernel call it
// records (write-ahead). When the log holds many more lines than live objects it is compacted: the
// live set is written to a temporary file that is renamed over the log (a crash leaves either one
// whole). A torn last line (a crash in the middle of a write) is ignored: the kernel call it would
// have recorded never ran. The older whole-file record (`<name>.json`, journal-file.ts) of a
// previous version is read once and replaced.
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { KernelError } from './errors.ts';
import { readJournal } from './journal-file.ts';

/** Compaction when the log has this many lines more than twice the live objects. */
const SLACK = 4096;

export class AppendJournal<T> {
  private fd: number | undefined;
  private lines = 0;
  private readonly live = new Map<string, T>();

  /** `base` is the path without extension; the log is `${base}.jsonl`. */
  constructor(
    private readonly base: string,
    private readonly keyOf: (o: T) => string,
  ) {}

  private get file(): string {
    return `${this.base}.jsonl`;
  }

  /** What the log (or an older record) holds; call once, before any add or remove. */
  load(): T[] {
    const legacy = `${this.base}.json`;
    if (!existsSync(this.file) && existsSync(legacy)) {
      for (const o of readJournal<T>(legacy)) this.live.set(this.keyOf(o), o);
      this.compact();
      rmSync(legacy, { force: true });
      return [...this.live.values()];
    }
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      // No record yet: start one (below).
    }
    const rows = text.split('\n');
    if (rows[0] !== '' && rows[0] !== '{"version":2}')
      throw KernelError.invalid('ownership', this.file, 'record has an unknown header');
    rows.forEach((line, i) => {
      if (line === '' || i === 0) return;
      let r: { add?: T; del?: string };
      try {
        r = JSON.parse(line) as { add?: T; del?: string };
      } catch {
        // Only the last line can be torn (no newline after it): its kernel call never ran.
        if (i === rows.length - 1) return;
        throw KernelError.invalid('ownership', this.file, `record line ${i + 1} is not valid JSON`);
      }
      if (r.add !== undefined) this.live.set(this.keyOf(r.add), r.add);
      else if (typeof r.del === 'string') this.live.delete(r.del);
    });
    this.compact();
    return [...this.live.values()];
  }

  add(o: T): void {
    this.live.set(this.keyOf(o), o);
    this.append({ add: o });
  }

  remove(key: string): void {
    if (!this.live.delete(key)) return;
    this.append({ del: key });
  }

  /** Replaces the whole record with `objects`. */
  reset(objects: Iterable<T>): void {
    this.live.clear();
    for (const o of objects) this.live.set(this.keyOf(o), o);
    this.compact();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(r: unknown): void {
    if (this.lines > 2 * this.live.size + SLACK) return this.compact();
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
    this.lines++;
  }

  private compact(): void {
    this.close();
    const tmp = `${this.file}.tmp`;
    const body = ['{"version":2}', ...[...this.live.values()].map((o) => JSON.stringify({ add: o }))];
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${body.join('\n')}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.lines = this.live.size;
  }
}
