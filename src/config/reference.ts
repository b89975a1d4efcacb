// docs/configuration.md, rendered from the spec (spec.ts) so that the reference cannot drift from
// what the validator accepts: every key with its type, default, an example and its description,
// then a table from common swanctl.conf settings to ours. `npm run docs:config` writes it; a test
// renders it again and compares with the committed file.
import { CONFIG_SPEC, type Field, type LeafSpec, type ObjectSpec, type Spec } from './spec.ts';

interface Row {
  readonly key: string;
  readonly type: string;
  readonly required: boolean;
  readonly def: string;
  readonly example: string;
  readonly description: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string) => (s === '' ? '' : `\`${s}\``);

function yamlValue(v: string | number | boolean | readonly string[]): string {
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return String(v as string | number | boolean);
}

function typeOf(spec: Spec): string {
  switch (spec.kind) {
    case 'object':
      return spec.exactlyOne ? `map, exactly one of ${spec.exactlyOne.join(', ')}` : 'map';
    case 'map':
      return 'map of names to maps';
    case 'list':
      return `list of ${typeOf(spec.items)}${spec.single === true ? ' (one item may stand alone)' : ''}`;
    case 'toggle':
      return 'true, false or map';
    default:
      return leafType(spec);
  }
}

function leafType(spec: LeafSpec): string {
  switch (spec.kind) {
    case 'string':
      return spec.pattern !== undefined ? `string matching ${code(spec.pattern)}` : 'string';
    case 'path':
      return 'file path';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'bool':
      return 'boolean';
    case 'int':
      return `integer ${spec.min}..${spec.max}`;
    case 'number':
      return `number ${spec.min}..${spec.max}`;
    case 'duration':
      return spec.minMs > 0 ? `duration (at least ${spec.minMs} ms)` : 'duration';
    case 'bytes':
      return 'byte count';
    case 'address':
      return `IP address${spec.allowName === true ? ', DNS name' : ''}${spec.allowAny === true ? ' or any' : ''}`;
    case 'prefix':
      return 'IP prefix';
    case 'identity':
      return 'IKE identity';
    case 'mark':
      return 'mark value[/mask]';
    case 'proposal':
      return `${spec.for.toUpperCase()} proposal`;
    case 'route-table':
      return 'routing table: main, a number or a name from rt_tables';
    case 'ifaddr':
      return 'address/length';
  }
}

const PATH_EXAMPLES: readonly (readonly [string, string])[] = [
  ['program', '/etc/ikeway/hooks/route-and-nft.sh'],
  ['psk.file', 'secrets/hq.psk'],
  ['cert.cert', 'certs/gw1.pem'],
  ['cert.key', 'private/gw1.key'],
  ['cert.ca', 'certs/ca.pem'],
  ['cert.chain', 'certs/intermediate.pem'],
  ['debug-keys', '/root/ikeway-keys.txt'],
];

/** An example value for a key without a default: the kind's usual form. */
function exampleOf(spec: Spec, key: string): string {
  switch (spec.kind) {
    case 'list':
      return `[${exampleOf(spec.items, key)}]`;
    case 'enum':
      return spec.values[0] ?? '';
    case 'string':
      return spec.pattern !== undefined && key.endsWith('env') ? 'IKEWAY_PSK' : 'text';
    case 'path':
      return PATH_EXAMPLES.find(([end]) => key.endsWith(end))?.[1] ?? '/etc/ikeway/file';
    case 'bool':
      return 'true';
    case 'int':
    case 'number':
      return String(spec.min);
    case 'duration':
      return '30s';
    case 'bytes':
      return '1GiB';
    case 'address':
      return key.endsWith('remote') ? 'vpn.example.net' : '192.0.2.1';
    case 'prefix':
      return '10.1.0.0/16';
    case 'identity':
      return 'gw.example.net';
    case 'mark':
      return '0x2a/0xff';
    case 'proposal':
      return spec.for === 'ike' ? 'aes256gcm16-prfsha256-x25519' : 'aes256gcm16';
    default:
      return '';
  }
}

function collect(spec: ObjectSpec, prefix: string, out: Row[]): void {
  for (const [k, f] of Object.entries(spec.fields)) row(f, prefix === '' ? k : `${prefix}.${k}`, out);
}

function row(f: Field, key: string, out: Row[]): void {
  const def =
    f.default !== undefined
      ? yamlValue(f.default)
      : f.defaultEmpty === true
        ? '(its fields\u2019 defaults)'
        : '';
  const leafish =
    f.kind !== 'object' &&
    f.kind !== 'map' &&
    f.kind !== 'toggle' &&
    !(f.kind === 'list' && f.items.kind === 'object');
  out.push({
    key,
    type: typeOf(f),
    required: f.required === true,
    def,
    example: leafish ? (f.default !== undefined ? yamlValue(f.default) : exampleOf(f, key)) : '',
    description: f.description,
  });
  if (f.kind === 'object') collect(f, key, out);
  else if (f.kind === 'toggle') collect(f.object, key, out);
  else if (f.kind === 'map' && f.values.kind === 'object') collect(f.values, `${key}.<name>`, out);
  else if (f.kind === 'list' && f.items.kind === 'object') collect(f.items, `${key}[]`, out);
}

/** swanctl.conf (strongSwan 5.9) setting -> ikeway key, for people moving a config over. */
const SWANCTL: readonly (readonly [string, string, string])[] = [
  ['connections.<c>.remote_addrs', 'connections.<name>.remote', 'one address, a DNS name, or any'],
  ['connections.<c>.local_addrs', 'local.address / connections.<name>.local-address', ''],
  ['connections.<c>.proposals', 'connections.<name>.ike-proposals', 'same token grammar'],
  [
    'connections.<c>.children.<ch>.esp_proposals',
    'connections.<name>.esp-proposals / children[].esp-proposals',
    'same token grammar',
  ],
  ['connections.<c>.local.id / remote.id', 'connections.<name>.local-id / remote-id', ''],
  [
    'connections.<c>.local.auth = psk + secrets.ike',
    'connections.<name>.auth.psk',
    'file or env, never inline',
  ],
  ['connections.<c>.local.certs / secrets.private', 'connections.<name>.auth.cert.cert / key', ''],
  ['authorities / cacerts', 'connections.<name>.auth.cert.ca', ''],
  [
    'connections.<c>.children.<ch> (several)',
    'connections.<name>.children: [{ name: <ch>, ... }]',
    'one list per connection; a single child can be written as the connection\u2019s own keys',
  ],
  [
    'connections.<c>.children.<ch>.local_ts',
    'connections.<name>.local-subnets / children[].local-subnets',
    '',
  ],
  [
    'connections.<c>.children.<ch>.remote_ts',
    'connections.<name>.remote-subnets / children[].remote-subnets',
    '',
  ],
  [
    'several local_ts/remote_ts towards Cisco, FortiGate, Palo Alto (Libreswan leftsubnets=)',
    'connections.<name>.one-sa-per-subnet-pair: true',
    'one Child SA per subnet pair, named <child>#1, #2 ...',
  ],
  ['connections.<c>.children.<ch>.mode', 'connections.<name>.mode / children[].mode', 'tunnel or transport'],
  [
    'connections.<c>.children.<ch>.start_action = start / trap / none',
    'connections.<name>.start / children[].start = now / on-traffic / wait',
    '',
  ],
  [
    'connections.<c>.rekey_time + over_time',
    'connections.<name>.ike-lifetime and rekey-margin',
    'hard lifetime, rekeyed rekey-margin before',
  ],
  [
    'connections.<c>.children.<ch>.life_time / rekey_time',
    'connections.<name>.child-lifetime (or children[].child-lifetime) and rekey-margin',
    '',
  ],
  ['connections.<c>.children.<ch>.life_bytes', 'connections.<name>.child-lifetime-bytes', 'rekeyed at 90%'],
  ['connections.<c>.dpd_delay', 'connections.<name>.liveness.interval', ''],
  [
    'connections.<c>.dpd_timeout / children.<ch>.dpd_action',
    'connections.<name>.liveness.timeout / action',
    'restart, clear or trap',
  ],
  ['connections.<c>.encap', 'connections.<name>.encapsulation: force', ''],
  ['connections.<c>.fragmentation', 'connections.<name>.fragmentation', ''],
  [
    'esp_proposals with a DH group',
    'connections.<name>.pfs: true',
    'the IKE SA\u2019s group is used on rekeys',
  ],
  ['esp_proposals ...-esn', 'connections.<name>.esn', ''],
  ['charon.replay_window / children.<ch>.replay_window', 'connections.<name>.replay-window', ''],
  [
    'connections.<c>.children.<ch>.mark_in / mark_out',
    'connections.<name>.mark-in / mark-out',
    'or mark (children[].mark) for both directions',
  ],
  [
    'connections.<c>.if_id_in / if_id_out',
    'connections.<name>.if-id-in / if-id-out',
    'or if-id (interface.if-id, children[].if-id) for both',
  ],
  ['children.<ch>.updown', 'connections.<name>.hook', 'facts in IKEWAY_* variables and JSON on stdin'],
  ['charon.port / port_nat_t', 'ports.ike / ports.nat-t', ''],
  ['charon.cookie_threshold', 'cookie-threshold', ''],
  ['charon.init_limit_half_open', 'limits.half-open', ''],
  ['charon.retransmit_timeout / retransmit_tries / retransmit_base', 'retransmit.timeout / tries / base', ''],
];

export function renderConfigReference(): string {
  const rows: Row[] = [];
  collect(CONFIG_SPEC, '', rows);
  const out: string[] = [
    '<!-- Generated by `npm run docs:config` from src/config/spec.ts; do not edit by hand. -->',
    '',
    '# Configuration reference',
    '',
    'The policy file is YAML; `ikeway check <file>` validates it and prints every problem as',
    '`file:line:col`. This page lists every key the validator knows, generated from the same spec',
    '(src/config/spec.ts) that drives the validator and `schema/ikeway.schema.json`. Durations are',
    'written like `30s`, `10m`, `4h`; byte counts like `1GiB`. Keys are written in kebab-case.',
    '',
    'A minimal file:',
    '',
    '```yaml',
    'local:',
    '  address: 192.0.2.1',
    'connections:',
    '  hq:',
    '    remote: 198.51.100.1',
    '    auth: { psk: { file: secrets/hq.psk } }',
    '    local-subnets: 10.1.0.0/16',
    '    remote-subnets: 10.2.0.0/16',
    '```',
    '',
    '## Keys',
    '',
    '| Key | Type | Required | Default | Example | Description |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows)
    out.push(
      `| ${code(r.key)} | ${cell(r.type)} | ${r.required ? 'yes' : ''} | ${cell(code(r.def))} | ` +
        `${cell(code(r.example))} | ${cell(r.description)} |`,
    );
  out.push(
    '',
    '## From swanctl.conf',
    '',
    'The nearest ikeway setting for common strongSwan `swanctl.conf` settings.',
    '',
    '| swanctl.conf | ikeway | Note |',
    '| --- | --- | --- |',
  );
  for (const [s, i, n] of SWANCTL) out.push(`| ${code(s)} | ${code(i)} | ${cell(n)} |`);
  out.push('');
  return out.join('\n');
}
