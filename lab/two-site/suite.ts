// One example brought up in the lab end to end: render and secret it in a private temp directory,
// build the topology, bring the tunnel up with the chosen driver, check, tear down, clean up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonDriver } from './daemon-driver.ts';
import { prepareExample } from './examples.ts';
import type { TunnelDriver } from './driver.ts';
import { noTunnel, runLab, staticDriver, type LabReport } from './run.ts';
import type { Netem, Topology } from './topology.ts';

/** daemon: two ikeway daemons negotiate; static: ip xfrm SAs without IKE; none: the negative control. */
export type DriverKind = 'daemon' | 'static' | 'none';

export interface ExampleRunOptions {
  readonly driver?: DriverKind;
  readonly netem?: Netem;
  readonly pings?: number;
  readonly log?: (line: string) => void;
  /** Called with the topology once the example is prepared, before anything is built. */
  readonly onTopology?: (t: Topology) => void;
}

export interface ExampleReport extends LabReport {
  readonly example: string;
  readonly driverKind: DriverKind;
}

export async function runExample(example: string, o: ExampleRunOptions = {}): Promise<ExampleReport> {
  const kind = o.driver ?? 'daemon';
  const dir = mkdtempSync(join(tmpdir(), 'ikw-lab-'));
  try {
    const ex = prepareExample(example, dir, o.netem ? { netem: o.netem } : {});
    o.onTopology?.(ex.topology);
    const driver: TunnelDriver =
      kind === 'daemon' ? daemonDriver(ex) : kind === 'static' ? staticDriver(ex.tunnel) : noTunnel;
    const report = await runLab({
      topology: ex.topology,
      driver,
      ...(o.pings !== undefined && { pings: o.pings }),
      ...(o.log && { log: o.log }),
    });
    return { ...report, example, driverKind: kind };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
