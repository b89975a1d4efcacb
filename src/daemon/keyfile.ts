// Wireshark's key table formats, both ways: the names debug-keys writes (keylog.ts) and the parser
// `ikeway decode --keys` reads them back with. Lines of the ikev2_decryption_table UAT:
//   SPIi,SPIr,SK_ei,SK_er,"encryption algorithm",SK_ai,SK_ar,"integrity algorithm"
// (byte fields as bare hex, enumerations quoted; Wireshark 4.0's names, packet-isakmp.c).
// The esp_sa UAT lines (FILE.esp) are only written here, tshark reads them.

/** Wireshark's IKEv2 encryption names by IKEv2 transform ID and key bits (4.0 has no ChaCha20). */
export const IKE_ENCR: Readonly<Record<string, string>> = {
  '12/128': 'AES-CBC-128 [RFC3602]',
  '12/192': 'AES-CBC-192 [RFC3602]',
  '12/256': 'AES-CBC-256 [RFC3602]',
  '20/128': 'AES-GCM-128 with 16 octet ICV [RFC5282]',
  '20/256': 'AES-GCM-256 with 16 octet ICV [RFC5282]',
};
export const IKE_INTEG: Readonly<Record<number, string>> = {
  0: 'NONE [RFC4306]',
  2: 'HMAC_SHA1_96 [RFC2404]',
  12: 'HMAC_SHA2_256_128 [RFC4868]',
  13: 'HMAC_SHA2_384_192 [RFC4868]',
  14: 'HMAC_SHA2_512_256 [RFC4868]',
};
/** Wireshark's ESP names (packet-esp.c, esp_sa UAT) by the kernel's algorithm name. */
export const ESP_ENCR: Readonly<Record<string, string>> = {
  'cbc(aes)': 'AES-CBC [RFC3602]',
  'rfc4106(gcm(aes))/128': 'AES-GCM with 16 octet ICV [RFC4106]',
  'rfc4106(gcm(aes))/96': 'AES-GCM with 12 octet ICV [RFC4106]',
  'rfc4106(gcm(aes))/64': 'AES-GCM with 8 octet ICV [RFC4106]',
};
export const ESP_AUTH: Readonly<Record<string, string>> = {
  'hmac(sha1)/96': 'HMAC-SHA-1-96 [RFC2404]',
  'hmac(sha256)/128': 'HMAC-SHA-256-128 [RFC4868]',
  'hmac(sha384)/192': 'HMAC-SHA-384-192 [RFC4868]',
  'hmac(sha512)/256': 'HMAC-SHA-512-256 [RFC4868]',
};

/** The keys of one IKE SA as read back from an ikev2_decryption_table line. */
export interface IkeKeyEntry {
  /** SPIi and SPIr, 16 hex digits each. */
  readonly spiI: string;
  readonly spiR: string;
  /** IKEv2 ENCR transform ID and key bits; integ 0 for AEAD. */
  readonly encr: number;
  readonly keyBits: number;
  readonly integ: number;
  readonly skEi: Uint8Array;
  readonly skEr: Uint8Array;
  readonly skAi: Uint8Array;
  readonly skAr: Uint8Array;
}

export class KeyFileError extends Error {
  readonly code = 'ERR_KEY_FILE';
}

const byName = <K extends string | number>(table: Readonly<Record<K, string>>) =>
  new Map(Object.entries(table).map(([k, v]) => [v as string, k]));
const ENCR_BY_NAME = byName(IKE_ENCR);
const INTEG_BY_NAME = byName(IKE_INTEG);

function bytes(field: string, what: string, where: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(field)) throw new KeyFileError(`${where}: ${what} is not hex`);
  return Uint8Array.from(Buffer.from(field, 'hex'));
}

/**
 * Parses the lines of a key file written by debug-keys (blank lines and # comments skipped).
 * Errors name the file's line and field, never a key.
 */
export function parseIkeKeyFile(text: string, name = 'keys'): IkeKeyEntry[] {
  const out: IkeKeyEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${name}:${i + 1}`;
    const f = line.split(',').map((x) => x.trim().replace(/^"(.*)"$/, '$1'));
    if (f.length !== 8)
      throw new KeyFileError(
        `${where}: ${f.length} fields; an ikev2_decryption_table line has 8 (SPIi,SPIr,SK_ei,SK_er,"encryption",SK_ai,SK_ar,"integrity")`,
      );
    const [spiI, spiR, ei, er, encrName, ai, ar, integName] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    for (const [v, w] of [
      [spiI, 'SPIi'],
      [spiR, 'SPIr'],
    ] as const)
      if (!/^[0-9a-f]{16}$/i.test(v)) throw new KeyFileError(`${where}: ${w} must be 16 hex digits`);
    const encr = ENCR_BY_NAME.get(encrName);
    if (encr === undefined) throw new KeyFileError(`${where}: unknown encryption algorithm "${encrName}"`);
    const integ = INTEG_BY_NAME.get(integName);
    if (integ === undefined) throw new KeyFileError(`${where}: unknown integrity algorithm "${integName}"`);
    const [id, bits] = encr.split('/').map(Number) as [number, number];
    out.push({
      spiI: spiI.toLowerCase(),
      spiR: spiR.toLowerCase(),
      encr: id,
      keyBits: bits,
      integ: Number(integ),
      skEi: bytes(ei, 'SK_ei', where),
      skEr: bytes(er, 'SK_er', where),
      skAi: bytes(ai, 'SK_ai', where),
      skAr: bytes(ar, 'SK_ar', where),
    });
  }
  return out;
}
