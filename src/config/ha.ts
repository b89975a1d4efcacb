// The `ha:` section: this node of an active/standby pair (src/ha/, docs/ha.md), built from the walked
// tree with the cross-field checks (its spec: spec-ha.ts).
import { loadSecret, type Env } from './creds.ts';
import type { HaConfig } from './types.ts';
import type { IpAddress } from './values.ts';
import type { Raw, Reporter } from './walk.ts';

const MIN_SYNC_KEY = 16;

/** The built section, or undefined (absent, or a problem reported at its key). */
export function buildHa(
  r: Reporter,
  raw: Raw | undefined,
  env: Env,
  ports: { ike?: number; natT?: number } | undefined,
): HaConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const local = raw.local as IpAddress | undefined;
  const peer = raw.peer as IpAddress | undefined;
  if (local && peer && local.address === peer.address)
    r.add(
      'E_CONFLICT',
      r.at('ha.peer'),
      'ha.peer',
      `peer is our own sync address ${local.address}`,
      'name the other node',
    );
  if (local && peer && local.family !== peer.family)
    r.add('E_CONFLICT', r.at('ha.peer'), 'ha.peer', 'local and peer are of different address families', '');
  const port = raw.port as number | undefined;
  if (port !== undefined && (port === ports?.ike || port === ports?.natT))
    r.add(
      'E_CONFLICT',
      r.at('ha.port'),
      'ha.port',
      `${port} is also an IKE port`,
      'use another port, e.g. 4510',
    );
  const key = raw.syncKey === undefined ? undefined : loadSecret(r, raw.syncKey as Raw, 'ha.sync-key', env);
  if (key && key.length < MIN_SYNC_KEY) {
    r.add(
      'E_SECRET',
      r.at('ha.sync-key'),
      'ha.sync-key',
      `the sync key is ${key.length} bytes; at least ${MIN_SYNC_KEY} are needed`,
      'e.g. openssl rand -base64 32 > /etc/ikeway/ha.key; chmod 600 it',
    );
    return undefined;
  }
  if (!local || !peer || !key || port === undefined) return undefined;
  return {
    nodeId: raw.nodeId as number,
    priority: raw.priority as number,
    role: raw.role as 'active' | 'standby',
    local,
    peer,
    port,
    syncKey: key,
    heartbeatMs: raw.heartbeat as number,
    seqReportMs: raw.seqReport as number,
    maxPacketRate: raw.maxPacketRate as number,
  };
}
