// Builds a Topology into network namespaces (host-a, router-a, [nat], router-b, host-b joined by
// veth links) with one generated shell script, and tears it all down again. Routers forward with
// rp_filter off; each router routes the other site's LANs towards the WAN, so without IPsec
// policies that traffic would cross the WAN in clear: the checks (checks.ts) tell the two apart.
import { spawnSync } from 'node:child_process';
import { LabNs, labNsName, removeNamespaces } from '../netns/lab-ns.ts';
import { LabError } from '../errors.ts';
import {
  familyOf,
  gatewayOf,
  otherSite,
  siteOf,
  type Family,
  type Netem,
  type Site,
  type SiteName,
  type Topology,
} from './topology.ts';

export interface SiteNamespaces {
  readonly router: LabNs;
  /** Undefined when the site has no LAN (host-to-host labs). */
  readonly host: LabNs | undefined;
  /** The router's WAN interface (towards the peer or the NAT router). */
  readonly wanIf: string;
}

export interface Lab {
  readonly topology: Topology;
  readonly a: SiteNamespaces;
  readonly b: SiteNamespaces;
  readonly nat: LabNs | undefined;
  site(name: SiteName): SiteNamespaces;
  namespaces(): LabNs[];
  /** Removes every namespace (killing what runs inside). Idempotent, never throws. */
  teardown(): void;
}

/** Kernel modules a lab needs beyond the guest runner's ESP set (NAT router, netem). */
export const LAB_MODULES = [
  'nf_tables',
  'nf_conntrack',
  'nf_nat',
  'nft_chain_nat',
  'nft_masq',
  'nft_nat',
  'sch_netem',
] as const;

const ROUTER_SYSCTLS =
  'net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0';

/** Namespace names per role; interface names inside them are fixed (wan, lan, inside, outside). */
export interface LabNames {
  readonly ra: string;
  readonly rb: string;
  readonly ha?: string;
  readonly hb?: string;
  readonly nat?: string;
}

function ipAddr(ns: string, dev: string, a: string, len: number): string {
  return `ip -n ${ns} addr add ${a}/${len} dev ${dev}${familyOf(a) === 6 ? ' nodad' : ''}`;
}

function veth(a: string, aDev: string, b: string, bDev: string): string[] {
  return [
    `ip link add ${aDev} netns ${a} type veth peer name ${bDev} netns ${b}`,
    `ip -n ${a} link set ${aDev} up`,
    `ip -n ${b} link set ${bDev} up`,
  ];
}

/** `ip route` for a remote LAN via the WAN next hop, across families (RFC 5549 style) when needed. */
function routeVia(ns: string, prefix: string, gw: string): string {
  const pf = familyOf(prefix.split('/')[0]!);
  if (pf === familyOf(gw)) return `ip -n ${ns} route replace ${prefix} via ${gw}`;
  if (pf === 4) return `ip -n ${ns} route replace ${prefix} via inet6 ${gw} dev wan`;
  return `ip -n ${ns} route replace ${prefix} dev wan`;
}

function netemLine(ns: string, dev: string, n: Netem): string {
  const args = [`tc -n ${ns} qdisc replace dev ${dev} root netem limit 10000`];
  if (n.delayMs) args.push(`delay ${n.delayMs}ms`);
  if (n.lossPct) args.push(`loss ${n.lossPct}%`);
  if (n.reorderPct) args.push(`reorder ${n.reorderPct}% 50%`);
  return args.join(' ');
}

function siteLanLines(t: Topology, s: Site, router: string, host: string | undefined): string[] {
  if (s.lans.length === 0 || host === undefined) return [];
  const lines = veth(host, 'lan', router, 'lan');
  for (const l of s.lans)
    lines.push(ipAddr(host, 'lan', l.host, l.prefixLength), ipAddr(router, 'lan', l.router, l.prefixLength));
  // The host reaches the other site through its router; specific routes beat an overlapping
  // connected prefix (examples/nat-traversal.yaml: 10.7.0.0/24 on one side, 10.0.0.0/8 on the other).
  for (const f of new Set<Family>(s.lans.map((l) => l.family))) {
    const gw = s.lans.find((l) => l.family === f)!.router;
    lines.push(`ip -n ${host} route replace default via ${gw}`);
    for (const r of siteOf(t, otherSite(s.name)).lans.filter((l) => l.family === f))
      lines.push(`ip -n ${host} route replace ${r.prefix} via ${gw}`);
  }
  return lines;
}

/** The commands that build the topology into the named namespaces, one per line (pure). */
export function labCommands(t: Topology, n: LabNames): string {
  const [sa, sb] = t.sites;
  const all = [n.ra, n.rb, n.nat, n.ha, n.hb].filter((x): x is string => x !== undefined);
  const lines = all.flatMap((ns) => [`ip netns add ${ns}`, `ip -n ${ns} link set lo up`]);
  for (const r of [n.ra, n.rb, ...(n.nat ? [n.nat] : [])])
    lines.push(`ip netns exec ${r} sysctl -qw ${ROUTER_SYSCTLS}`);
  const len = t.wanPrefixLength;
  if (t.nat === undefined) {
    lines.push(
      ...veth(n.ra, 'wan', n.rb, 'wan'),
      ipAddr(n.ra, 'wan', sa.wan, len),
      ipAddr(n.rb, 'wan', sb.wan, len),
    );
  } else {
    if (n.nat === undefined)
      throw new LabError('LAB_TOPOLOGY', 'the topology has a NAT router but no namespace name for it');
    const [behind, other] = t.nat.site === 'a' ? [n.ra, n.rb] : [n.rb, n.ra];
    const [bSite, oSite] = t.nat.site === 'a' ? [sa, sb] : [sb, sa];
    lines.push(
      ...veth(behind, 'wan', n.nat, 'inside'),
      ipAddr(behind, 'wan', bSite.wan, len),
      ipAddr(n.nat, 'inside', t.nat.inside, len),
    );
    lines.push(
      ...veth(other, 'wan', n.nat, 'outside'),
      ipAddr(other, 'wan', oSite.wan, len),
      ipAddr(n.nat, 'outside', t.nat.outside, len),
    );
    // RFC 3022 NAPT with nftables masquerade on the outside link.
    lines.push(
      `ip netns exec ${n.nat} nft 'table ip ikwnat { chain post { type nat hook postrouting priority srcnat; oifname "outside" masquerade; }; }'`,
    );
  }
  for (const s of t.sites) {
    const r = s.name === 'a' ? n.ra : n.rb;
    const gw = gatewayOf(t, s.name);
    lines.push(`ip -n ${r} route replace default via ${gw}`);
    for (const l of siteOf(t, otherSite(s.name)).lans) lines.push(routeVia(r, l.prefix, gw));
    if (t.netem) lines.push(netemLine(r, 'wan', t.netem));
  }
  lines.push(...siteLanLines(t, sa, n.ra, n.ha), ...siteLanLines(t, sb, n.rb, n.hb));
  return lines.join('\n') + '\n';
}

/**
 * The build as a shell script: labCommands grouped into one `ip -batch` for the host (namespaces,
 * veth pairs), one per namespace (links, addresses, routes), then the other tools in order.
 */
export function labScript(t: Topology, n: LabNames): string {
  const host: string[] = [];
  const per = new Map<string, string[]>();
  const rest: string[] = [];
  for (const line of labCommands(t, n).trimEnd().split('\n')) {
    const inNs = /^ip -n (\S+) (.*)$/.exec(line);
    if (inNs) {
      const list = per.get(inNs[1]!) ?? [];
      list.push(inNs[2]!);
      per.set(inNs[1]!, list);
    } else if (/^ip (netns add|link add) /.test(line)) host.push(line.slice(3));
    else rest.push(line);
  }
  const batch = (opt: string, lines: string[]) => `ip ${opt}-batch - <<'EOF'\n${lines.join('\n')}\nEOF`;
  const parts = [batch('', host), ...[...per].map(([ns, lines]) => batch(`-n ${ns} `, lines)), ...rest];
  return parts.join('\n') + '\n';
}

/** Names for a topology's namespaces: routers always, hosts for sites with LANs, the NAT router if any. */
export function labNames(t: Topology, tag = 'lab'): LabNames {
  const [sa, sb] = t.sites;
  return {
    ra: labNsName(`${tag}ra`),
    rb: labNsName(`${tag}rb`),
    ...(t.nat && { nat: labNsName(`${tag}nat`) }),
    ...(sa.lans.length > 0 && { ha: labNsName(`${tag}ha`) }),
    ...(sb.lans.length > 0 && { hb: labNsName(`${tag}hb`) }),
  };
}

/** Explains a failed build script: the last command traced by `sh -x` and its error. */
function buildError(stderr: string): LabError {
  const lines = stderr.trim().split('\n');
  const last = [...lines].reverse().find((l) => l.startsWith('+ ')) ?? '';
  const why = lines
    .filter((l) => !l.startsWith('+ '))
    .slice(-3)
    .join(' / ');
  if (
    /qdisc kind is unknown|Unknown device type|nft: (not found|No such file)|Could not process rule: No such file/.test(
      why,
    )
  )
    return new LabError(
      'LAB_UNSUPPORTED',
      `this kernel or system lacks what the lab needs: ${last.slice(2)}: ${why}`,
    );
  return new LabError('LAB_BUILD', `building the lab failed at: ${last.slice(2)}: ${why}`);
}

/** Builds the topology. On failure, whatever was made is removed before throwing. */
export function buildLab(t: Topology, opts: { tag?: string } = {}): Lab {
  const n = labNames(t, opts.tag);
  const names = [n.ra, n.rb, n.nat, n.ha, n.hb].filter((x): x is string => x !== undefined);
  const r = spawnSync('sh', ['-exc', labScript(t, n)], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    removeNamespaces(names);
    throw buildError(r.stderr ?? String(r.error));
  }
  const ns = (name: string | undefined, role: string) =>
    name === undefined ? undefined : new LabNs(name, role);
  const a: SiteNamespaces = { router: new LabNs(n.ra, 'router-a'), host: ns(n.ha, 'host-a'), wanIf: 'wan' };
  const b: SiteNamespaces = { router: new LabNs(n.rb, 'router-b'), host: ns(n.hb, 'host-b'), wanIf: 'wan' };
  const nat = ns(n.nat, 'nat');
  let down = false;
  return {
    topology: t,
    a,
    b,
    nat,
    site: (s) => (s === 'a' ? a : b),
    namespaces: () => [a.router, b.router, nat, a.host, b.host].filter((x): x is LabNs => x !== undefined),
    teardown: () => {
      if (down) return;
      down = true;
      removeNamespaces(names);
    },
  };
}
