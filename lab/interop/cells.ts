// The matrix as data: one base cell (PSK, IPv4, tunnel, AES-GCM-16-256 + X25519, rekeys checked)
// and cells that each change one dimension of it. Every cell runs for every peer and both ikeway
// roles. Rekeys are checked in the base cell of each peer/role only (to keep the guest time small);
// every cell still checks up, traffic both ways on both kernels, and a clean delete.
import { LabError } from '../errors.ts';
import { makeTopology, type Topology } from '../two-site/topology.ts';
import type { CellSpec, Role } from './types.ts';

export const DEFAULT_IKE = 'aes256gcm16-prfsha256-x25519';
/** The ESP proposal names the IKE group so Child rekeys use PFS (RFC 7296 §1.3.1) on both sides. */
export const DEFAULT_ESP = 'aes256gcm16-x25519';

export const BASE_CELL: CellSpec = {
  id: 'base',
  title: 'PSK, IPv4, tunnel, AES-GCM-16-256 + X25519; Child and IKE rekey',
  auth: 'psk',
  wanFamily: 4,
  lanFamily: 4,
  mode: 'tunnel',
  nat: false,
  fragmentation: false,
  ike: DEFAULT_IKE,
  esp: DEFAULT_ESP,
  rekeys: true,
  liveness: false,
};

const vary = (id: string, title: string, change: Partial<CellSpec>): CellSpec => ({
  ...BASE_CELL,
  rekeys: false,
  ...change,
  id,
  title,
});

export const CELLS: readonly CellSpec[] = [
  BASE_CELL,
  vary('ecdsa', 'ECDSA P-256 certificates', { auth: 'ecdsa' }),
  vary('rsa', 'RSA 3072 certificates', { auth: 'rsa' }),
  vary('ed25519', 'Ed25519 certificates (RFC 8420)', { auth: 'ed25519' }),
  vary('ipv6', 'IPv6 WAN and LANs', { wanFamily: 6, lanFamily: 6 }),
  vary('mixed', 'IPv4 LANs over an IPv6 WAN', { wanFamily: 6, lanFamily: 4 }),
  vary('transport', 'transport mode, host to host', { mode: 'transport' }),
  vary('nat', 'NAT router in front of the initiator (UDP 4500)', { nat: true }),
  vary('fragmentation', 'certificate chain, MTU 1400, IP fragments dropped (RFC 7383)', {
    auth: 'rsa',
    fragmentation: true,
  }),
  vary('chacha20', 'ChaCha20-Poly1305 (IKE and ESP)', {
    ike: 'chacha20poly1305-prfsha256-x25519',
    esp: 'chacha20poly1305-x25519',
  }),
  vary('cbc-modp2048', 'AES-CBC-256 + HMAC-SHA2-256, MODP-2048', {
    ike: 'aes256-sha256-modp2048',
    esp: 'aes256-sha256-modp2048',
  }),
  vary('cbc-ecp256', 'AES-CBC-256 + HMAC-SHA2-256, ECP-256', {
    ike: 'aes256-sha256-ecp256',
    esp: 'aes256-sha256-ecp256',
  }),
  vary('liveness', 'peer killed: ikeway clears; peer restarted: tunnel returns', { liveness: true }),
];

/**
 * Post-quantum cells (RFC 9370 hybrids through RFC 9242 IKE_INTERMEDIATE), not part of the common
 * matrix: they need strongSwan 6 (peer kind strongswan6), except pq-default-classic, which runs
 * ikeway's default proposal against a classic peer (strongSwan 5.9.8).
 */
export const PQ_CELLS: readonly CellSpec[] = [
  vary('pq-x25519-mlkem768', 'X25519 + ML-KEM-768 (RFC 9370, IKE_INTERMEDIATE)', {
    ike: 'aes256gcm16-prfsha384-x25519-ke1_mlkem768',
    keyExchanges: ['x25519', 'mlkem768'],
  }),
  vary('pq-ecp384-mlkem1024', 'ECP-384 + ML-KEM-1024, IKE_INTERMEDIATE in RFC 7383 fragments', {
    ike: 'aes256gcm16-prfsha384-ecp384-ke1_mlkem1024',
    ikeFragments: true,
    keyExchanges: ['ecp384', 'mlkem1024'],
  }),
  vary('pq-mlkem768', 'ML-KEM-768 alone in IKE_SA_INIT', {
    ike: 'aes256gcm16-prfsha384-mlkem768',
    keyExchanges: ['mlkem768'],
  }),
  vary('pq-pfs-rekeys', 'X25519 + ML-KEM-768 for IKE and Child PFS; rekeys with IKE_FOLLOWUP_KE (RFC 9370)', {
    ike: 'aes256gcm16-prfsha384-x25519-ke1_mlkem768',
    esp: 'aes256gcm16-x25519-ke1_mlkem768',
    rekeys: true,
    keyExchanges: ['x25519', 'mlkem768'],
  }),
  vary('pq-default-hybrid', "ikeway's default proposal vs a PQ peer: hybrid chosen", {
    ike: 'aes256gcm16-prfsha256-x25519-ke1_mlkem768',
    ikewayDefaultIke: true,
    keyExchanges: ['x25519', 'mlkem768'],
  }),
  vary('pq-default-classic', "ikeway's default proposal vs a classic peer: classic chosen", {
    ike: 'aes256gcm16-prfsha256-x25519',
    ikewayDefaultIke: true,
    keyExchanges: ['x25519'],
  }),
];

/**
 * Cells of single features (issue 21: AH, RFC 4302; TFC padding, RFC 4303 §2.7), run by their own
 * guest test (test/interop/ah-tfc.test.ts) against strongSwan and ikeway, not by the whole matrix.
 * With AH, `esp` holds the AH proposal (integrity and the PFS group).
 */
export const FEATURE_CELLS: readonly CellSpec[] = [
  vary('ah-tunnel', 'AH (RFC 4302) tunnel mode, HMAC-SHA2-256; Child and IKE rekey', {
    protocol: 'ah',
    esp: 'sha256-x25519',
    rekeys: true,
  }),
  vary('ah-transport', 'AH (RFC 4302) transport mode, HMAC-SHA2-512', {
    protocol: 'ah',
    esp: 'sha512',
    mode: 'transport',
  }),
  vary('tfc', 'ESP TFC padding to 1400 octets (RFC 4303 §2.7)', { tfcPadding: 1400 }),
  vary('tfc-refused', 'TFC padding configured, peer sends ESP_TFC_PADDING_NOT_SUPPORTED', {
    tfcPadding: 1400,
    peerRefusesTfc: true,
  }),
];

export function cellById(id: string): CellSpec {
  const all = [...CELLS, ...PQ_CELLS, ...FEATURE_CELLS];
  const c = all.find((x) => x.id === id);
  if (!c)
    throw new LabError(
      'LAB_TOPOLOGY',
      `unknown interop cell ${id}; known: ${all.map((x) => x.id).join(', ')}`,
    );
  return c;
}

export const ROLES: readonly Role[] = ['initiator', 'responder'];

/** Liveness of ikeway in the liveness cell (interval, timeout in seconds). */
export const LIVENESS = { interval: 2, timeout: 8 } as const;

const WAN: Record<4 | 6, [string, string]> = {
  4: ['192.0.2.1', '192.0.2.2'],
  6: ['2001:db8:0:1::1', '2001:db8:0:1::2'],
};
/** Behind a NAT the two WANs sit on different links, joined only by the NAT router. */
const NAT_WAN: [string, string] = ['192.0.2.1', '198.51.100.2'];
const LANS: Record<4 | 6, [string, string]> = {
  4: ['10.1.0.0/24', '10.2.0.0/24'],
  6: ['2001:db8:a::/64', '2001:db8:b::/64'],
};

/**
 * The lab for a cell: ikeway on site a, the peer on site b. The NAT router stands in front of the
 * initiator (ikeway's site when ikeway initiates), since only the inside can open the mapping.
 */
export function cellTopology(cell: CellSpec, role: Role): Topology {
  const [wa, wb] = cell.nat ? NAT_WAN : WAN[cell.wanFamily];
  const [la, lb] = LANS[cell.lanFamily];
  const transport = cell.mode === 'transport';
  return makeTopology({
    name: `interop-${cell.id}-${role}`,
    a: { wan: wa, lans: transport ? [] : [la] },
    b: { wan: wb, lans: transport ? [] : [lb] },
    nat: cell.nat ? (role === 'initiator' ? 'a' : 'b') : false,
  });
}
