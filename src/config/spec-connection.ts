// The spec of one connection (connections.<name> in YAML): peer, authentication, identities, the
// protected traffic and its Child SAs, lifetimes, liveness, retry, route-based interface and hook.
import { duration, path, type ObjectSpec, type Spec } from './spec-types.ts';

export const secretRef: ObjectSpec = {
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
    revocation: {
      kind: 'enum',
      values: ['strict', 'best-effort', 'off'],
      default: 'off',
      description:
        'Revocation check of the peer\u2019s certificates after its AUTH verified (CRL, RFC 5280 §5; ' +
        'OCSP, RFC 6960): strict = every certificate below the CA needs a definite "good" answer; ' +
        'best-effort = only a definite "revoked" fails; off = no check.',
    },
    crl: {
      kind: 'list',
      single: true,
      items: path('CRL file (PEM or DER)'),
      description:
        'CRL file(s) (PEM or DER), consulted before any OCSP responder or distribution point; each ' +
        'applies to the certificates of the CA that signed it. Read at start and reload.',
    },
    'ocsp-responder': {
      kind: 'string',
      pattern: '^http://[^\\s]+$',
      description:
        'OCSP responder (http://) to ask instead of the one in the certificate\u2019s authorityInfoAccess.',
    },
    'ocsp-method': {
      kind: 'enum',
      values: ['post', 'get'],
      default: 'post',
      description: 'HTTP method of OCSP requests (RFC 6960 Appendix A.1).',
    },
    'revocation-fetch': {
      kind: 'bool',
      default: true,
      description:
        'Fetch CRLs from the certificates\u2019 http:// distribution points and ask their AIA OCSP ' +
        'responders; false: only the crl files and ocsp-responder given here.',
    },
    'revocation-timeout': {
      ...duration('Deadline for one CRL or OCSP fetch; no answer by then counts as none.', 100),
      default: '5s',
    },
  },
};

const pubkeyAuth: ObjectSpec = {
  kind: 'object',
  description:
    'Raw public key authentication (RFC 7670): each side holds the other\u2019s public key; no CA, ' +
    'no certificate. Our key is sent in a CERT payload of encoding 15 (Raw Public Key).',
  fields: {
    key: { ...path('Our private key (PEM, mode 600): ECDSA P-256/384/521, Ed25519 or RSA.'), required: true },
    peer: {
      ...path('The peer\u2019s public key (PEM "PUBLIC KEY", i.e. SubjectPublicKeyInfo).'),
      required: true,
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

const subnets = (description: string): Spec => ({
  kind: 'list',
  single: true,
  items: { kind: 'prefix', description: 'IPv4 or IPv6 prefix' },
  description,
});

/** One Child SA of a connection; every key but name defaults to the connection's. */
const child: ObjectSpec = {
  kind: 'object',
  description:
    'One Child SA under the connection\u2019s IKE SA (RFC 7296 §1.3): its own subnets, ESP proposals, mode, ' +
    'start, lifetimes, mark and if-id; what it leaves out comes from the connection.',
  fields: {
    name: {
      kind: 'string',
      required: true,
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$',
      description: 'Unique within the connection (status and hooks name the Child SAs by it).',
    },
    'local-subnets': subnets(
      'Our side of this child\u2019s traffic (default: the connection\u2019s local-subnets; inside them when both are set).',
    ),
    'remote-subnets': subnets(
      'The peer\u2019s side (default: the connection\u2019s remote-subnets; inside them when both are set).',
    ),
    'esp-proposals': {
      kind: 'list',
      single: true,
      minItems: 1,
      items: { kind: 'proposal', for: 'esp', description: 'e.g. aes256gcm16' },
      description: 'ESP proposals of this child, most preferred first (default: the connection\u2019s).',
    },
    mode: {
      kind: 'enum',
      values: ['tunnel', 'transport'],
      description: 'ESP mode (default: the connection\u2019s).',
    },
    start: {
      kind: 'enum',
      values: ['now', 'on-traffic', 'wait'],
      description:
        'now: set up whenever the connection comes up; on-traffic: on its first packet; wait: only when the peer asks ' +
        '(default: the connection\u2019s start).',
    },
    'child-lifetime': duration(
      'Hard lifetime of this child\u2019s ESP SAs (default: the connection\u2019s).',
      60_000,
    ),
    'child-lifetime-bytes': { kind: 'bytes', description: 'Hard byte limit of each ESP SA of this child.' },
    mark: { kind: 'mark', description: 'XFRM mark value[/mask] of this child\u2019s SAs and policies.' },
    'if-id': { kind: 'int', min: 1, max: 0xffffffff, description: 'XFRM interface id of this child.' },
  },
};

export const connection: ObjectSpec = {
  kind: 'object',
  description: 'One peer and the traffic protected with it.',
  fields: {
    remote: {
      kind: 'address',
      allowAny: true,
      allowName: true,
      required: true,
      description:
        'The peer\u2019s IP address, a DNS name (resolved through /etc/hosts and DNS at start and reload, where ' +
        'a name that does not resolve is an error, and again before every initiation: a new address is logged ' +
        'and followed), or "any" to accept any initiator, picked by its identity (responder only).',
    },
    'local-address': {
      kind: 'address',
      description:
        'Our address for this peer (default: local.address); one of local.addresses when it is set.',
    },
    auth: {
      kind: 'object',
      required: true,
      description: 'How both sides authenticate: a pre-shared key, certificates, or raw public keys.',
      exactlyOne: ['psk', 'cert', 'pubkey'],
      fields: {
        psk: { ...secretRef, description: 'Pre-shared key (RFC 7296 §2.15).' },
        cert: certAuth,
        pubkey: pubkeyAuth,
      },
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
        'whole packet including the outer IP header, NO encryption; proposals from ah-proposals); for every child.',
    },
    children: {
      kind: 'list',
      minItems: 1,
      items: child,
      description:
        'Several Child SAs under one IKE SA, each with its own name and traffic. The first that starts now is set ' +
        'up in IKE_AUTH, the others with CREATE_CHILD_SA; each rekeys and is deleted on its own. Absent: one ' +
        'child named after the connection, made of local-subnets, remote-subnets and the other keys here. ' +
        'Children must not overlap (the responder picks a child by the proposed selectors, RFC 7296 §2.9).',
    },
    'one-sa-per-subnet-pair': {
      kind: 'bool',
      default: false,
      description:
        'Set up one Child SA per local/remote subnet pair of each child (named <child>#1, #2 ...), as Cisco ASA, ' +
        'FortiGate and Palo Alto peers expect; as responder, narrow a multi-pair request to one pair.',
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
      // RFC 9370 hybrid (X25519 + ML-KEM-768 in IKE_INTERMEDIATE) first, the classic one for peers
      // without ML-KEM or IKE_INTERMEDIATE: a PQ-capable peer gets post-quantum keys, an old one still connects.
      default: ['aes256gcm16-prfsha256-x25519-ke1_mlkem768', 'aes256gcm16-prfsha256-x25519'],
      description:
        'IKE SA proposals, most preferred first. Default: X25519 + ML-KEM-768 hybrid, else X25519.',
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
    'mark-in': {
      kind: 'mark',
      description: 'XFRM mark of the inbound SA and the in/fwd policies (default: mark).',
    },
    'mark-out': {
      kind: 'mark',
      description: 'XFRM mark of the outbound SA and the out policy (default: mark).',
    },
    'if-id': { kind: 'int', min: 1, max: 0xffffffff, description: 'XFRM interface id (route-based VPN).' },
    'if-id-in': {
      kind: 'int',
      min: 1,
      max: 0xffffffff,
      description:
        'XFRM interface id of the inbound SA and the in/fwd policies (default: if-id; not with interface).',
    },
    'if-id-out': {
      kind: 'int',
      min: 1,
      max: 0xffffffff,
      description:
        'XFRM interface id of the outbound SA and the out policy (default: if-id; not with interface).',
    },
    interface: {
      ...tunnelInterface,
      description:
        'Route-based tunnel: ikeway creates this XFRM interface, ties the SAs and policies to it by if-id, ' +
        'and removes it on stop. Subnets default to 0.0.0.0/0 and ::/0 (the routing table decides).',
    },
    hook,
  },
};
