// RFC 7296 §3.6 Certificate and §3.7 Certificate Request payloads.
//  | Cert Encoding |                                               |
//  +-+-+-+-+-+-+-+-+   Certificate Data / Certification Authority  ~
import type { BodyCodec, PayloadCommon } from './codec.ts';
import { PayloadType } from '../iana.ts';

export interface CertPayload extends PayloadCommon {
  readonly kind: 'CERT' | 'CERTREQ';
  /** CertEncoding value. */
  readonly encoding: number;
  /** CERT: the certificate; CERTREQ: concatenated 20-byte SHA-1 hashes of CA public keys. */
  readonly data: Uint8Array;
}

export const certCodec: BodyCodec<CertPayload> = {
  decode(r, start, end, ctx) {
    r.need(start, 1, end, 'certificate encoding');
    return {
      kind: ctx.type === PayloadType.CERT ? 'CERT' : 'CERTREQ',
      flags: ctx.flags,
      encoding: r.u8(start),
      data: r.slice(start + 1, end),
    };
  },
  size: (p) => 1 + p.data.length,
  write(w, off, p) {
    w.u8(off, p.encoding, 'certificate encoding');
    w.bytes(off + 1, p.data);
  },
};
