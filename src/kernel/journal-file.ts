// The ownership journals' file format (ownership.ts for SAs and policies, link-ownership.ts for
// interfaces and routes): `{ version: 1, objects: [...] }`, written atomically with mode 600, so a
// crash between two writes leaves the previous record whole.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { KernelError } from './errors.ts';

/** The objects a previous run recorded; none when there is no file. A damaged file is an error. */
export function readJournal<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const j = JSON.parse(text) as { objects?: T[] };
    return Array.isArray(j.objects) ? j.objects : [];
  } catch {
    throw KernelError.invalid('ownership', file, 'record file is not valid JSON');
  }
}

/** Replaces the record with `objects` (write to a temporary file, then rename over it). */
export function writeJournal(file: string, objects: readonly unknown[]): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ version: 1, objects }, null, 1), { mode: 0o600 });
  renameSync(tmp, file);
}
