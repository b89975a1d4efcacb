// The policy format as data: one tree that drives the validator (walk.ts), the defaults, and the
// JSON Schema (json-schema.ts), so the three cannot drift apart. Keys are the YAML spelling
// (kebab-case); the walker hands the builder camelCase. Defaults are written as a user would write
// them in YAML and go through the same parser as user input.

import { duration, path, type ObjectSpec } from './spec-types.ts';
import { connection } from './spec-connection.ts';
import { HA_SPEC } from './spec-ha.ts';

export type * from './spec-types.ts';
export { HOOK_EVENTS } from './spec-connection.ts';

const metrics: ObjectSpec = {
  kind: 'object',
  description:
    'Prometheus /metrics over HTTP (text exposition format). Off by default; true listens on 127.0.0.1:9814. ' +
    'The page names connections, peers and SPIs: keep it on loopback or a management network.',
  fields: {
    address: {
      kind: 'address',
      default: '127.0.0.1',
      description: 'Address the HTTP listener binds (loopback suggested).',
    },
    port: { kind: 'int', min: 1, max: 65535, default: 9814, description: 'TCP port of the listener.' },
  },
};

export const CONFIG_SPEC: ObjectSpec = {
  kind: 'object',
  description: 'ikeway policy file',
  fields: {
    local: {
      kind: 'object',
      required: true,
      description: 'This gateway.',
      fields: {
        address: { kind: 'address', required: true, description: 'Our WAN address (IKE binds here).' },
        addresses: {
          kind: 'list',
          items: { kind: 'address', description: 'IPv4 or IPv6 address' },
          description:
            'More WAN addresses (a dual-WAN router): IKE listens on each as well. A connection uses ' +
            'local.address unless its local-address names another; a remote: any connection without ' +
            'local-address answers on every address of its family, from the address the request came to.',
        },
      },
    },
    connections: {
      kind: 'map',
      required: true,
      keyPattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$',
      keyHint: 'letters, digits, "-", "_" and "." (at most 63, starting with a letter or digit)',
      values: connection,
      minEntries: 1,
      description: 'Connections by name.',
    },
    log: {
      kind: 'object',
      defaultEmpty: true,
      description: 'Logging.',
      fields: {
        level: {
          kind: 'enum',
          values: ['error', 'warn', 'info', 'debug', 'trace'],
          default: 'info',
          description: 'Least severe level logged.',
        },
        format: {
          kind: 'enum',
          values: ['text', 'json'],
          default: 'text',
          description: 'text for people, json for collectors.',
        },
      },
    },
    'control-socket': { ...path('Unix socket the CLI talks to.'), default: '/run/ikeway/ikeway.sock' },
    'state-dir': { ...path('Directory for runtime state.'), default: '/var/lib/ikeway' },
    ports: {
      kind: 'object',
      defaultEmpty: true,
      description: 'UDP ports (RFC 7296 §2.23).',
      fields: {
        ike: { kind: 'int', min: 1, max: 65535, default: 500, description: 'IKE port.' },
        'nat-t': { kind: 'int', min: 1, max: 65535, default: 4500, description: 'NAT traversal port.' },
      },
    },
    'cookie-threshold': {
      kind: 'int',
      min: 0,
      max: 1_000_000,
      default: 30,
      description: 'Half-open IKE SAs before responders demand cookies (RFC 7296 §2.6); 0 = always.',
    },
    limits: {
      kind: 'object',
      defaultEmpty: true,
      description: 'Resource limits against floods.',
      fields: {
        'half-open': {
          kind: 'int',
          min: 1,
          max: 1_000_000,
          default: 1000,
          description: 'Half-open IKE SAs in total.',
        },
        'ike-sas-per-peer': {
          kind: 'int',
          min: 1,
          max: 1000,
          default: 8,
          description: 'IKE SAs per peer address.',
        },
        'half-open-per-source': {
          kind: 'int',
          min: 1,
          max: 1_000_000,
          default: 5,
          description: 'Half-open IKE SAs one source address may hold; checked before any DH.',
        },
        'half-open-reserved': {
          kind: 'int',
          min: 0,
          max: 1_000_000,
          default: 64,
          description:
            'Of half-open, room only for peers a connection names by address (at most half of it).',
        },
        puzzles: {
          kind: 'object',
          defaultEmpty: true,
          description: 'RFC 8019 client puzzles on top of cookies, switched on by the request rate.',
          fields: {
            enabled: { kind: 'bool', default: false, description: 'Pose puzzles under load.' },
            above: {
              kind: 'int',
              min: 1,
              max: 10_000_000,
              default: 1000,
              description: 'New IKE_SA_INIT requests per second that switch puzzles on.',
            },
            difficulty: {
              kind: 'int',
              min: 1,
              max: 32,
              default: 8,
              description: 'Zero bits asked at that rate; one more each time the rate doubles.',
            },
            'max-difficulty': { kind: 'int', min: 1, max: 32, default: 16, description: 'The most asked.' },
          },
        },
      },
    },
    metrics: {
      kind: 'toggle',
      object: metrics,
      default: false,
      description: metrics.description,
    },
    'debug-keys': path(
      'DEBUG ONLY: write every IKE and ESP SA key to this file (mode 600, Wireshark ikev2_decryption_table ' +
        'and esp_sa format) so a capture can be decrypted. Anyone who reads it can decrypt the traffic. Off when absent.',
    ),
    ha: HA_SPEC,
    retransmit: {
      kind: 'object',
      defaultEmpty: true,
      description: 'Request retransmission (RFC 7296 §2.1): timeout * base^n for n < tries.',
      fields: {
        timeout: { ...duration('First retransmission after this long.', 100), default: '4s' },
        tries: { kind: 'int', min: 1, max: 20, default: 5, description: 'Retransmissions before giving up.' },
        base: { kind: 'number', min: 1, max: 4, default: 1.8, description: 'Backoff factor.' },
      },
    },
  },
};
