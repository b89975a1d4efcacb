// The smallest Connection and daemon facts that src/daemon/status.ts needs to build a snapshot, for
// tests that drive buildStatus/Metrics over in-memory engines (only the fields status reads).
import type { Connection } from '../../src/config/index.ts';

export function statusConnection(
  local: string | undefined,
  remote: string | undefined,
  extra: Record<string, unknown> = {},
): Connection {
  return {
    name: 'site',
    localAddress: { address: local },
    remote: { address: remote },
    mode: 'tunnel',
    start: 'now',
    localSubnets: [],
    remoteSubnets: [],
    ikeProposals: [],
    espProposals: [],
    auth: { kind: 'psk' },
    ...extra,
  } as unknown as Connection;
}

export const STATUS_DAEMON = {
  version: 't',
  pid: 1,
  uptimeSeconds: 0,
  config: 'x',
  kernel: 'memory',
  socket: 's',
  ports: { ike: 500, natT: 4500 },
} as const;
