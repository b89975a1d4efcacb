// ipsec.conf and ipsec.secrets for one Libreswan 4.10 pluto, rendered from a typed description.
// Pure: no files, no processes. Values are checked before they go verbatim into the files, and a
// rejected secret is never echoed (its length only).

export class LswConfError extends Error {
  readonly code = 'LIBRESWAN_CONF_ERROR';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`unsafe or invalid ipsec.conf value for ${field}: ${detail}`);
    this.name = 'LswConfError';
  }
}

/** psk: authby=secret (RFC 7296 §2.15); rsa / ecdsa: certificate signatures (RFC 7427). */
export type LswAuth = 'psk' | 'rsa' | 'ecdsa';

export interface LswConnection {
  readonly name: string;
  /** Our address (left=) and the peer's (right=, or %any for a responder to anyone). */
  readonly left: string;
  readonly right: string;
  /** IKE identities as Libreswan writes them: '@fqdn', an address, a DN, or %fromcert. */
  readonly leftId: string;
  readonly rightId: string;
  readonly auth: LswAuth;
  /** NSS nickname of our certificate (leftcert=) for rsa/ecdsa; it is always sent. */
  readonly leftCert?: string;
  /** Protected subnets; more than one becomes leftsubnets={...}. Omitted: host to host. */
  readonly leftSubnets?: readonly string[];
  readonly rightSubnets?: readonly string[];
  readonly type?: 'tunnel' | 'transport';
  /** Libreswan proposal syntax, e.g. 'aes_gcm256-sha2_256;dh31' and 'aes_gcm256'. */
  readonly ike?: string;
  readonly esp?: string;
  /** PFS on Child SA rekeys (default yes in Libreswan). */
  readonly pfs?: boolean;
  /** UDP encapsulation (RFC 3948): yes forces it, auto only behind NAT. */
  readonly encapsulation?: 'yes' | 'no' | 'auto';
  /** IKE fragmentation (RFC 7383). */
  readonly fragmentation?: 'yes' | 'no' | 'force';
  /** Liveness (RFC 7296 §2.4): seconds between checks, seconds until the peer is dead, action. */
  readonly dpdDelay?: number;
  readonly dpdTimeout?: number;
  readonly dpdAction?: 'clear' | 'hold' | 'restart';
  /** Lifetimes in Libreswan syntax ('1h', '300s'). */
  readonly ikeLifetime?: string;
  readonly saLifetime?: string;
  readonly rekey?: boolean;
  readonly auto?: 'add' | 'start' | 'ondemand' | 'ignore';
  /** Seconds between retransmits / until pluto gives up (retransmit-interval is in ms). */
  readonly retransmitIntervalMs?: number;
  readonly retransmitTimeout?: number;
  /**
   * The updown command pluto runs for prepare/route/up/down (leftupdown=). Libreswan's default is
   * `ipsec _updown`, which on a host with strongSwan runs strongSwan's `ipsec` and its updown.
   */
  readonly updown?: string;
  /** Further key=value lines (validated like every other value). */
  readonly extra?: Readonly<Record<string, string>>;
}

export interface LswSecrets {
  /** Pre-shared keys; `ids` are the two identities the key is for (empty: any). */
  readonly psk?: readonly { readonly secret: string; readonly ids?: readonly string[] }[];
}

export interface SetupOptions {
  readonly logfile: string;
  readonly listen?: string;
  readonly debug?: string;
}

const SAFE = /^[\w.:/%@,;+=*-]+$/;
const KEY = /^[a-z][a-z0-9-]*$/;
/** DNs (C=XX, O=y, CN=z) contain spaces: allowed inside quotes, never quotes or newlines. */
const SAFE_ID = /^[\w.:/%@,+=* -]+$/;

function v(value: string, field: string): string {
  if (!SAFE.test(value)) throw new LswConfError(field, JSON.stringify(value));
  return value;
}
function id(value: string, field: string): string {
  if (!SAFE_ID.test(value)) throw new LswConfError(field, JSON.stringify(value));
  return value.includes(' ') ? `"${value}"` : value;
}
function n(value: number, field: string): string {
  if (!Number.isInteger(value) || value < 0 || value > 86_400_000)
    throw new LswConfError(field, String(value));
  return String(value);
}
const yn = (b: boolean) => (b ? 'yes' : 'no');

function subnets(side: 'left' | 'right', nets: readonly string[] | undefined): string[] {
  if (!nets?.length) return [];
  const vals = nets.map((x) => v(x, `${side}subnet`));
  return vals.length === 1 ? [`${side}subnet=${vals[0]}`] : [`${side}subnets={${vals.join(' ')}}`];
}

const AUTHBY: Record<LswAuth, string> = { psk: 'secret', rsa: 'rsasig', ecdsa: 'ecdsa' };

/** The key=value lines of one `conn` section (without the header). */
export function connLines(c: LswConnection): string[] {
  if (c.auth !== 'psk' && !c.leftCert) throw new LswConfError(`${c.name}.leftCert`, `needed for ${c.auth}`);
  const l: string[] = ['ikev2=insist', `authby=${AUTHBY[c.auth]}`, `type=${c.type ?? 'tunnel'}`];
  l.push(`left=${v(c.left, 'left')}`, `leftid=${id(c.leftId, 'leftid')}`);
  if (c.leftCert) l.push(`leftcert=${v(c.leftCert, 'leftcert')}`, 'leftsendcert=always');
  if (c.updown) l.push(`leftupdown=${v(c.updown, 'leftupdown')}`);
  l.push(...subnets('left', c.leftSubnets));
  l.push(`right=${v(c.right, 'right')}`, `rightid=${id(c.rightId, 'rightid')}`);
  l.push(...subnets('right', c.rightSubnets));
  if (c.ike) l.push(`ike=${v(c.ike, 'ike')}`);
  if (c.esp) l.push(`esp=${v(c.esp, 'esp')}`);
  if (c.pfs !== undefined) l.push(`pfs=${yn(c.pfs)}`);
  if (c.encapsulation) l.push(`encapsulation=${c.encapsulation}`);
  if (c.fragmentation) l.push(`fragmentation=${c.fragmentation}`);
  if (c.dpdDelay !== undefined) l.push(`dpddelay=${n(c.dpdDelay, 'dpddelay')}`);
  if (c.dpdTimeout !== undefined) l.push(`dpdtimeout=${n(c.dpdTimeout, 'dpdtimeout')}`);
  if (c.dpdAction) l.push(`dpdaction=${c.dpdAction}`);
  if (c.ikeLifetime) l.push(`ikelifetime=${v(c.ikeLifetime, 'ikelifetime')}`);
  if (c.saLifetime) l.push(`salifetime=${v(c.saLifetime, 'salifetime')}`);
  if (c.rekey !== undefined) l.push(`rekey=${yn(c.rekey)}`);
  if (c.retransmitIntervalMs !== undefined)
    l.push(`retransmit-interval=${n(c.retransmitIntervalMs, 'retransmit-interval')}`);
  if (c.retransmitTimeout !== undefined)
    l.push(`retransmit-timeout=${n(c.retransmitTimeout, 'retransmit-timeout')}s`);
  for (const [k, val] of Object.entries(c.extra ?? {})) {
    if (!KEY.test(k)) throw new LswConfError('extra key', JSON.stringify(k));
    l.push(`${k}=${v(val, k)}`);
  }
  l.push(`auto=${c.auto ?? 'add'}`);
  return l;
}

/** ipsec.conf: `config setup` (kernel XFRM, our log file, no DNSSEC lookups) and one conn each. */
export function renderIpsecConf(conns: readonly LswConnection[], setup: SetupOptions): string {
  const out = ['config setup', '\tprotostack=xfrm', `\tlogfile=${v(setup.logfile, 'logfile')}`];
  out.push('\tlogappend=yes', '\tdnssec-enable=no', '\tuniqueids=yes');
  out.push(`\tplutodebug=${setup.debug ? id(setup.debug, 'plutodebug') : 'none'}`);
  if (setup.listen) out.push(`\tlisten=${v(setup.listen, 'listen')}`);
  const names = new Set<string>();
  for (const c of conns) {
    if (!/^[\w.-]+$/.test(c.name) || names.has(c.name)) throw new LswConfError('conn name', c.name);
    names.add(c.name);
    out.push('', `conn ${c.name}`, ...connLines(c).map((x) => `\t${x}`));
  }
  return out.join('\n') + '\n';
}

/** ipsec.secrets: `id1 id2 : PSK "secret"` (a quoted string or 0x hex octets). */
export function renderIpsecSecrets(s: LswSecrets): string {
  const out: string[] = [];
  (s.psk ?? []).forEach((p, i) => {
    const hex = /^0x([0-9a-f]{2})+$/i.test(p.secret);
    if (!hex && (!/^[\x20-\x7e]+$/.test(p.secret) || p.secret.includes('"'))) {
      // The secret's value never goes into the error: its position and length only.
      throw new LswConfError(`psk[${i}]`, `<redacted, ${p.secret.length} chars>`);
    }
    const ids = (p.ids ?? []).map((x) => id(x, `psk[${i}].ids`));
    out.push(`${ids.length ? ids.join(' ') + ' ' : ''}: PSK ${hex ? p.secret : `"${p.secret}"`}`);
  });
  return out.join('\n') + '\n';
}
