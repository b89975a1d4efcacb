// The spec of the `ha:` section (an active/standby pair, src/ha/, docs/ha.md); built by ha.ts.
import { duration, type ObjectSpec } from './spec-types.ts';
import { secretRef } from './spec-connection.ts';

export const HA_SPEC: ObjectSpec = {
  kind: 'object',
  description:
    'Active/standby pair (docs/ha.md): IKE and Child SA state is synced to the other node over an encrypted ' +
    'channel; keepalived moves the shared address and runs `ikeway ha promote|demote`. Absent: no HA.',
  fields: {
    'node-id': {
      kind: 'int',
      min: 1,
      max: 0xffffffff,
      required: true,
      description: 'This node (1 and 2, say); the two nodes must differ.',
    },
    priority: {
      kind: 'int',
      min: 1,
      max: 255,
      default: 100,
      description:
        'Split brain (both active): the lower priority demotes itself; on a tie, the higher node-id.',
    },
    role: {
      kind: 'enum',
      values: ['standby', 'active'],
      default: 'standby',
      description: 'Role at start, until keepalived says otherwise (a standby starts no connection).',
    },
    local: { kind: 'address', required: true, description: 'Our address on the sync link.' },
    peer: { kind: 'address', required: true, description: 'The other node on the sync link.' },
    port: { kind: 'int', min: 1, max: 65535, default: 4510, description: 'UDP port of the sync channel.' },
    'sync-key': {
      ...secretRef,
      required: true,
      description:
        'Shared key of the two nodes (at least 16 bytes); the channel key is HKDF-SHA256 of it. ' +
        'A node with another key is refused.',
    },
    heartbeat: { ...duration('Hello to the other node this often.', 100), default: '1s' },
    'seq-report': {
      ...duration('Read and send the outbound ESP sequence numbers this often.', 100),
      default: '1s',
    },
    'max-packet-rate': {
      kind: 'int',
      min: 1,
      max: 100_000_000,
      default: 1_000_000,
      description:
        'Packets per second one outbound SA can carry at most: sizes the sequence-number jump at takeover.',
    },
  },
};
