// From the walked tree to the typed Config: dynamic defaults (start, ids, subnets), cross-field
// checks (families, mode vs subnets, lifetimes vs rekey margin, pfs vs proposals, limits), and
// credential loading. Problems go to the reporter at the position of the key they concern.
import type { Raw, Reporter } from './walk.ts';
import { loadCertAuth, loadPubkeyAuth, loadSecret, type Env } from './creds.ts';
import { checkProposal } from './proposals-tokens.ts';
import { formatDuration, normalizeDn, type Identity, type IpAddress } from './values.ts';
import { buildSubnets, checkOverlaps } from './subnets.ts';
import { buildInterface, checkInterfaces } from './iface-build.ts';
import { buildHook } from './hook.ts';
import { buildChildren, unionSubnets } from './children.ts';
import { buildHa } from './ha.ts';
import type { Resolver } from './resolve.ts';
import type { Config, Connection, Liveness, LivenessAction, PskAuth, CertAuth, PubkeyAuth } from './types.ts';

export interface BuildContext {
  readonly r: Reporter;
  readonly env: Env;
  readonly now: Date;
  readonly file: string;
  readonly resolve: Resolver;
}

/** Returns undefined when something needed is missing (the walker reported why). */
export function buildConfig(ctx: BuildContext, raw: Raw): Config | undefined {
  checkGlobals(ctx.r, raw);
  const local = raw.local as { address?: IpAddress; addresses?: IpAddress[] } | undefined;
  const conns = raw.connections as Record<string, Raw> | undefined;
  if (local?.address === undefined || conns === undefined) return undefined;
  const connections: Connection[] = [];
  const listens = [local.address];
  for (const a of local.addresses ?? []) if (!listens.some((x) => x.address === a.address)) listens.push(a);
  for (const [name, c] of Object.entries(conns)) {
    const built = buildConnection(ctx, name, c, local.address, listens);
    if (built !== undefined) connections.push(built);
  }
  checkOverlaps(ctx.r, connections);
  checkInterfaces(ctx.r, connections);
  const log = raw.log as Config['log'];
  const ports = raw.ports as { ike: number; natT: number };
  const limits = raw.limits as Config['limits'];
  const rt = raw.retransmit as { timeout: number; tries: number; base: number } | undefined;
  // A section without a value ("retransmit:" alone) was reported by the walker; nothing to build.
  if (log === undefined || ports === undefined || limits === undefined || rt === undefined) return undefined;
  const ha = buildHa(ctx.r, raw.ha as Raw | undefined, ctx.env, ports);
  if (raw.ha !== undefined && ha === undefined) return undefined;
  return {
    file: ctx.file,
    local: { address: local.address, addresses: listens },
    connections,
    log,
    controlSocket: raw.controlSocket as string,
    stateDir: raw.stateDir as string,
    ports,
    cookieThreshold: raw.cookieThreshold as number,
    limits,
    retransmit: { timeoutMs: rt.timeout, tries: rt.tries, base: rt.base },
    ...(raw.metrics ? { metrics: raw.metrics as NonNullable<Config['metrics']> } : {}),
    ...(typeof raw.debugKeys === 'string' ? { debugKeys: raw.debugKeys } : {}),
    ...(ha ? { ha } : {}),
  };
}

function checkGlobals(r: Reporter, raw: Raw): void {
  const ports = raw.ports as { ike?: number; natT?: number } | undefined;
  if (ports?.ike !== undefined && ports.ike === ports.natT) {
    r.add(
      'E_CONFLICT',
      r.at('ports.nat-t'),
      'ports.nat-t',
      `nat-t and ike are both ${ports.ike}`,
      'use two ports, e.g. 500 and 4500',
    );
  }
  if (typeof raw.debugKeys === 'string')
    r.add(
      'W_INSECURE',
      r.at('debug-keys'),
      'debug-keys',
      `every SA key will be written to ${raw.debugKeys}; anyone who reads it can decrypt the traffic`,
      'remove debug-keys once the capture is decrypted, and delete the file',
    );
  const m = raw.metrics as { port?: number } | false | undefined;
  if (m && m.port !== undefined && (m.port === ports?.ike || m.port === ports?.natT)) {
    // TCP and UDP could share the number, but a reader would not expect it; most likely a typo.
    r.add(
      'E_CONFLICT',
      r.at('metrics.port'),
      'metrics.port',
      `${m.port} is also an IKE port`,
      'pick a free TCP port, e.g. 9814',
    );
  }
  const limits = raw.limits as { halfOpen?: number } | undefined;
  const ct = raw.cookieThreshold as number | undefined;
  if (ct !== undefined && limits?.halfOpen !== undefined && ct > limits.halfOpen) {
    const msg = `${ct} is above limits.half-open (${limits.halfOpen}), so cookies would never be asked for`;
    r.add(
      'E_CONFLICT',
      r.at('cookie-threshold'),
      'cookie-threshold',
      msg,
      `write at most ${limits.halfOpen}`,
    );
  }
}

function buildConnection(
  ctx: BuildContext,
  name: string,
  c: Raw,
  globalLocal: IpAddress,
  listens: readonly IpAddress[],
): Connection | undefined {
  const { r } = ctx;
  const path = `connections.${name}`;
  const localAddress = (c.localAddress as IpAddress | undefined) ?? globalLocal;
  if (listens.length > 1 && !listens.some((a) => a.address === localAddress.address)) {
    const at = `${path}.local-address`;
    r.add(
      'E_CONFLICT',
      r.at(at),
      at,
      `${localAddress.address} is not one of local.address and local.addresses (${listens.map((a) => a.address).join(', ')})`,
      'name one of the addresses IKE listens on, or add it to local.addresses',
    );
    return undefined;
  }
  const named = c.remote as IpAddress | 'any' | { hostName: string } | undefined;
  const remoteName = typeof named === 'object' && 'hostName' in named ? named.hostName : undefined;
  let remote: IpAddress | 'any' | undefined =
    remoteName !== undefined
      ? resolveRemote(ctx, remoteName, `${path}.remote`, localAddress)
      : (named as IpAddress | 'any' | undefined);
  if (remote !== undefined && remote !== 'any' && remote.family !== localAddress.family) {
    const where = c.localAddress !== undefined ? `local-address` : 'local.address';
    const msg = `${remote.address} is IPv${remote.family} but ${where} ${localAddress.address} is IPv${localAddress.family}`;
    r.add(
      'E_CONFLICT',
      r.at(`${path}.remote`),
      `${path}.remote`,
      msg,
      'set local-address of the same family for this connection',
    );
    remote = undefined; // reported; the checks that depend on it would only repeat it
  }
  const auth = buildAuth(ctx, c.auth as Raw | undefined, `${path}.auth`);
  const mode = c.mode as Connection['mode'];
  const routeBased = c.interface !== undefined;
  const subnets = buildSubnets(r, c, path, mode, localAddress, remote, routeBased);
  const iface = routeBased
    ? buildInterface(r, ctx.file, c.interface as Raw, path, subnets?.[1] ?? [], c.ifId as number | undefined)
    : undefined;
  if (routeBased)
    for (const k of ['ifIdIn', 'ifIdOut'] as const)
      if (c[k] !== undefined) {
        const p = `${path}.${k === 'ifIdIn' ? 'if-id-in' : 'if-id-out'}`;
        const msg = 'an XFRM interface has one if_id for both directions';
        r.add('E_CONFLICT', r.at(p), p, msg, 'remove it; interface.if-id applies both ways');
      }
  const start = buildStart(r, c, path, remote);
  const children =
    subnets === undefined
      ? undefined
      : buildChildren(r, {
          path,
          raw: c,
          localAddress,
          remote,
          routeBased,
          subnets,
          start,
          ifId: iface?.ifId ?? (c.ifId as number | undefined),
        });
  checkLifetimes(r, c, path);
  checkPfs(r, c, path);
  checkChildProtocol(r, c, path, mode);
  const liveness = buildLiveness(r, c.liveness as Raw | false | undefined, path, remote);
  const hook = buildHook(r, c.hook as Raw | undefined, `${path}.hook`);
  if (remote === undefined || auth === undefined || subnets === undefined || liveness === undefined)
    return undefined;
  if (routeBased && iface === undefined) return undefined;
  if (c.hook !== undefined && hook === undefined) return undefined;
  if (children === null) return undefined;
  // With children and no subnets of its own, the connection's traffic is theirs together.
  const own = (key: 'localSubnets' | 'remoteSubnets', i: 0 | 1) =>
    children && c[key] === undefined ? unionSubnets(children, key) : subnets[i];
  const answersOn =
    remote === 'any' && c.localAddress === undefined && listens.length > 1
      ? listens.filter((a) => a.family === localAddress.family)
      : undefined;
  return {
    name,
    localAddress,
    ...(answersOn && answersOn.length > 1 ? { answersOn } : {}),
    remote,
    remoteName,
    auth,
    localId: (c.localId as Identity | undefined) ?? defaultLocalId(auth, localAddress),
    remoteId: (c.remoteId as Identity | undefined) ?? defaultRemoteId(remote),
    localSubnets: own('localSubnets', 0),
    remoteSubnets: own('remoteSubnets', 1),
    mode,
    start,
    children,
    onePerPair: c.oneSaPerSubnetPair as boolean,
    ikeProposals: c.ikeProposals as string[],
    espProposals: c.espProposals as string[],
    protocol: (c.protocol as Connection['protocol'] | undefined) ?? 'esp',
    ahProposals: (c.ahProposals as string[] | undefined) ?? ['sha256'],
    tfcPadding: c.tfcPadding as Connection['tfcPadding'],
    acceptTfcPadding: c.acceptTfcPadding !== false,
    ikeLifetimeMs: c.ikeLifetime as number,
    childLifetimeMs: c.childLifetime as number,
    childLifetimeBytes: c.childLifetimeBytes as number | undefined,
    rekeyMarginMs: c.rekeyMargin as number,
    liveness,
    retry: buildRetry(c.retry as Raw),
    encapsulation: c.encapsulation as Connection['encapsulation'],
    fragmentation: c.fragmentation as boolean,
    pfs: c.pfs as boolean,
    esn: c.esn as boolean,
    replayWindow: c.replayWindow as number,
    mark: c.mark as Connection['mark'],
    ifId: iface?.ifId ?? (c.ifId as number | undefined),
    markIn: c.markIn as Connection['markIn'],
    markOut: c.markOut as Connection['markOut'],
    ifIdIn: c.ifIdIn as number | undefined,
    ifIdOut: c.ifIdOut as number | undefined,
    interface: iface,
    hook,
  };
}

function buildRetry(raw: Raw): Connection['retry'] {
  const initialMs = raw.initial as number;
  return { initialMs, maxMs: Math.max(initialMs, raw.max as number), attempts: raw.attempts as number };
}

/** The first address of our family that `name` resolves to; reported at the key when there is none. */
function resolveRemote(ctx: BuildContext, name: string, at: string, local: IpAddress): IpAddress | undefined {
  const res = ctx.resolve(name);
  if ('error' in res) {
    ctx.r.add(
      'E_RESOLVE',
      ctx.r.at(at),
      at,
      `"${name}" does not resolve: ${res.error}`,
      'check the name, /etc/hosts and the DNS server, or write the peer\u2019s address',
    );
    return undefined;
  }
  const same = res.addresses.find((a) => a.family === local.family);
  if (same === undefined) {
    const found = res.addresses.map((a) => a.address).join(', ');
    ctx.r.add(
      'E_RESOLVE',
      ctx.r.at(at),
      at,
      `"${name}" resolves to ${found}, none IPv${local.family} like our ${local.address}`,
      'set local-address of the family the name resolves to',
    );
    return undefined;
  }
  return same;
}

function buildAuth(
  ctx: BuildContext,
  auth: Raw | undefined,
  path: string,
): PskAuth | CertAuth | PubkeyAuth | undefined {
  if (auth?.psk !== undefined) {
    const psk = loadSecret(ctx.r, auth.psk as Raw, `${path}.psk`, ctx.env);
    return psk === undefined ? undefined : { kind: 'psk', psk };
  }
  if (auth?.cert !== undefined) {
    const cert = auth.cert as Raw;
    if (cert.cert === undefined || cert.key === undefined || cert.ca === undefined) return undefined;
    return loadCertAuth(ctx.r, cert, `${path}.cert`, ctx.now);
  }
  if (auth?.pubkey !== undefined) {
    const pk = auth.pubkey as Raw;
    if (pk.key === undefined || pk.peer === undefined) return undefined;
    return loadPubkeyAuth(ctx.r, pk, `${path}.pubkey`);
  }
  return undefined;
}

/** RFC 7296 §3.5: our ID defaults to the certificate subject (DN), else our address. */
function defaultLocalId(auth: PskAuth | CertAuth | PubkeyAuth, local: IpAddress): Identity {
  if (auth.kind === 'cert') return { kind: 'dn', value: normalizeDn(auth.cert.subject) };
  return { kind: local.family === 4 ? 'ipv4' : 'ipv6', value: local.address };
}

function defaultRemoteId(remote: IpAddress | 'any'): Identity {
  if (remote === 'any') return { kind: 'any', value: 'any' };
  return { kind: remote.family === 4 ? 'ipv4' : 'ipv6', value: remote.address };
}

function buildStart(
  r: Reporter,
  c: Raw,
  path: string,
  remote: IpAddress | 'any' | undefined,
): Connection['start'] {
  const start = c.start as Connection['start'] | undefined;
  if (remote === 'any' && start !== undefined && start !== 'wait') {
    const p = `${path}.start`;
    r.add(
      'E_CONFLICT',
      r.at(p),
      p,
      `cannot start "${start}" towards remote: any`,
      'use start: wait, or give the peer\u2019s address',
    );
  }
  return start ?? (remote === 'any' ? 'wait' : 'now');
}

function buildLiveness(
  r: Reporter,
  raw: Raw | false | undefined,
  path: string,
  remote: IpAddress | 'any' | undefined,
): Liveness | false | undefined {
  if (raw === false) return false;
  if (raw === undefined || typeof raw.interval !== 'number' || typeof raw.timeout !== 'number')
    return undefined;
  const action = raw.action as LivenessAction | undefined;
  const p = `${path}.liveness`;
  if (remote === 'any' && action !== undefined && action !== 'clear') {
    r.add(
      'E_CONFLICT',
      r.at(`${p}.action`),
      `${p}.action`,
      `"${action}" needs a known peer address`,
      'use action: clear',
    );
  }
  if (raw.timeout < raw.interval) {
    const msg = `timeout ${formatDuration(raw.timeout)} is shorter than interval ${formatDuration(raw.interval)}`;
    r.add(
      'E_CONFLICT',
      r.at(`${p}.timeout`),
      `${p}.timeout`,
      msg,
      `write at least ${formatDuration(raw.interval)}`,
    );
  }
  return {
    intervalMs: raw.interval,
    timeoutMs: raw.timeout,
    action: action ?? (remote === 'any' ? 'clear' : 'restart'),
  };
}

function checkLifetimes(r: Reporter, c: Raw, path: string): void {
  const margin = c.rekeyMargin as number | undefined;
  if (margin === undefined) return;
  for (const key of ['ike-lifetime', 'child-lifetime'] as const) {
    const life = c[key === 'ike-lifetime' ? 'ikeLifetime' : 'childLifetime'] as number | undefined;
    if (life !== undefined && margin >= life) {
      const p = `${path}.rekey-margin`;
      const msg = `${formatDuration(margin)} is not shorter than ${key} ${formatDuration(life)}, so the SA would rekey at once`;
      r.add('E_CONFLICT', r.at(p), p, msg, `make rekey-margin shorter than ${formatDuration(life)}`);
    }
  }
}

function checkPfs(r: Reporter, c: Raw, path: string): void {
  if (c.pfs !== false || !Array.isArray(c.espProposals)) return;
  (c.espProposals as string[]).forEach((prop, i) => {
    if (checkProposal(prop, 'esp').tokens.some((t) => t.kind === 'ke')) {
      const p = `${path}.esp-proposals[${i}]`;
      r.add(
        'E_CONFLICT',
        r.at(p),
        p,
        `"${prop}" names a key exchange but pfs is false`,
        'remove the group or set pfs: true',
      );
    }
  });
}

/**
 * protocol: ah (RFC 4302) and TFC padding (RFC 4303 §2.7): the settings that cannot hold together,
 * each reported at the key that breaks it, and the warning that AH leaves the traffic readable.
 */
function checkChildProtocol(r: Reporter, c: Raw, path: string, mode: string | undefined): void {
  const given = (key: string) => r.given.has(`${path}.${key}`);
  const conflict = (key: string, msg: string, hint: string) =>
    r.add('E_CONFLICT', r.at(`${path}.${key}`), `${path}.${key}`, msg, hint);
  if (c.protocol === 'ah') {
    const p = `${path}.protocol`;
    r.add(
      'W_CLEARTEXT',
      r.at(p),
      p,
      'AH does not encrypt: the protected traffic crosses the network readable by anyone on the path ' +
        '(RFC 4302 gives integrity and origin authentication only)',
      'use protocol: esp unless a policy demands AH',
    );
    if (given('esp-proposals'))
      conflict(
        'esp-proposals',
        'ESP proposals (encryption) do not apply with protocol: ah, which does not encrypt',
        'write the integrity algorithms as ah-proposals: [sha256], or use protocol: esp',
      );
    if (c.tfcPadding !== undefined)
      conflict(
        'tfc-padding',
        'TFC padding is an ESP feature (RFC 4303 §2.7): AH has no padding, and the kernel refuses it for AH',
        'remove tfc-padding, or use protocol: esp',
      );
  } else if (given('ah-proposals'))
    conflict('ah-proposals', 'ah-proposals apply only with protocol: ah', 'add protocol: ah or remove them');
  if (c.tfcPadding !== undefined && mode === 'transport')
    conflict(
      'tfc-padding',
      'TFC padding needs tunnel mode: in transport mode the receiver cannot tell the padding from the ' +
        'payload (RFC 4303 §2.7, only an inner IP header carries the true length)',
      'remove tfc-padding, or use mode: tunnel',
    );
}
