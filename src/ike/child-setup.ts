// Making a Child SA object and its kernel install parameters, shared by the Child SA of IKE_AUTH
// (tasks/auth-child.ts), the CREATE_CHILD_SA exchange (tasks/create-child-sa.ts) and the lifecycle.
import { jitteredRekeyMs } from '../base/jitter.ts';
import { NotifyType, ProtocolId, type Payload } from '../codec/index.ts';
import { markOnly, pickIds } from './xfrm-ids.ts';
import { ChildSa } from './child-sa.ts';
import type { ChildConfig } from './config.ts';
import type { IkeSa } from './ike-sa.ts';
import type { InstallContext } from './kernel-install.ts';
import type { OutboundMessage } from './task.ts';
import { findNotify, notify } from './wire.ts';

/** The install parameters of the IKE SA's current path and the child's lifetimes, mark and if_id. */
export function installContext(sa: IkeSa, child: ChildConfig): InstallContext {
  const c = child;
  const conn = sa.config;
  const p = sa.path;
  const secs = (ms: number | undefined) =>
    ms === undefined ? undefined : Math.max(1, Math.round(ms / 1000));
  const o = sa.services.options;
  const rekey =
    c.childRekeyMs === undefined
      ? undefined
      : jitteredRekeyMs(c.childRekeyMs, c.childLifetimeMs, o.rekeyJitter, (n) => sa.services.randomBytes(n));
  const soft = secs(rekey);
  const hard = secs(c.childLifetimeMs);
  const bytes = c.childLifetimeBytes;
  const lifetime =
    soft !== undefined || hard !== undefined || bytes !== undefined
      ? {
          soft: {
            ...(soft !== undefined ? { seconds: soft } : {}),
            ...(bytes !== undefined ? { bytes: (bytes * 9n) / 10n } : {}),
          },
          hard: {
            ...(hard !== undefined ? { seconds: hard } : {}),
            ...(bytes !== undefined ? { bytes } : {}),
          },
        }
      : undefined;
  return {
    localAddr: p.localAddr,
    remoteAddr: p.remoteAddr,
    ...(sa.natLocal || sa.natRemote ? { encap: { localPort: p.localPort, remotePort: p.remotePort } } : {}),
    ...(lifetime ? { lifetime } : {}),
    ...(conn.replayWindow !== undefined ? { replayWindow: conn.replayWindow } : {}),
    ...pickIds(c),
    priority: conn.policyPriority ?? 1000,
  };
}

/**
 * Reserves the inbound SPI with the kernel (XFRM_MSG_ALLOCSPI: a larval SA completed at install)
 * and makes the Child SA object for a new or rekeyed Child SA (RFC 7296 §1.3).
 */
export async function allocateChild(
  sa: IkeSa,
  c: ChildConfig,
  reqid: number,
  initiator: boolean,
): Promise<ChildSa> {
  const o = sa.services.options;
  const protocol = c.childProtocol ?? 'esp';
  const spi = await sa.services.kernel.allocSpi({
    src: sa.path.remoteAddr,
    dst: sa.path.localAddr,
    proto: protocol,
    reqid,
    ...markOnly(c, 'in'),
    ...(o.spiMin !== undefined ? { min: o.spiMin } : {}),
    ...(o.spiMax !== undefined ? { max: o.spiMax } : {}),
  });
  const child = new ChildSa({
    id: sa.services.nextChildId(),
    name: c.name,
    config: c,
    reqid,
    spiIn: spi,
    localAddr: sa.path.localAddr,
    ...markOnly(c, 'in'),
    logger: sa.logger,
    protocol,
  });
  child.initiator = initiator;
  child.retainKeys = o.retainChildKeys;
  return child;
}

/** The IKE protocol ID of a child's SAs (RFC 7296 §3.3.1: ESP = 3, AH = 2). */
export function childProtocolId(c: ChildConfig): ProtocolId {
  return c.childProtocol === 'ah' ? ProtocolId.AH : ProtocolId.ESP;
}

/**
 * RFC 7296 §3.10.1 ESP_TFC_PADDING_NOT_SUPPORTED: what the peer said in this exchange, and the TFC
 * padding our outbound SA gets (RFC 4303 §2.7: only ESP in tunnel mode, never towards a peer that
 * refused it). Call once the mode is known.
 */
export function settleTfc(sa: IkeSa, child: ChildSa, payloads: readonly Payload[]): void {
  child.peerRefusesTfc = findNotify(payloads, NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED) !== undefined;
  const pad = child.config.tfcPadding;
  const applies = pad !== undefined && child.protocol === 'esp' && child.mode === 'tunnel';
  child.tfcPad = applies && !child.peerRefusesTfc ? pad : undefined;
  if (applies && child.peerRefusesTfc) {
    sa.services.counters.inc('ike.tfc_refused_by_peer');
    sa.logger.log('info', 'peer does not accept TFC padding: none sent (RFC 7296 §3.10.1)', {
      child: child.id,
    });
  }
}

/** Our ESP_TFC_PADDING_NOT_SUPPORTED, when the connection refuses TFC padding (RFC 7296 §3.10.1). */
export function addTfcRefusal(c: ChildConfig, msg: OutboundMessage): void {
  if (c.acceptTfcPadding === false && (c.childProtocol ?? 'esp') === 'esp')
    msg.add(notify(NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED));
}
