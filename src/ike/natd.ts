// NAT detection (RFC 7296 §2.23): each side hashes the addresses and ports it sees,
//   NAT_DETECTION_*_IP data = SHA-1(SPIi | SPIr | IP address | Port)
// and compares with what the peer saw. SPIr is zero in the IKE_SA_INIT request.
import { createHash } from 'node:crypto';
import { parseAddress, addressToBytes } from './traffic-selectors.ts';

export function natHash(spiI: Uint8Array, spiR: Uint8Array, addr: string, port: number): Uint8Array {
  const a = parseAddress(addr);
  const ip = addressToBytes(a.value, a.type);
  const p = Uint8Array.of(port >> 8, port & 0xff);
  return new Uint8Array(createHash('sha1').update(spiI).update(spiR).update(ip).update(p).digest());
}
