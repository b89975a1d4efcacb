// One line about the tunnels for systemd's STATUS= (and anything else that wants a glance): cheap,
// from the engine's memory only, no kernel calls (it runs on every watchdog tick).
import type { IkeSa } from '../ike/ike-sa.ts';

export interface SummaryInput {
  readonly connections: readonly string[];
  readonly sasOf: (name: string) => readonly IkeSa[];
  readonly debugKeys?: boolean;
}

export function summaryLine(inp: SummaryInput): string {
  let up = 0;
  let ike = 0;
  let child = 0;
  for (const name of inp.connections) {
    let connUp = false;
    for (const sa of inp.sasOf(name)) {
      if (sa.state !== 'established') continue;
      ike++;
      for (const c of sa.children)
        if (c.state === 'installed' || c.state === 'rekeying') {
          child++;
          connUp = true;
        }
    }
    if (connUp) up++;
  }
  const keys = inp.debugKeys ? '; DEBUG-KEYS ON: SA keys are written to disk' : '';
  return `${up}/${inp.connections.length} connections up, ${ike} IKE SAs, ${child} Child SAs${keys}`;
}
