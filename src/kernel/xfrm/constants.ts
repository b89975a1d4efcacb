// Numbers from the Linux uapi headers <linux/netlink.h> and <linux/xfrm.h>. Struct sizes were
// checked against x86_64 offsetof/sizeof (they are the same on every 64-bit Linux ABI).

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

// <linux/netlink.h>
export const NETLINK_XFRM = 6;
export const NETLINK_ROUTE = 0;
/** SOL_NETLINK option: an error reply echoes the request's header only, not the request (<linux/netlink.h>). */
export const NETLINK_CAP_ACK = 10;
/**
 * SOL_NETLINK option: a receive buffer overrun drops messages without setting the socket error
 * (which the `netlink` addon turns into an abort of the process, see channel.ts).
 */
export const NETLINK_NO_ENOBUFS = 5;
/** SOL_SOCKET option: the receive buffer size past net.core.rmem_max (CAP_NET_ADMIN). */
export const SO_RCVBUFFORCE = 33;
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In NLMSG_ERROR: the original request was capped / extended-ack TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

// <linux/xfrm.h> message types (XFRM_MSG_BASE = 0x10)
export const XfrmMsg = {
  NEWSA: 0x10,
  DELSA: 0x11,
  GETSA: 0x12,
  NEWPOLICY: 0x13,
  DELPOLICY: 0x14,
  GETPOLICY: 0x15,
  ALLOCSPI: 0x16,
  ACQUIRE: 0x17,
  EXPIRE: 0x18,
  UPDPOLICY: 0x19,
  UPDSA: 0x1a,
  POLEXPIRE: 0x1b,
  FLUSHSA: 0x1c,
  FLUSHPOLICY: 0x1d,
  NEWAE: 0x1e,
  GETAE: 0x1f,
  REPORT: 0x20,
  MIGRATE: 0x21,
  MAPPING: 0x26,
} as const;

const MSG_NAMES = new Map<number, string>(Object.entries(XfrmMsg).map(([k, v]) => [v, `XFRM_MSG_${k}`]));
export function xfrmMsgName(type: number): string {
  return MSG_NAMES.get(type) ?? `XFRM_MSG_${type}`;
}

// enum xfrm_attr_type_t
export const XfrmAttr = {
  ALG_AUTH: 1,
  ALG_CRYPT: 2,
  ALG_COMP: 3,
  ENCAP: 4,
  TMPL: 5,
  SA: 6,
  POLICY: 7,
  SEC_CTX: 8,
  LTIME_VAL: 9,
  REPLAY_VAL: 10,
  REPLAY_THRESH: 11,
  ETIMER_THRESH: 12,
  SRCADDR: 13,
  COADDR: 14,
  LASTUSED: 15,
  POLICY_TYPE: 16,
  MIGRATE: 17,
  ALG_AEAD: 18,
  KMADDRESS: 19,
  ALG_AUTH_TRUNC: 20,
  MARK: 21,
  TFCPAD: 22,
  REPLAY_ESN_VAL: 23,
  SA_EXTRA_FLAGS: 24,
  PROTO: 25,
  ADDRESS_FILTER: 26,
  PAD: 27,
  OFFLOAD_DEV: 28,
  SET_MARK: 29,
  SET_MARK_MASK: 30,
  IF_ID: 31,
} as const;

// enum xfrm_nlgroups (multicast groups; addMembership takes the group number)
export const XfrmGroup = {
  ACQUIRE: 1,
  EXPIRE: 2,
  SA: 3,
  POLICY: 4,
  AEVENTS: 5,
  REPORT: 6,
  MIGRATE: 7,
  MAPPING: 8,
} as const;

// Protocols (IANA protocol numbers)
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPSEC_PROTO_ANY = 255;

// Modes
export const XFRM_MODE_TRANSPORT = 0;
export const XFRM_MODE_TUNNEL = 1;

// xfrm_usersa_info.flags
export const XFRM_STATE_NOECN = 1;
export const XFRM_STATE_DECAP_DSCP = 2;
export const XFRM_STATE_NOPMTUDISC = 4;
export const XFRM_STATE_WILDRECV = 8;
export const XFRM_STATE_ICMP = 16;
export const XFRM_STATE_AF_UNSPEC = 32;
export const XFRM_STATE_ALIGN4 = 64;
export const XFRM_STATE_ESN = 128;

// Policies
export const XFRM_POLICY_IN = 0;
export const XFRM_POLICY_OUT = 1;
export const XFRM_POLICY_FWD = 2;
export const XFRM_POLICY_ALLOW = 0;
export const XFRM_POLICY_BLOCK = 1;

/** <linux/udp.h> UDP_ENCAP_ESPINUDP (RFC 3948 non-IKE marker). */
export const UDP_ENCAP_ESPINUDP = 2;
export const SOL_UDP = 17;
export const UDP_ENCAP = 100;

/** XFRM_INF: "no limit" for byte and packet lifetimes. */
export const XFRM_INF = 0xffffffffffffffffn;

// Struct sizes (x86_64, checked with offsetof/sizeof against <linux/xfrm.h>)
export const Size = {
  selector: 56,
  id: 24,
  lifetimeCfg: 64,
  lifetimeCur: 32,
  stats: 12,
  usersaInfo: 224,
  usersaId: 24,
  userspiInfo: 232,
  userpolicyInfo: 168,
  userpolicyId: 64,
  userTmpl: 64,
  userAcquire: 280,
  userExpire: 232,
  userPolexpire: 176,
  usersaFlush: 1,
  userMapping: 64,
  encapTmpl: 24,
  replayEsn: 24,
  algo: 68,
  algoAuth: 72,
  algoAead: 72,
  mark: 8,
} as const;

/** Length of xfrm_algo.alg_name. */
export const ALG_NAME_LEN = 64;
