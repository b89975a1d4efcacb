// The MTU of a route-based tunnel's interface: the path MTU to the peer minus what ESP in tunnel
// mode adds (RFC 4303 §2: SPI + sequence number, IV, padding to the cipher's block, pad length and
// next header, ICV; RFC 3948: UDP encapsulation; the outer IP header). Worst case over the
// proposals: the negotiated one is among them.

/** Overhead of one ESP proposal ('aes256gcm16', 'aes128-sha256', 'chacha20poly1305' ...). */
export function espOverhead(proposal: string): number {
  const p = proposal.toLowerCase();
  let iv = 16;
  let block = 16;
  let icv: number;
  if (/gcm|ccm|chacha20poly1305/.test(p)) {
    iv = 8; // RFC 4106 §3.1, RFC 7634 §2
    block = 4; // stream modes pad only to 4 bytes (RFC 4303 §2.4)
    const m = /(?:gcm|ccm)(8|12|16)/.exec(p);
    icv = m ? Number(m[1]) : 16;
  } else {
    // CBC with a separate HMAC (RFC 3602, RFC 4868): truncated ICVs
    icv = /sha512/.test(p) ? 32 : /sha384/.test(p) ? 24 : /sha256/.test(p) ? 16 : 12;
  }
  return 8 + iv + (block - 1) + 2 + icv;
}

export interface MtuInput {
  readonly pathMtu: number;
  readonly outerFamily: 4 | 6;
  readonly espProposals: readonly string[];
  /** ESP in UDP (NAT-T): 8 more bytes. */
  readonly udpEncap: boolean;
}

export function tunnelMtu(i: MtuInput): number {
  const esp = Math.max(...i.espProposals.map(espOverhead), 0);
  const outer = i.outerFamily === 4 ? 20 : 40;
  return i.pathMtu - outer - (i.udpEncap ? 8 : 0) - esp;
}
