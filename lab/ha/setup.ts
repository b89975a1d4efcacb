// The HA lab's topology and configuration files (lab/ha/lab.ts runs it). Per scenario four namespaces:
// a switch (one bridge) and, on it, node 1, node 2 and the site-B peer; the nodes also share a
// direct sync link (`sy0`, 10.78.0.0/24) that carries only the HA channel, so a scenario can cut the
// sync without touching VRRP or IKE. Every scenario uses the same addresses: its namespaces are its
// own, so several scenarios run side by side in one kernel.
import type { HaLabScenario } from './scenarios.ts';

export const VIP = '10.77.0.1';
/** Site A's LAN address (moves with the VRRP instance) and the peer's, inside the selectors. */
export const LAN_A = '10.1.0.1';
export const LAN_B = '10.2.0.1';
export const ADDR = { n1: '10.77.0.11', n2: '10.77.0.12', peer: '10.77.0.20' } as const;
export const SYNC = { n1: '10.78.0.11', n2: '10.78.0.12' } as const;
/** One strongSwan 5.9.8 proposal ikeway also offers (5.9.8 has no ML-KEM). */
export const SWAN_IKE = 'aes256gcm16-prfsha256-x25519';
export const SWAN_ESP = 'aes256gcm16';

export interface HaNamespaces {
  readonly sw: string;
  readonly n1: string;
  readonly n2: string;
  readonly peer: string;
}

/** One shell script that builds a scenario's namespaces, links, addresses and routes. */
export function setupScript(ns: HaNamespaces, s: HaLabScenario, pid: number): string {
  const veth = (i: number) => `h${s.index}${i}-${pid}`; // root-netns names must not collide
  const lines = [
    ...Object.values(ns).map((n) => `ip netns add ${n}`),
    `ip -n ${ns.sw} link add br0 type bridge`,
    `ip -n ${ns.sw} link set br0 up`,
    ...(['n1', 'n2', 'peer'] as const).flatMap((k, i) => [
      `ip link add ${veth(i)} netns ${ns.sw} type veth peer name eth0 netns ${ns[k]}`,
      `ip -n ${ns.sw} link set ${veth(i)} master br0 up`,
      `ip -n ${ns[k]} addr add ${ADDR[k]}/24 dev eth0`,
      `ip -n ${ns[k]} link set eth0 up`,
      `ip -n ${ns[k]} link set lo up`,
      `ip netns exec ${ns[k]} sysctl -qw net.ipv4.ip_nonlocal_bind=1`,
    ]),
    `ip link add ${veth(9)} netns ${ns.n1} type veth peer name sy0 netns ${ns.n2}`,
    `ip -n ${ns.n1} link set ${veth(9)} name sy0`,
    `ip -n ${ns.n1} addr add ${SYNC.n1}/24 dev sy0`,
    `ip -n ${ns.n2} addr add ${SYNC.n2}/24 dev sy0`,
    // The cut: the sync link stays down, so the standby never hears of the active's SAs (the
    // channel's sends fail with ENETUNREACH, counted as loss; VRRP and IKE use eth0).
    ...(s.sync ? [`ip -n ${ns.n1} link set sy0 up`, `ip -n ${ns.n2} link set sy0 up`] : []),
    `ip -n ${ns.peer} addr add ${LAN_B}/32 dev lo`,
    `ip -n ${ns.peer} route add 10.1.0.0/24 via ${VIP} src ${LAN_B}`,
    `ip -n ${ns.n1} route add 10.2.0.0/24 via ${ADDR.peer}`,
    `ip -n ${ns.n2} route add 10.2.0.0/24 via ${ADDR.peer}`,
  ];
  return lines.join('\n');
}

/**
 * An HA node. With an ikeway peer the peer initiates (`start: wait` here); with strongSwan the pair
 * initiates (`start: now`): so the promoted node of the no-sync scenario, holding no SA, brings the
 * tunnel up again by itself (daemon.ts starts what has no IKE SA after a promotion).
 */
export function nodeConfig(dir: string, n: 1 | 2, s: HaLabScenario): string {
  const swan = s.peer === 'strongswan';
  return `local: { address: ${VIP} }
control-socket: ${dir}/n${n}.sock
state-dir: ${dir}/n${n}
connections:
  site:
    remote: ${ADDR.peer}
    auth: { psk: { env: IKW_PSK } }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.2.0.0/24]
${swan ? `    ike-proposals: [${SWAN_IKE}]\n    esp-proposals: [${SWAN_ESP}]` : '    start: wait'}
ha:
  node-id: ${n}
  priority: ${n === 1 ? 200 : 100}
  local: ${n === 1 ? SYNC.n1 : SYNC.n2}
  peer: ${n === 1 ? SYNC.n2 : SYNC.n1}
  sync-key: { env: IKW_HA_KEY }
  heartbeat: 200ms
  seq-report: 1s
`;
}

/** The ikeway site-B peer: initiates to the shared address, a liveness check every second. */
export function ikewayPeerConfig(dir: string): string {
  return `local: { address: ${ADDR.peer} }
control-socket: ${dir}/peer.sock
state-dir: ${dir}/peer
retransmit: { timeout: 500ms, tries: 8, base: 1.5 }
connections:
  site:
    remote: ${VIP}
    auth: { psk: { env: IKW_PSK } }
    local-subnets: [10.2.0.0/24]
    remote-subnets: [10.1.0.0/24]
    liveness: { interval: 1s, timeout: 30s }
`;
}

export function keepalivedConfig(dir: string, n: 1 | 2): string {
  return `global_defs { script_user root }
vrrp_instance site {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 77
  priority ${n === 1 ? 200 : 100}
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
    ${LAN_A}/32 dev eth0
  }
  notify_master "${dir}/notify.sh ${dir}/n${n}.sock promote"
  notify_backup "${dir}/notify.sh ${dir}/n${n}.sock demote"
  notify_fault "${dir}/notify.sh ${dir}/n${n}.sock demote"
}
`;
}
