// The policy format as data: one tree that drives the validator (walk.ts), the defaults, and the
// JSON Schema (json-schema.ts), so the three cannot drift apart. Keys are the YAML spelling
// (kebab-case); the walker hands the builder camelCase. Defaults are written as a user would write
// them in YAML and go through the same parser as user input.

import type { ConfigErrorCode } from './errors.ts';

interface Base {
  readonly description: string;
}
export interface ObjectSpec extends Base {
  readonly kind: 'object';
  readonly fields: Readonly<Record<string, Field>>;
  /** Exactly one of these keys must be present (a tagged choice such as psk | cert). */
  readonly exactlyOne?: readonly string[];
  /** The problem to report when a plain value stands where this map belongs. */
  readonly scalarError?: { readonly code: ConfigErrorCode; readonly message: string; readonly hint: string };
}
export interface MapSpec extends Base {
  readonly kind: 'map';
  /** Regex source for the names (JSON Schema patternProperties). */
  readonly keyPattern: string;
  readonly keyHint: string;
  readonly values: Spec;
  readonly minEntries: number;
}
export interface ListSpec extends Base {
  readonly kind: 'list';
  readonly items: Spec;
  /** A single item may be written without brackets. */
  readonly single?: boolean;
  readonly minItems?: number;
}
export interface ToggleSpec extends Base {
  /** `false` switches the feature off, `true` or a map switches it on (map fields override defaults). */
  readonly kind: 'toggle';
  readonly object: ObjectSpec;
}
export type LeafSpec = Base &
  (
    | { readonly kind: 'string'; readonly pattern?: string }
    | { readonly kind: 'path' }
    | { readonly kind: 'enum'; readonly values: readonly string[] }
    | { readonly kind: 'bool' }
    | { readonly kind: 'int'; readonly min: number; readonly max: number }
    | { readonly kind: 'number'; readonly min: number; readonly max: number }
    | { readonly kind: 'duration'; readonly minMs: number }
    | { readonly kind: 'bytes' }
    | { readonly kind: 'address'; readonly allowAny?: boolean; readonly allowName?: boolean }
    | { readonly kind: 'prefix' }
    /** An address with its prefix length, host bits allowed (169.254.10.1/30). */
    | { readonly kind: 'ifaddr' }
    /** A routing table: main, a number, or a name from /etc/iproute2/rt_tables. */
    | { readonly kind: 'route-table' }
    | { readonly kind: 'identity' }
    | { readonly kind: 'mark' }
    | { readonly kind: 'proposal'; readonly for: 'ike' | 'esp' | 'ah' }
    /** RFC 4303 §2.7 TFC padding target: octets (1..65535) or "mtu". */
    | { readonly kind: 'tfc' }
  );
export type Spec = ObjectSpec | MapSpec | ListSpec | ToggleSpec | LeafSpec;

export type Field = Spec & {
  readonly required?: boolean;
  /** YAML-level default ('4h', true, 500); objects with `defaultEmpty` are filled from their fields. */
  readonly default?: string | number | boolean | readonly string[];
  readonly defaultEmpty?: boolean;
};

const path = (description: string): Spec => ({ kind: 'path', description });
const duration = (description: string, minMs = 0): Spec => ({ kind: 'duration', description, minMs });

const secretRef: ObjectSpec = {
  kind: 'object',
  description:
    'Where a secret lives: a file (mode 600, relative paths resolve from the config file directory) or an ' +
    'environment variable. Text as is; "0x..." is hex, "0s..." is base64.',
  exactlyOne: ['file', 'env', 'insecure-inline'],
  scalarError: {
    code: 'E_SECRET',
    message: 'an inline secret is refused (config files get copied, backed up and pasted)',
    hint: 'put it in a file (chmod 600) and write psk: { file: <path> }, or use psk: { env: <NAME> }',
  },
  fields: {
    file: path('File holding the secret; must not be readable by group or others (chmod 600).'),
    env: {
      kind: 'string',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'Environment variable holding the secret.',
    },
    'insecure-inline': {
      kind: 'string',
      description: 'The secret itself, in the config file. For throwaway labs only: check warns every time.',
    },
  },
};

const certAuth: ObjectSpec = {
  kind: 'object',
  description: 'Certificate authentication (RFC 7296 §2.15 digital signatures).',
  fields: {
    cert: { ...path('Our certificate (PEM).'), required: true },
    key: { ...path('Our private key (PEM, mode 600).'), required: true },
    ca: {
      kind: 'list',
      single: true,
      minItems: 1,
      items: path('CA certificate (PEM)'),
      description: 'CA certificate(s) (PEM) that peers\u2019 certificates must chain to.',
      required: true,
    },
    chain: {
      kind: 'list',
      single: true,
      items: path('Intermediate CA certificate (PEM)'),
      description:
        'Intermediate CA certificate(s) (PEM) sent after ours in CERT payloads (RFC 7296 §3.6), ' +
        'the one that issued our certificate first.',
    },
  },
};

const liveness: ObjectSpec = {
  kind: 'object',
  description: 'Dead peer detection (RFC 7296 §2.4): probe an idle peer, give up after timeout.',
  fields: {
    interval: { ...duration('Probe a peer that has been silent this long.', 1000), default: '30s' },
    timeout: {
      ...duration('Declare the peer dead after this long without an answer.', 1000),
      default: '150s',
    },
    action: {
      kind: 'enum',
      values: ['restart', 'clear', 'trap'],
      description:
        'On a dead peer: restart (initiate again), clear (delete), trap (re-arm on traffic). ' +
        'Default: restart, or clear when remote is any.',
    },
  },
};

const routes: ObjectSpec = {
  kind: 'object',
  description:
    'Routes ikeway installs into the interface while the tunnel is up and removes when it goes down ' +
    '(so traffic fails over to another tunnel or path). false: leave routing to a routing daemon.',
  fields: {
    subnets: {
      kind: 'list',
      single: true,
      items: { kind: 'prefix', description: 'IPv4 or IPv6 prefix' },
      description: 'Destinations to route into the tunnel (default: remote-subnets).',
    },
    table: { kind: 'route-table', default: 'main', description: 'Routing table: main, a number, or a name.' },
    metric: {
      kind: 'int',
      min: 0,
      max: 0xffffffff,
      default: 0,
      description: 'Route metric; a lower one wins (use a higher one on a backup tunnel).',
    },
  },
};
const retry: ObjectSpec = {
  kind: 'object',
  description:
    'How start: now re-initiates after a failed attempt (authentication failed, no answer): exponential ' +
    'backoff from initial to max, with jitter (like strongSwan keyingtries).',
  fields: {
    initial: {
      ...duration('Wait before the first retry; doubled after each failed attempt.', 100),
      default: '10s',
    },
    max: { ...duration('The longest wait between two attempts.', 100), default: '10m' },
    attempts: {
      kind: 'int',
      min: 0,
      max: 1_000_000,
      default: 0,
      description: 'Retries after a failure before giving up (0: forever).',
    },
  },
};

const tunnelInterface: ObjectSpec = {
  kind: 'object',
  description: '',
  fields: {
    name: {
      kind: 'string',
      required: true,
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$',
      description: 'Interface name (at most 15 characters), e.g. ipsec-b.',
    },
    'if-id': {
      kind: 'int',
      min: 1,
      max: 0xffffffff,
      required: true,
      description:
        'XFRM interface id: the SAs and policies of this connection carry it; unique per interface.',
    },
    mtu: {
      kind: 'int',
      min: 576,
      max: 65535,
      description:
        'Interface MTU (default: the path MTU to the peer minus the ESP overhead of the negotiated algorithms).',
    },
    underlying: {
      kind: 'string',
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$',
      description: 'Device the ESP packets leave by (IFLA_XFRM_LINK), e.g. eth0. Optional.',
    },
    addresses: {
      kind: 'list',
      single: true,
      items: { kind: 'ifaddr', description: 'address/length, e.g. 169.254.10.1/30 or fe80::1/64' },
      description:
        'Addresses on the tunnel interface, e.g. a /30, /31 or link-local per end for BGP peering.',
    },
    routes: { kind: 'toggle', object: routes, description: routes.description, default: false },
  },
};
export const HOOK_EVENTS = [
  'child-up',
  'child-down',
  'child-rekeyed',
  'ike-up',
  'ike-down',
  'ike-rekeyed',
  'liveness-failure',
] as const;

const hook: ObjectSpec = {
  kind: 'object',
  description:
    'A program run on tunnel events, with the facts (addresses, identities, selectors, SPIs, algorithms; ' +
    'never a key) in IKEWAY_* environment variables and as one JSON object on stdin. Runs one at a time ' +
    'per Child SA, is killed at the time limit; a failure is logged and counted, never stops the tunnel.',
  scalarError: {
    code: 'E_TYPE',
    message: 'hook is a map of settings',
    hint: 'write hook: { program: /path/to/program }',
  },
  fields: {
    program: {
      ...path(
        'Executable run on each event (not writable by others; relative paths resolve from the config file).',
      ),
      required: true,
    },
    timeout: {
      ...duration('Kill the program (and its process group) after this long.', 100),
      default: '10s',
    },
    events: {
      kind: 'list',
      single: true,
      minItems: 1,
      items: { kind: 'enum', values: HOOK_EVENTS, description: 'event name' },
      default: [...HOOK_EVENTS],
      description: 'Events that run the program.',
    },
  },
};

const connection: ObjectSpec = {
  kind: 'object',
  description: 'One peer and the traffic protected with it.',
  fields: {
    remote: {
      kind: 'address',
      allowAny: true,
      allowName: true,
      required: true,
      description:
        'The peer\u2019s IP address, a DNS name (resolved through /etc/hosts and DNS at start and reload; ' +
        'a name that does not resolve is an error), or "any" to accept any initiator (responder only).',
    },
    'local-address': { kind: 'address', description: 'Our address for this peer (default: local.address).' },
    auth: {
      kind: 'object',
      required: true,
      description: 'How both sides authenticate: a pre-shared key or certificates.',
      exactlyOne: ['psk', 'cert'],
      fields: { psk: { ...secretRef, description: 'Pre-shared key (RFC 7296 §2.15).' }, cert: certAuth },
    },
    'local-id': {
      kind: 'identity',
      description: 'Our IKE identity (default: certificate subject, else our address).',
    },
    'remote-id': {
      kind: 'identity',
      description: 'Identity the peer must prove (default: its address, or any).',
    },
    'local-subnets': {
      kind: 'list',
      single: true,
      items: { kind: 'prefix', description: 'IPv4 or IPv6 prefix' },
      description: 'Our side of the protected traffic (default: our own address).',
    },
    'remote-subnets': {
      kind: 'list',
      single: true,
      items: { kind: 'prefix', description: 'IPv4 or IPv6 prefix' },
      description: 'The peer\u2019s side of the protected traffic (default: the peer\u2019s address).',
    },
    mode: {
      kind: 'enum',
      values: ['tunnel', 'transport'],
      default: 'tunnel',
      description: 'ESP (or AH) mode (RFC 4301).',
    },
    protocol: {
      kind: 'enum',
      values: ['esp', 'ah'],
      default: 'esp',
      description:
        'Security protocol of the Child SAs: esp (RFC 4303, encrypts) or ah (RFC 4302: integrity of the ' +
        'whole packet including the outer IP header, NO encryption; proposals from ah-proposals).',
    },
    start: {
      kind: 'enum',
      values: ['now', 'on-traffic', 'wait'],
      description:
        'now: initiate at startup; on-traffic: on the kernel\u2019s ACQUIRE; wait: let the peer initiate. ' +
        'Default: now, or wait when remote is any.',
    },
    'ike-proposals': {
      kind: 'list',
      single: true,
      minItems: 1,
      items: { kind: 'proposal', for: 'ike', description: 'e.g. aes256gcm16-prfsha256-x25519' },
      default: ['aes256gcm16-prfsha256-x25519'],
      description: 'IKE SA proposals, most preferred first.',
    },
    'esp-proposals': {
      kind: 'list',
      single: true,
      minItems: 1,
      items: { kind: 'proposal', for: 'esp', description: 'e.g. aes256gcm16' },
      default: ['aes256gcm16'],
      description: 'ESP proposals, most preferred first; with pfs the IKE SA\u2019s group is used on rekeys.',
    },
    'ah-proposals': {
      kind: 'list',
      single: true,
      minItems: 1,
      items: { kind: 'proposal', for: 'ah', description: 'e.g. sha256' },
      description:
        'AH proposals (protocol: ah only), integrity algorithms, most preferred first; default sha256. ' +
        'No AES-GMAC: the Linux kernel takes no AEAD algorithm for AH.',
    },
    'tfc-padding': {
      kind: 'tfc',
      description:
        'RFC 4303 §2.7 traffic-flow confidentiality: pad every outbound ESP packet (tunnel mode) to this many ' +
        'octets, or "mtu" for the path MTU, so packet sizes say nothing. Never towards a peer that sent ' +
        'ESP_TFC_PADDING_NOT_SUPPORTED. Off when absent.',
    },
    'accept-tfc-padding': {
      kind: 'bool',
      default: true,
      description:
        'false: tell the peer not to pad towards us (ESP_TFC_PADDING_NOT_SUPPORTED, RFC 7296 §3.10.1).',
    },
    'ike-lifetime': {
      ...duration('Hard lifetime of the IKE SA; rekeyed rekey-margin before.', 60_000),
      default: '4h',
    },
    'child-lifetime': {
      ...duration('Hard lifetime of the ESP SAs; rekeyed rekey-margin before.', 60_000),
      default: '1h',
    },
    'child-lifetime-bytes': {
      kind: 'bytes',
      description: 'Optional hard byte limit of each ESP SA (e.g. 1GiB); rekeyed at 90%.',
    },
    'rekey-margin': { ...duration('Rekey this long before a hard lifetime expires.', 1000), default: '10m' },
    liveness: { kind: 'toggle', object: liveness, description: liveness.description, default: true },
    retry: { ...retry, default: true }, // absent: an object of its defaults
    encapsulation: {
      kind: 'enum',
      values: ['auto', 'force'],
      default: 'auto',
      description: 'UDP encapsulation of ESP (RFC 3948): auto when NAT is detected, or force.',
    },
    fragmentation: { kind: 'bool', default: true, description: 'IKE fragmentation (RFC 7383).' },
    pfs: { kind: 'bool', default: true, description: 'Fresh key exchange on every CHILD SA rekey.' },
    esn: { kind: 'bool', default: false, description: 'Offer 64-bit extended sequence numbers (RFC 4304).' },
    'replay-window': {
      kind: 'int',
      min: 0,
      max: 4096,
      default: 32,
      description: 'Anti-replay window in packets.',
    },
    mark: {
      kind: 'mark',
      description: 'XFRM mark value[/mask] for route-based setups (e.g. 42 or 0x2a/0xff).',
    },
    'if-id': { kind: 'int', min: 1, max: 0xffffffff, description: 'XFRM interface id (route-based VPN).' },
    interface: {
      ...tunnelInterface,
      description:
        'Route-based tunnel: ikeway creates this XFRM interface, ties the SAs and policies to it by if-id, ' +
        'and removes it on stop. Subnets default to 0.0.0.0/0 and ::/0 (the routing table decides).',
    },
    hook,
  },
};

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
