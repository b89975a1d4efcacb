// Golden IKEv2 messages assembled by hand from the RFC 7296 §3 diagrams. Each line is one field:
// hex bytes, then a comment after '#'. hex() strips comments and whitespace.

export function hex(text: string): Uint8Array {
  const clean = text.replace(/#.*$/gm, '').replace(/\s+/g, '');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** IKE_SA_INIT request: SA (2 proposals, key-length attributes), KE, Nonce, Notify, Vendor ID. */
export const SA_INIT_REQUEST = hex(`
  0011223344556677 0000000000000000   # SPIi, SPIr (zero in the first request)
  21 20 22 08                         # next SA(33), version 2.0, IKE_SA_INIT(34), flags I
  00000000 000000d4                   # message ID 0, length 212
  # SA payload (RFC 7296 §3.3), 76 bytes
  22 00 004c                          # next KE, length 76
    02 00 0024 01 01 00 03            # proposal: more, length 36, #1, IKE, SPI size 0, 3 transforms
      03 00 000c 01 00 000c 800e 0080 #   ENCR AES_CBC, KEY_LENGTH (TV) 128
      03 00 0008 02 00 0005           #   PRF HMAC_SHA2_256
      00 00 0008 04 00 0013           #   KE ECP_256 (last transform)
    00 00 0024 02 01 00 03            # proposal: last, length 36, #2, IKE, SPI size 0, 3 transforms
      03 00 000c 01 00 0014 800e 0100 #   ENCR AES_GCM_16, KEY_LENGTH 256
      03 00 0008 02 00 0007           #   PRF HMAC_SHA2_512
      00 00 0008 04 00 001f           #   KE CURVE25519
  # KE payload (§3.4), 40 bytes
  28 00 0028 001f 0000                # next Nonce, length 40, group 31, reserved
  ${'42'.repeat(32)}                  # public value
  # Nonce (§3.9), 20 bytes
  29 00 0014 ${'5a'.repeat(16)}       # next Notify
  # Notify (§3.10), 28 bytes
  2b 00 001c 00 00 4004               # next Vendor ID, protocol 0, SPI size 0, NAT_DETECTION_SOURCE_IP
  ${'c3'.repeat(20)}                  # SHA-1 hash
  # Vendor ID (§3.12), 20 bytes
  00 00 0014 ${'f0'.repeat(16)}       # last payload
`);

/** Inner chain of an IKE_AUTH request: IDi, CERTREQ, AUTH, CP, SA (ESP), TSi (v4), TSr (v6), N. */
export const AUTH_INNER_FIRST = 35; // IDi
export const AUTH_INNER = hex(`
  26 00 0013 02 000000                # IDi: next CERTREQ, length 19, ID_FQDN
  6578616d706c652e636f6d              #   "example.com"
  27 00 0019 04 ${'aa'.repeat(20)}    # CERTREQ: next AUTH, length 25, X509_SIGNATURE, CA hash
  2f 00 0028 02 000000                # AUTH: next CP, length 40, SHARED_KEY_MIC
  ${'bb'.repeat(32)}                  #   MAC
  21 00 0010 01 000000                # CP: next SA, length 16, CFG_REQUEST
    0001 0000                         #   INTERNAL_IP4_ADDRESS, empty
    0008 0000                         #   INTERNAL_IP6_ADDRESS, empty
  2c 00 0024                          # SA: next TSi, length 36
    00 00 0020 01 03 04 02 c0ffee01   #   proposal: last, length 32, #1, ESP, SPI size 4, 2 transforms, SPI
      03 00 000c 01 00 0014 800e 0100 #   ENCR AES_GCM_16, KEY_LENGTH 256
      00 00 0008 05 00 0000           #   ESN NO_ESN (last)
  2d 00 0018 01 000000                # TSi: next TSr, length 24, 1 selector
    07 00 0010 0000 ffff              #   TS_IPV4_ADDR_RANGE, any protocol, ports 0-65535
    c0000200 c00002ff                 #   192.0.2.0 - 192.0.2.255
  29 00 0030 01 000000                # TSr: next Notify, length 48, 1 selector
    08 06 0028 01bb 01bb              #   TS_IPV6_ADDR_RANGE, TCP, port 443
    20010db8000000000000000000000000  #   2001:db8::
    20010db8ffffffffffffffffffffffff  #   2001:db8:ffff:ffff:ffff:ffff:ffff:ffff
  00 00 0008 00 00 4000               # Notify: last, INITIAL_CONTACT
`);

/** Inner chain of an INFORMATIONAL request: Delete ESP (2 SPIs) and Delete IKE. */
export const DELETE_INNER_FIRST = 42;
export const DELETE_INNER = hex(`
  2a 00 0010 03 04 0002 c0ffee01 c0ffee02  # Delete: next Delete, ESP, SPI size 4, 2 SPIs
  00 00 0008 01 00 0000                    # Delete: last, IKE, SPI size 0, 0 SPIs
`);

/** Inner chain with an EAP message and a non-critical unknown payload type 200. */
export const EAP_INNER_FIRST = 48;
export const EAP_INNER = hex(`
  c8 00 0009 01 07 0005 01            # EAP: next 200, Request id 7 length 5 type Identity
  00 00 0006 abcd                     # unknown type 200, not critical
`);

/** IKE_AUTH request protected by SK with a 24-byte opaque body. */
export const SK_MESSAGE = hex(`
  0011223344556677 8899aabbccddeeff   # SPIs
  2e 20 23 08 00000001 00000038       # next SK, 2.0, IKE_AUTH, I, message ID 1, length 56
  23 00 001c                          # SK: first inner payload IDi, length 28
  ${'e7'.repeat(24)}                  # IV | ciphertext | ICV
`);

/** IKE_AUTH response, fragment 1 of 3 (RFC 7383 §2.5). */
export const SKF_MESSAGE = hex(`
  0011223344556677 8899aabbccddeeff   # SPIs
  35 20 23 20 00000001 00000034       # next SKF, 2.0, IKE_AUTH, R, message ID 1, length 52
  24 00 0018 0001 0003                # SKF: first inner IDr, length 24, fragment 1 of 3
  ${'9d'.repeat(16)}                  # IV | ciphertext | ICV
`);

export const GOLDEN_MESSAGES = { SA_INIT_REQUEST, SK_MESSAGE, SKF_MESSAGE } as const;
export const GOLDEN_CHAINS = [
  { name: 'AUTH_INNER', bytes: AUTH_INNER, first: AUTH_INNER_FIRST },
  { name: 'DELETE_INNER', bytes: DELETE_INNER, first: DELETE_INNER_FIRST },
  { name: 'EAP_INNER', bytes: EAP_INNER, first: EAP_INNER_FIRST },
] as const;
