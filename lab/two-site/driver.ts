// The contract between a lab run (run.ts) and the thing that brings its tunnel up (static SAs,
// daemon-driver.ts, or nothing): kept apart so the run and the drivers do not import each other.
import type { Lab } from './lab.ts';
import type { SiteName } from './topology.ts';

/** The counters one daemon reports for one installed Child SA (`ikeway status`). */
export interface DaemonCounters {
  readonly router: SiteName;
  readonly spiIn: string;
  readonly spiOut: string;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** How the tunnel comes up: the daemon, static `ip xfrm` SAs, or nothing (a negative control). */
export interface TunnelDriver {
  readonly name: string;
  up(lab: Lab): Promise<void>;
  /** Lines that help explain a failure (e.g. the tail of each daemon's log). */
  diagnostics(): string[];
  /** The counters the daemons report (`ikeway status`), when the driver runs daemons. */
  counters?(): Promise<DaemonCounters[]>;
  down(): void | Promise<void>;
}
