// NAT detection in IKE_SA_INIT (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP and _DESTINATION_IP, and the
// initiator's switch to port 4500 for everything after IKE_SA_INIT when a NAT is found (RFC 3948).
// With forceEncap we send a source hash that cannot match, so the peer sees "a NAT" (§2.23 allows it).
import { ExchangeType, NotifyType } from '../../codec/index.ts';
import type { IkeSa } from '../ike-sa.ts';
import { natHash } from '../natd.ts';
import type { InboundMessage, OutboundMessage, Task } from '../task.ts';
import { bytesEqual, findNotifies } from '../wire.ts';

export class IkeNatd implements Task {
  readonly name = 'ike-natd';
  readonly exchange = ExchangeType.IKE_SA_INIT;

  constructor(private readonly sa: IkeSa) {}

  build(msg: OutboundMessage): void {
    const sa = this.sa;
    const p = sa.path;
    const src = sa.config.forceEncap
      ? sa.services.randomBytes(20)
      : natHash(sa.spiI, sa.spiR, p.localAddr, p.localPort);
    msg.add(
      {
        kind: 'NOTIFY',
        protocolId: 0,
        notifyType: NotifyType.NAT_DETECTION_SOURCE_IP,
        spi: new Uint8Array(0),
        data: src,
      },
      {
        kind: 'NOTIFY',
        protocolId: 0,
        notifyType: NotifyType.NAT_DETECTION_DESTINATION_IP,
        spi: new Uint8Array(0),
        data: natHash(sa.spiI, sa.spiR, p.remoteAddr, p.remotePort),
      },
    );
  }

  process(msg: InboundMessage): void {
    const sa = this.sa;
    const srcs = findNotifies(msg.payloads, NotifyType.NAT_DETECTION_SOURCE_IP);
    const dst = findNotifies(msg.payloads, NotifyType.NAT_DETECTION_DESTINATION_IP);
    if (srcs.length === 0 || dst.length === 0) return; // peer does not do NAT-T: no switch
    // The hashes cover SPIr as it was in the message (zero in the request).
    const spiR = msg.header.spiR;
    const p = msg.path;
    const seenSrc = natHash(sa.spiI, spiR, p.remoteAddr, p.remotePort);
    const seenDst = natHash(sa.spiI, spiR, p.localAddr, p.localPort);
    // §2.23: no source hash matches -> the peer is behind a NAT; destination mismatch -> we are.
    sa.natRemote = !srcs.some((n) => bytesEqual(n.data, seenSrc));
    sa.natLocal = !dst.some((n) => bytesEqual(n.data, seenDst)) || !!sa.config.forceEncap;
    if (sa.natLocal || sa.natRemote) {
      sa.logger.log('info', 'NAT detected', { local: sa.natLocal, remote: sa.natRemote });
      if (sa.initiator) {
        // §2.23: the initiator moves to port 4500 for IKE_AUTH and keeps it.
        const { natt } = sa.services.ports;
        sa.path = { ...sa.path, localPort: natt, remotePort: natt };
      }
    }
  }
}
