// Validated config (src/config) -> the engine's connection objects (src/ike/config.ts). Pure apart
// from reading the secrets' bytes, which go to the engine as bytes and are never logged. Also the
// fingerprint used by reload to tell changed connections from unchanged ones.
import { createHash, KeyObject, X509Certificate } from 'node:crypto';
import type { Child, Connection } from '../config/index.ts';
import { Secret } from '../config/index.ts';
import {
  CredentialStore,
  idFromConfig,
  parseCrl,
  RawKeyAuth,
  type RevocationChecker,
  type RevocationPolicy,
} from '../creds/index.ts';
import type { ChildConfig, IkeConnection, IkeIdentity } from '../ike/config.ts';
import { splitPerPair } from '../ike/child-config.ts';
import { rawKeyCredentials, storeCredentials } from '../ike/creds-adapter.ts';
import { parseProposals } from '../ike/proposal-string.ts';
import { failClosedPolicies as spdFailClosed } from '../ike/spd/policies.ts';
import type { PolicyParams } from '../kernel/types.ts';
import { tsAny, tsFromCidr, type TrafficSelector } from '../ike/traffic-selectors.ts';

/** Per-connection options the daemon decides (not in the YAML). */
export interface MapOptions {
  /** Kernel reqid for the connection's Child SAs and fail-closed policies (stable per name). */
  readonly reqid?: number;
  /**
   * Kernel reqid of a child other than the first (`reqids.ts` childReqids); the first child has
   * `reqid`. Absent: the engine allocates one per Child SA.
   */
  readonly childReqid?: (child: string) => number | undefined;
  /** The daemon's revocation checker (one cache for all connections); none: revocation is not checked. */
  readonly revocation?: RevocationChecker;
}

/** The connection's revocation policy for src/creds; CRL files are parsed here (CredsError if bad). */
export function revocationPolicy(c: Connection): RevocationPolicy | undefined {
  if (c.auth.kind !== 'cert') return undefined;
  const r = c.auth.revocation;
  return {
    mode: r.mode,
    crls: r.crls.map((b, i) => {
      try {
        return parseCrl(b);
      } catch (e) {
        throw new Error(`${r.crlFiles[i]}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }),
    ...(r.ocspResponder !== undefined ? { ocspUrl: r.ocspResponder } : {}),
    ocspMethod: r.ocspMethod,
    fetch: r.fetch,
    timeoutMs: r.timeoutMs,
  };
}

/** XFRMA_TFCPAD for "pad to the path MTU": the kernel caps the padding at the SA's MTU (esp_output). */
export const TFC_TO_MTU = 65535;

/** AH (RFC 4302) and TFC padding (RFC 4303 §2.7) settings of the connection's Child SAs. */
function childProtocolOptions(
  c: Connection,
): Pick<ChildConfig, 'childProtocol' | 'tfcPadding' | 'acceptTfcPadding'> {
  return {
    ...(c.protocol === 'ah' ? { childProtocol: 'ah' as const } : {}),
    // "mtu" asks for the largest size; the kernel pads to min(tfcpad, path MTU).
    ...(c.tfcPadding !== undefined ? { tfcPadding: c.tfcPadding === 'mtu' ? TFC_TO_MTU : c.tfcPadding } : {}),
    ...(c.acceptTfcPadding ? {} : { acceptTfcPadding: false }),
  };
}

/** RFC 4303 §2.2.1 (and RFC 4302 §2.5.1 for AH): `esn: true` adds the ESN transform to proposals that do not name one. */
function espProposalStrings(c: Connection, props: readonly string[] = c.espProposals): string[] {
  if (!c.esn) return [...props];
  return props.map((p) => (/(^|-)(no)?esn(-|$)/.test(p) ? p : `${p}-esn`));
}

function selectors(c: Pick<Connection, 'localSubnets' | 'remoteSubnets'>): {
  local: TrafficSelector[];
  remote: TrafficSelector[];
} {
  const local = c.localSubnets.map((p) => tsFromCidr(p.text));
  // remote: any with no remote-subnets: "whatever the peer's address is"; the responder narrows
  // the peer's proposal to its own address range (RFC 7296 §2.9), so offer the whole family.
  const remote =
    c.remoteSubnets.length > 0
      ? c.remoteSubnets.map((p) => tsFromCidr(p.text))
      : [...new Set(local.map((t) => t.type))].map((t) => tsAny(t));
  return { local, remote };
}

function ikeAuth(
  c: Connection,
  localId: IkeIdentity,
  remoteId: IkeIdentity | undefined,
  opts: MapOptions,
): IkeConnection['auth'] {
  const a = c.auth;
  if (a.kind === 'psk') return { kind: 'psk', psk: a.psk.bytes() };
  // RFC 7670: raw public keys go through the engine's signature path like certificates.
  if (a.kind === 'pubkey')
    return { kind: 'cert', credentials: rawKeyCredentials(new RawKeyAuth(a.key, a.peer)) };
  const policy = revocationPolicy(c);
  const checker = opts.revocation;
  return {
    kind: 'cert',
    credentials: storeCredentials(CredentialStore.fromConnection({ ...c, auth: a }), {
      localId,
      ...(remoteId ? { expectedId: remoteId } : {}),
      ...(checker && policy && policy.mode !== 'off' ? { revocation: { checker, policy } } : {}),
    }),
  };
}

/** The engine's view of one connection. Lifetimes: rekey `rekeyMarginMs` before the hard limit. */
export function toIkeConnection(c: Connection, opts: MapOptions = {}): IkeConnection {
  const localId = idFromConfig(c.localId);
  const remoteId = c.remoteId.kind === 'any' ? undefined : idFromConfig(c.remoteId);
  const auth = ikeAuth(c, localId, remoteId, opts);
  const ts = selectors(c);
  const margin = (ms: number) => Math.max(1000, ms - c.rekeyMarginMs);
  return {
    name: c.name,
    localAddr: c.localAddress.address,
    ...(c.answersOn ? { localAddrs: c.answersOn.map((a) => a.address) } : {}),
    ...(c.remote !== 'any' ? { remoteAddr: c.remote.address } : {}),
    ...(c.remoteName !== undefined ? { remoteName: c.remoteName } : {}),
    localId,
    ...(remoteId ? { remoteId } : {}),
    auth,
    ikeProposals: parseProposals(c.ikeProposals, 'ike'),
    // RFC 4302: with protocol ah the Child SA proposals are AH ones (protocol ID 2, integrity only).
    espProposals:
      c.protocol === 'ah'
        ? parseProposals(espProposalStrings(c, c.ahProposals), 'ah')
        : parseProposals(espProposalStrings(c), 'esp'),
    ...childProtocolOptions(c),
    localTs: ts.local,
    remoteTs: ts.remote,
    mode: c.mode,
    childRekeyMs: margin(c.childLifetimeMs),
    childLifetimeMs: c.childLifetimeMs,
    ...(c.childLifetimeBytes !== undefined ? { childLifetimeBytes: BigInt(c.childLifetimeBytes) } : {}),
    ikeRekeyMs: margin(c.ikeLifetimeMs),
    ikeLifetimeMs: c.ikeLifetimeMs,
    fragmentation: c.fragmentation,
    forceEncap: c.encapsulation === 'force',
    replayWindow: c.replayWindow,
    ...(c.mark ? { mark: { value: c.mark.value, mask: c.mark.mask } } : {}),
    ...(c.ifId !== undefined ? { ifId: c.ifId } : {}),
    ...(c.markIn ? { markIn: { value: c.markIn.value, mask: c.markIn.mask } } : {}),
    ...(c.markOut ? { markOut: { value: c.markOut.value, mask: c.markOut.mask } } : {}),
    ...(c.ifIdIn !== undefined ? { ifIdIn: c.ifIdIn } : {}),
    ...(c.ifIdOut !== undefined ? { ifIdOut: c.ifIdOut } : {}),
    // RFC 7296 §2.4 liveness: probe after this much silence; the configured action when the peer is dead.
    ...(c.liveness
      ? {
          dpdDelayMs: c.liveness.intervalMs,
          dpdTimeoutMs: c.liveness.timeoutMs,
          dpdAction: c.liveness.action,
        }
      : {}),
    ...(opts.reqid !== undefined ? { reqid: opts.reqid } : {}),
    ...(c.children || c.onePerPair ? { children: childConfigs(c, opts) } : {}),
  };
}

/**
 * The engine's children of a connection: `children:` (or the shorthand's one child) with the
 * connection's proposals rules and lifetimes, split into one per subnet pair when asked. The first
 * child keeps the connection's reqid, the others get their own (stable per name).
 */
export function childConfigs(c: Connection, opts: MapOptions = {}): ChildConfig[] {
  const margin = (ms: number) => Math.max(1000, ms - c.rekeyMarginMs);
  const given: readonly Child[] = c.children ?? [
    {
      name: c.name,
      localSubnets: c.localSubnets,
      remoteSubnets: c.remoteSubnets,
      espProposals: c.espProposals,
      mode: c.mode,
      start: c.start,
      childLifetimeMs: c.childLifetimeMs,
      childLifetimeBytes: c.childLifetimeBytes,
      mark: c.mark,
      ifId: c.ifId,
    },
  ];
  const mapped = given.map((k): ChildConfig => {
    const ts = selectors(k);
    return {
      name: k.name,
      // RFC 4302: protocol ah (a connection setting, for every child) takes the AH proposals.
      espProposals:
        c.protocol === 'ah'
          ? parseProposals(espProposalStrings(c, c.ahProposals), 'ah')
          : parseProposals(espProposalStrings(c, k.espProposals), 'esp'),
      ...childProtocolOptions(c),
      localTs: ts.local,
      remoteTs: ts.remote,
      mode: k.mode,
      start: k.start,
      childRekeyMs: margin(k.childLifetimeMs),
      childLifetimeMs: k.childLifetimeMs,
      ...(k.childLifetimeBytes !== undefined ? { childLifetimeBytes: BigInt(k.childLifetimeBytes) } : {}),
      ...(k.mark ? { mark: { value: k.mark.value, mask: k.mark.mask } } : {}),
      ...(k.ifId !== undefined ? { ifId: k.ifId } : {}),
    };
  });
  const split = c.onePerPair ? splitPerPair(mapped) : mapped;
  return split.map((k, i) => {
    const reqid = i === 0 ? opts.reqid : opts.childReqid?.(k.name);
    return reqid !== undefined ? { ...k, reqid } : k;
  });
}

const digest = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/**
 * JSON of a config value with secrets and keys as SHA-256 digests (toJSON() runs before a replacer
 * sees the value, and Secret's gives "<redacted>": the replacer looks at the raw one).
 */
function digestJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    if (raw instanceof Secret) return `secret:${digest(raw.bytes())}`;
    if (raw instanceof X509Certificate) return `cert:${raw.fingerprint256}`;
    if (raw instanceof KeyObject) {
      const der =
        raw.type === 'private'
          ? raw.export({ type: 'pkcs8', format: 'der' })
          : raw.export({ type: 'spki', format: 'der' });
      return `key:${digest(der)}`;
    }
    if (raw instanceof Uint8Array) return `bytes:${digest(raw)}`; // e.g. CRL files
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

/**
 * A stable text of everything that defines a connection, for reload's "changed?" question. Secrets
 * and keys enter only as SHA-256 digests (the fingerprint is compared, never logged or sent).
 */
export function connectionFingerprint(c: Connection): string {
  return digest(digestJson(c));
}

/**
 * The top-level fields in which two connections differ (`plan`), by the same serialization as the
 * fingerprint: connections whose fingerprints differ differ in at least one field named here.
 */
export function changedFields(a: Connection, b: Connection): string[] {
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])];
  return keys.filter((k) => digestJson(ra[k]) !== digestJson(rb[k])).sort();
}

/**
 * Whether a connection gets fail-closed policies (RFC 4301 §4.4.1): only for configured remote subnets;
 * remote: any without them means "whatever the peer's address is", nothing to block.
 */
export function hasRemoteSubnets(c: Connection): boolean {
  return c.remoteSubnets.length > 0;
}

/** The fail-closed policies the policy owner (src/ike/spd) installs for a connection and reqid. */
export function failClosedPolicies(
  c: Connection,
  reqid: number | undefined,
  childReqid?: (child: string) => number | undefined,
): PolicyParams[] {
  const opts = { ...(reqid !== undefined ? { reqid } : {}), ...(childReqid ? { childReqid } : {}) };
  return hasRemoteSubnets(c) ? spdFailClosed(toIkeConnection(c, opts)) : [];
}

/** Whether a connection can be reached by traffic: a fixed peer (trap policies need its address). */
export function hasFixedPeer(c: Connection): boolean {
  return c.remote !== 'any';
}
