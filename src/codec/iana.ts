// IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries as `as const` objects
// (RFC 7296 §3 and the RFCs that extend it), with a type of the same name and `ianaName` for logs.
// Names follow the registries, with characters a JS identifier cannot hold replaced by `_`.

/** A registry: name -> number. */
export type IanaTable = Readonly<Record<string, number>>;

// RFC 7296 §3.1: Exchange Type.
export const ExchangeType = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
  IKE_SESSION_RESUME: 38, // RFC 5723
  GSA_AUTH: 39, // RFC 9838 (G-IKEv2)
  GSA_REGISTRATION: 40,
  GSA_REKEY: 41,
  GSA_INBAND_REKEY: 42,
  IKE_INTERMEDIATE: 43, // RFC 9242
  IKE_FOLLOWUP_KE: 44, // RFC 9370
} as const;
export type ExchangeType = (typeof ExchangeType)[keyof typeof ExchangeType];

// RFC 7296 §3.2: Next Payload / payload type values.
export const PayloadType = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53, // RFC 7383 §2.5
  PS: 54, // RFC 8019 §8.2: Puzzle Solution
} as const;
export type PayloadType = (typeof PayloadType)[keyof typeof PayloadType];

// RFC 7296 §3.3.2: Transform Type (RFC 9370 adds the additional key exchanges).
export const TransformType = {
  ENCR: 1,
  PRF: 2,
  INTEG: 3,
  KE: 4, // "D-H" in RFC 7296, renamed "Key Exchange Method" by RFC 9370
  ESN: 5,
  ADDKE1: 6,
  ADDKE2: 7,
  ADDKE3: 8,
  ADDKE4: 9,
  ADDKE5: 10,
  ADDKE6: 11,
  ADDKE7: 12,
} as const;
export type TransformType = (typeof TransformType)[keyof typeof TransformType];

// Transform Type 1 - Encryption Algorithm Transform IDs.
export const EncrId = {
  DES_IV64: 1,
  DES: 2,
  TRIPLE_DES: 3, // "3DES"
  RC5: 4,
  IDEA: 5,
  CAST: 6,
  BLOWFISH: 7,
  TRIPLE_IDEA: 8, // "3IDEA"
  DES_IV32: 9,
  NULL: 11,
  AES_CBC: 12,
  AES_CTR: 13,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  NULL_AUTH_AES_GMAC: 21,
  CAMELLIA_CBC: 23,
  CAMELLIA_CTR: 24,
  CAMELLIA_CCM_8: 25,
  CAMELLIA_CCM_12: 26,
  CAMELLIA_CCM_16: 27,
  CHACHA20_POLY1305: 28,
  AES_CCM_8_IIV: 29,
  AES_GCM_16_IIV: 30,
  CHACHA20_POLY1305_IIV: 31,
  KUZNYECHIK_MGM_KTREE: 32,
  MAGMA_MGM_KTREE: 33,
  KUZNYECHIK_MGM_MAC_KTREE: 34,
  MAGMA_MGM_MAC_KTREE: 35,
} as const;
export type EncrId = (typeof EncrId)[keyof typeof EncrId];

// Transform Type 2 - Pseudorandom Function Transform IDs.
export const PrfId = {
  HMAC_MD5: 1,
  HMAC_SHA1: 2,
  HMAC_TIGER: 3,
  AES128_XCBC: 4,
  HMAC_SHA2_256: 5,
  HMAC_SHA2_384: 6,
  HMAC_SHA2_512: 7,
  AES128_CMAC: 8,
  HMAC_STREEBOG_512: 9,
} as const;
export type PrfId = (typeof PrfId)[keyof typeof PrfId];

// Transform Type 3 - Integrity Algorithm Transform IDs.
export const IntegId = {
  NONE: 0,
  HMAC_MD5_96: 1,
  HMAC_SHA1_96: 2,
  DES_MAC: 3,
  KPDK_MD5: 4,
  AES_XCBC_96: 5,
  HMAC_MD5_128: 6,
  HMAC_SHA1_160: 7,
  AES_CMAC_96: 8,
  AES_128_GMAC: 9,
  AES_192_GMAC: 10,
  AES_256_GMAC: 11,
  HMAC_SHA2_256_128: 12,
  HMAC_SHA2_384_192: 13,
  HMAC_SHA2_512_256: 14,
} as const;
export type IntegId = (typeof IntegId)[keyof typeof IntegId];

// Transform Type 4 - Key Exchange Method (Diffie-Hellman group) Transform IDs.
export const DhGroup = {
  NONE: 0,
  MODP_768: 1,
  MODP_1024: 2,
  MODP_1536: 5,
  MODP_2048: 14,
  MODP_3072: 15,
  MODP_4096: 16,
  MODP_6144: 17,
  MODP_8192: 18,
  ECP_256: 19,
  ECP_384: 20,
  ECP_521: 21,
  MODP_1024_160: 22,
  MODP_2048_224: 23,
  MODP_2048_256: 24,
  ECP_192: 25,
  ECP_224: 26,
  ECP_224_BP: 27,
  ECP_256_BP: 28,
  ECP_384_BP: 29,
  ECP_512_BP: 30,
  CURVE25519: 31,
  CURVE448: 32,
  GOST3410_2012_256: 33,
  GOST3410_2012_512: 34,
  ML_KEM_512: 35,
  ML_KEM_768: 36,
  ML_KEM_1024: 37,
} as const;
export type DhGroup = (typeof DhGroup)[keyof typeof DhGroup];

// Transform Type 5 - Extended Sequence Numbers Transform IDs.
export const EsnId = { NO_ESN: 0, ESN: 1 } as const;
export type EsnId = (typeof EsnId)[keyof typeof EsnId];

// RFC 7296 §3.3.5: Transform Attribute Types.
export const TransformAttr = { KEY_LENGTH: 14 } as const;
export type TransformAttr = (typeof TransformAttr)[keyof typeof TransformAttr];

// RFC 7296 §3.3.1: Security Protocol Identifier.
export const ProtocolId = { IKE: 1, AH: 2, ESP: 3, FC_ESP_HEADER: 4, FC_CT_AUTHENTICATION: 5 } as const;
export type ProtocolId = (typeof ProtocolId)[keyof typeof ProtocolId];

// RFC 7296 §3.8 (and RFC 7427, RFC 7619, RFC 6467): Authentication Method.
export const AuthMethod = {
  RSA_SIG: 1,
  SHARED_KEY_MIC: 2,
  DSS_SIG: 3,
  ECDSA_SHA256_P256: 9,
  ECDSA_SHA384_P384: 10,
  ECDSA_SHA512_P521: 11,
  GENERIC_SECURE_PASSWORD: 12,
  NULL_AUTH: 13,
  DIGITAL_SIGNATURE: 14,
} as const;
export type AuthMethod = (typeof AuthMethod)[keyof typeof AuthMethod];

// RFC 7296 §3.5: Identification Type (RFC 7619 adds NULL).
export const IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  RFC822_ADDR: 3,
  IPV6_ADDR: 5,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
  FC_NAME: 12,
  NULL: 13,
} as const;
export type IdType = (typeof IdType)[keyof typeof IdType];

// RFC 7296 §3.6: Certificate Encoding.
export const CertEncoding = {
  PKCS7_X509: 1,
  PGP: 2,
  DNS_SIGNED_KEY: 3,
  X509_SIGNATURE: 4,
  KERBEROS: 6,
  CRL: 7,
  ARL: 8,
  SPKI: 9,
  X509_ATTRIBUTE: 10,
  RAW_RSA_KEY: 11,
  HASH_URL_X509: 12,
  HASH_URL_BUNDLE: 13,
  OCSP_CONTENT: 14, // RFC 4806
  RAW_PUBLIC_KEY: 15, // RFC 7670
} as const;
export type CertEncoding = (typeof CertEncoding)[keyof typeof CertEncoding];

// RFC 7296 §3.13.1: Traffic Selector Type.
export const TsType = {
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
  FC_ADDR_RANGE: 9, // RFC 4595
  SECLABEL: 10, // RFC 9478
} as const;
export type TsType = (typeof TsType)[keyof typeof TsType];

// RFC 7427 §7: Hash Algorithm Identifiers for SIGNATURE_HASH_ALGORITHMS.
export const HashAlgorithm = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  IDENTITY: 5,
} as const;
export type HashAlgorithm = (typeof HashAlgorithm)[keyof typeof HashAlgorithm];

// RFC 7296 §3.15: CFG Type.
export const CfgType = { CFG_REQUEST: 1, CFG_REPLY: 2, CFG_SET: 3, CFG_ACK: 4 } as const;
export type CfgType = (typeof CfgType)[keyof typeof CfgType];

// RFC 7296 §3.15.1: Configuration Payload Attribute Types (and later registrations).
export const CfgAttr = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
  MIP6_HOME_PREFIX: 16,
  INTERNAL_IP6_LINK: 17,
  INTERNAL_IP6_PREFIX: 18,
  HOME_AGENT_ADDRESS: 19,
  P_CSCF_IP4_ADDRESS: 20,
  P_CSCF_IP6_ADDRESS: 21,
  FTT_KAT: 22,
  EXTERNAL_SOURCE_IP4_NAT_INFO: 23,
  TIMEOUT_PERIOD_FOR_LIVENESS_CHECK: 24,
  INTERNAL_DNS_DOMAIN: 25,
  INTERNAL_DNSSEC_TA: 26,
} as const;
export type CfgAttr = (typeof CfgAttr)[keyof typeof CfgAttr];

// RFC 7296 §3.10.1: Notify Message Types; errors < 16384, status >= 16384.
export const NotifyType = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  UNACCEPTABLE_ADDRESSES: 40,
  UNEXPECTED_NAT_DETECTED: 41,
  USE_ASSIGNED_HoA: 42,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  INVALID_GROUP_ID: 45,
  AUTHORIZATION_FAILED: 46,
  STATE_NOT_FOUND: 47,
  TS_MAX_QUEUE: 48,
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396,
  ADDITIONAL_IP4_ADDRESS: 16397,
  ADDITIONAL_IP6_ADDRESS: 16398,
  NO_ADDITIONAL_ADDRESSES: 16399,
  UPDATE_SA_ADDRESSES: 16400,
  COOKIE2: 16401,
  NO_NATS_ALLOWED: 16402,
  AUTH_LIFETIME: 16403,
  MULTIPLE_AUTH_SUPPORTED: 16404,
  ANOTHER_AUTH_FOLLOWS: 16405,
  REDIRECT_SUPPORTED: 16406,
  REDIRECT: 16407,
  REDIRECTED_FROM: 16408,
  TICKET_LT_OPAQUE: 16409,
  TICKET_REQUEST: 16410,
  TICKET_ACK: 16411,
  TICKET_NACK: 16412,
  TICKET_OPAQUE: 16413,
  LINK_ID: 16414,
  USE_WESP_MODE: 16415,
  ROHC_SUPPORTED: 16416,
  EAP_ONLY_AUTHENTICATION: 16417,
  CHILDLESS_IKEV2_SUPPORTED: 16418,
  QUICK_CRASH_DETECTION: 16419,
  IKEV2_MESSAGE_ID_SYNC_SUPPORTED: 16420,
  IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED: 16421,
  IKEV2_MESSAGE_ID_SYNC: 16422,
  IPSEC_REPLAY_COUNTER_SYNC: 16423,
  SECURE_PASSWORD_METHODS: 16424,
  PSK_PERSIST: 16425,
  PSK_CONFIRM: 16426,
  ERX_SUPPORTED: 16427,
  IFOM_CAPABILITY: 16428,
  SENDER_REQUEST_ID: 16429,
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  SIGNATURE_HASH_ALGORITHMS: 16431,
  CLONE_IKE_SA_SUPPORTED: 16432,
  CLONE_IKE_SA: 16433,
  PUZZLE: 16434,
  USE_PPK: 16435,
  PPK_IDENTITY: 16436,
  NO_PPK_AUTH: 16437,
  INTERMEDIATE_EXCHANGE_SUPPORTED: 16438,
  IP4_ALLOWED: 16439,
  IP6_ALLOWED: 16440,
  ADDITIONAL_KEY_EXCHANGE: 16441,
  USE_AGGFRAG: 16442,
  SUPPORTED_AUTH_METHODS: 16443,
  SA_RESOURCE_INFO: 16444,
  USE_PPK_INT: 16445,
  PPK_IDENTITY_KEY: 16446,
} as const;
export type NotifyType = (typeof NotifyType)[keyof typeof NotifyType];

/** RFC 7296 §3.10.1: Notify types below 16384 are errors, the rest status. */
export function isErrorNotify(type: number): boolean {
  return type > 0 && type < 16384;
}

const reverseCache = new WeakMap<IanaTable, ReadonlyMap<number, string>>();

function reverseOf(table: IanaTable): ReadonlyMap<number, string> {
  let rev = reverseCache.get(table);
  if (rev === undefined) {
    const m = new Map<number, string>();
    for (const [name, value] of Object.entries(table)) if (!m.has(value)) m.set(value, name);
    rev = m;
    reverseCache.set(table, rev);
  }
  return rev;
}

/** Name of `value` in `table` for logs and dissections, e.g. "AES_GCM_16", or "UNKNOWN(123)". */
export function ianaName(table: IanaTable, value: number): string {
  return reverseOf(table).get(value) ?? `UNKNOWN(${value})`;
}

/** The registry that names the transform IDs of one transform type, or undefined. */
export function transformIdTable(type: number): IanaTable | undefined {
  switch (type) {
    case TransformType.ENCR:
      return EncrId;
    case TransformType.PRF:
      return PrfId;
    case TransformType.INTEG:
      return IntegId;
    case TransformType.ESN:
      return EsnId;
    default:
      return type === TransformType.KE || (type >= TransformType.ADDKE1 && type <= TransformType.ADDKE7)
        ? DhGroup
        : undefined;
  }
}
