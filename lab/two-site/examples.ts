// Brings an example config (examples/*.yaml) into the lab. The lab takes its addresses from the
// example (site a = the example's gateway, site b = its first connection's peer), renders a copy of
// the example for router-a with lab-private paths, writes the peer's mirrored config for router-b,
// makes the secrets both need (PSK files mode 600, env keys, a test CA), and validates both with
// the config loader. The topology then comes from the validated config.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { parse, parseDocument, stringify } from 'yaml';
import { ConfigErrors, formatProblem, loadConfig } from '../../src/config/index.ts';
import type { Config, Connection } from '../../src/config/index.ts';
import { LabError } from '../errors.ts';
import { makeTopology, type Netem, type SiteName, type Topology } from './topology.ts';
import type { TunnelParams } from './static-tunnel.ts';

export interface ExampleLab {
  readonly name: string;
  readonly example: string;
  /** Rendered configs: router-a's copy of the example and router-b's mirror. */
  readonly configs: Readonly<Record<SiteName, string>>;
  /** Environment both daemons need (PSKs given as `psk: { env: NAME }`). Secret: never print. */
  readonly env: Readonly<Record<string, string>>;
  readonly topology: Topology;
  readonly tunnel: TunnelParams;
  /** The connection the lab brings up (the example's first). */
  readonly connection: string;
}

type Raw = Record<string, unknown>;

const MIRRORED_KEYS = [
  'mode',
  'ike-proposals',
  'esp-proposals',
  'encapsulation',
  'pfs',
  'esn',
  'replay-window',
  'fragmentation',
  'mark',
  'if-id',
];

function isObj(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstConnection(raw: Raw, file: string): [string, Raw] {
  const conns = raw['connections'];
  const first = isObj(conns) ? Object.entries(conns)[0] : undefined;
  if (!first || !isObj(first[1])) throw new LabError('LAB_EXAMPLE', `${file}: no connection to bring up`);
  return [first[0], first[1]];
}

function writeSecretFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
}

/** Makes the secrets the example's first connection names; returns router-b's auth block and env. */
function makeSecrets(
  conn: Raw,
  dirs: Record<SiteName, string>,
  wan: Record<SiteName, string>,
  peerId: unknown,
): { auth: Raw; env: Record<string, string>; remoteIdForB?: string } {
  const auth = conn['auth'];
  if (!isObj(auth)) throw new LabError('LAB_EXAMPLE', 'the first connection has no auth block');
  const psk = auth['psk'];
  if (isObj(psk) && typeof psk['file'] === 'string') {
    const key = `0s${randomBytes(32).toString('base64')}\n`;
    for (const s of ['a', 'b'] as const) writeSecretFile(resolve(dirs[s], psk['file']), key);
    return { auth: { psk: { file: psk['file'] } }, env: {} };
  }
  if (isObj(psk) && typeof psk['env'] === 'string')
    return {
      auth: { psk: { env: psk['env'] } },
      env: { [psk['env']]: `0x${randomBytes(32).toString('hex')}` },
    };
  const cert = auth['cert'];
  if (isObj(cert) && typeof cert['cert'] === 'string') return certSecrets(cert, dirs, wan, peerId);
  throw new LabError('LAB_EXAMPLE', 'the lab knows psk { file }, psk { env } and cert auth only');
}

/** A test CA with a certificate per router, made with examples/make-test-ca.sh. */
function certSecrets(
  cert: Raw,
  dirs: Record<SiteName, string>,
  wan: Record<SiteName, string>,
  peerId: unknown,
): { auth: Raw; env: Record<string, string>; remoteIdForB: string } {
  const certRel = String(cert['cert']);
  const dir = dirname(certRel);
  const mine = basename(certRel).replace(/\.(crt|pem)$/, '');
  const peer = /CN=([\w-]+)\./.exec(String(peerId ?? ''))?.[1] ?? 'peer';
  const script = resolve(import.meta.dirname, '..', '..', 'examples', 'make-test-ca.sh');
  const out = resolve(dirs.a, dir);
  const r = spawnSync('sh', [script, out, `${mine}:${wan.a}`, `${peer}:${wan.b}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new LabError('LAB_EXAMPLE', `make-test-ca.sh failed: ${r.stderr.trim()}`);
  mkdirSync(resolve(dirs.b, dir), { recursive: true });
  for (const f of ['ca.crt', `${peer}.crt`, `${peer}.key`])
    copyFileSync(join(out, f), resolve(dirs.b, dir, f));
  const subject = new X509Certificate(readFileSync(join(out, `${mine}.crt`))).subject.split('\n').join(', ');
  return {
    auth: {
      cert: { cert: join(dir, `${peer}.crt`), key: join(dir, `${peer}.key`), ca: join(dir, 'ca.crt') },
    },
    env: {},
    remoteIdForB: subject,
  };
}

/** Router-a also needs keys for the example's other connections (their peers are not in the lab). */
function otherSecrets(raw: Raw, first: string, dirA: string, env: Record<string, string>): void {
  const conns = raw['connections'];
  if (!isObj(conns)) return;
  for (const [name, c] of Object.entries(conns)) {
    const psk = name !== first && isObj(c) && isObj(c['auth']) ? c['auth']['psk'] : undefined;
    if (!isObj(psk)) continue;
    if (typeof psk['file'] === 'string')
      writeSecretFile(resolve(dirA, psk['file']), `0s${randomBytes(32).toString('base64')}\n`);
    if (typeof psk['env'] === 'string') env[psk['env']] = `0x${randomBytes(32).toString('hex')}`;
  }
}

function load(file: string, env: Record<string, string>): Config {
  try {
    return loadConfig(file, { env: { ...process.env, ...env } }).config;
  } catch (e) {
    if (e instanceof ConfigErrors)
      throw new LabError(
        'LAB_EXAMPLE',
        `${file} does not validate:\n${e.problems.map(formatProblem).join('\n')}`,
      );
    throw e;
  }
}

function topologyOf(name: string, c: Connection, nat: boolean, netem: Netem | undefined): Topology {
  if (c.remote === 'any')
    throw new LabError(
      'LAB_EXAMPLE',
      `${name}: the first connection must name its peer (remote: any cannot be a lab site)`,
    );
  const transport = c.mode === 'transport';
  return makeTopology({
    name,
    a: { wan: c.localAddress.address, lans: transport ? [] : c.localSubnets.map((p) => p.text) },
    b: { wan: c.remote.address, lans: transport ? [] : c.remoteSubnets.map((p) => p.text) },
    nat: nat ? 'auto' : false,
    ...(netem && { netem }),
  });
}

/** Renders, secrets and validates an example for the lab in workDir (which it fills). */
export function prepareExample(example: string, workDir: string, opts: { netem?: Netem } = {}): ExampleLab {
  const name = basename(example).replace(/\.ya?ml$/, '');
  let text: string;
  try {
    text = readFileSync(example, 'utf8');
  } catch (e) {
    throw new LabError(
      'LAB_EXAMPLE',
      `cannot read ${example}: ${(e as { code?: string }).code ?? String(e)}`,
    );
  }
  const raw = parse(text) as unknown;
  if (!isObj(raw) || !isObj(raw['local'])) throw new LabError('LAB_EXAMPLE', `${example}: no local: block`);
  const [connName, conn] = firstConnection(raw, example);
  const dirs: Record<SiteName, string> = { a: join(workDir, 'a'), b: join(workDir, 'b') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  const wan = { a: String(raw['local']['address']), b: String(conn['remote']) };
  const { auth, env, remoteIdForB } = makeSecrets(conn, dirs, wan, conn['remote-id']);
  otherSecrets(raw, connName, dirs.a, env);

  // router-a: the example itself, comments kept, with lab-private socket and state paths.
  const doc = parseDocument(text);
  doc.set('control-socket', join(dirs.a, 'ikeway.sock'));
  doc.set('state-dir', join(dirs.a, 'state'));
  const configs = { a: join(dirs.a, 'ikeway.yaml'), b: join(dirs.b, 'ikeway.yaml') };
  writeFileSync(configs.a, doc.toString());

  const cfgA = load(configs.a, env);
  const c = cfgA.connections[0]!;
  const nat = c.encapsulation === 'force';
  // router-b: the peer's view of the same connection (RFC 7296 §2.9: its local TS are our remote TS).
  const mirror: Raw = {
    remote: nat ? 'any' : wan.a,
    ...(conn['remote-id'] !== undefined && { 'local-id': conn['remote-id'] }),
    ...((remoteIdForB ?? conn['local-id']) !== undefined && {
      'remote-id': remoteIdForB ?? conn['local-id'],
    }),
    auth,
    'local-subnets':
      c.mode === 'transport' ? [`${wan.b}/${wan.b.includes(':') ? 128 : 32}`] : conn['remote-subnets'],
    'remote-subnets':
      c.mode === 'transport' ? [`${wan.a}/${wan.a.includes(':') ? 128 : 32}`] : conn['local-subnets'],
    start: 'wait',
  };
  for (const k of MIRRORED_KEYS) if (conn[k] !== undefined) mirror[k] = conn[k];
  const b = {
    'control-socket': join(dirs.b, 'ikeway.sock'),
    'state-dir': join(dirs.b, 'state'),
    local: { address: wan.b },
    connections: { [connName]: mirror },
  };
  writeFileSync(
    configs.b,
    `# router-b of the lab for ${basename(example)}: the peer's mirror of "${connName}"\n${stringify(b)}`,
  );
  load(configs.b, env);
  return {
    name,
    example,
    configs,
    env,
    topology: topologyOf(name, c, nat, opts.netem),
    tunnel: { mode: c.mode, udpEncap: nat, espProposal: c.espProposals[0] ?? 'aes256gcm16' },
    connection: connName,
  };
}
