// IKE_AUTH (RFC 7296 §1.2, §2.15): identities, AUTH by PSK or RFC 7427 signature (via the Credentials
// interface), CERT/CERTREQ (§3.6, §3.7), optional IDr (§3.5), INITIAL_CONTACT (§2.4).
// AUTHENTICATION_FAILED in the response kills the IKE SA (§2.21.2).
import {
  AuthMethod,
  CertEncoding,
  ExchangeType,
  NotifyType,
  isErrorNotify,
  type IdPayload,
} from '../../codec/index.ts';
import { HASH_LEN, pskAuth, signedOctets, verifyPskAuth } from '../../crypto/index.ts';
import { intAuthOctets } from '../../crypto/intauth.ts';
import type { IkeIdentity } from '../config.ts';
import { AuthenticationFailedError, CHILD_ERRORS, InvalidSyntaxError, PeerError } from '../errors.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InboundMessage, OutboundMessage, Task } from '../task.ts';
import { rankForAuth, sameId } from '../select.ts';
import { staleOnInitialContact } from '../uniqueness.ts';
import { findNotify, findPayload, notify, tsFromWire } from '../wire.ts';

/** RFC 7296 §2.15: RestOfInitIDPayload / RestOfRespIDPayload = ID Type | RESERVED | data. */
export function idBody(id: IkeIdentity): Uint8Array {
  const out = new Uint8Array(4 + id.data.length);
  out[0] = id.type;
  out.set(id.data, 4);
  return out;
}

export class IkeAuth implements Task {
  readonly name = 'ike-auth';
  readonly exchange = ExchangeType.IKE_AUTH;

  constructor(private readonly sa: IkeSa) {}

  /**
   * The octets one side signs: its own IKE_SA_INIT message, the peer's nonce, prf(SK_p, ID), and after
   * IKE_INTERMEDIATE exchanges IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID (RFC 9242 §3.3.2;
   * IKE_AUTH follows the n exchanges with message ID n + 1).
   */
  #octets(ofInitiator: boolean, id: IkeIdentity): Uint8Array {
    const sa = this.sa;
    const hash = sa.algorithms!.prf.hash;
    const intAuth =
      sa.intAuthI && sa.intAuthR
        ? intAuthOctets(sa.intAuthI, sa.intAuthR, sa.intermediateDone + 1)
        : undefined;
    return signedOctets(hash, {
      realMessage: ofInitiator ? sa.initRequest! : sa.initResponse!,
      peerNonce: ofInitiator ? sa.nonceR! : sa.nonceI!,
      skP: sa.keymat!.skP(ofInitiator),
      idPayloadBody: idBody(id),
      ...(intAuth ? { intAuth } : {}),
    });
  }

  #addOwn(msg: OutboundMessage): void {
    const sa = this.sa;
    const c = sa.config;
    const kind = sa.initiator ? 'IDi' : 'IDr';
    const octets = this.#octets(sa.initiator, c.localId);
    const id: IdPayload = { kind, idType: c.localId.type, data: c.localId.data };
    msg.add(id);
    if (c.auth.kind === 'psk') {
      const data = pskAuth(sa.algorithms!.prf.hash, c.auth.psk, octets);
      this.#addPeerIdRequest(msg);
      msg.add({ kind: 'AUTH', method: AuthMethod.SHARED_KEY_MIC, data });
      return;
    }
    const creds = c.auth.credentials;
    const local = creds.localAuth(octets, sa.peerHashes);
    for (const cert of local.certs) msg.add({ kind: 'CERT', encoding: cert.encoding, data: cert.data });
    const hashes = creds.certReqHashes();
    if (sa.initiator && hashes.length > 0)
      msg.add({ kind: 'CERTREQ', encoding: CertEncoding.X509_SIGNATURE, data: hashes });
    this.#addPeerIdRequest(msg);
    msg.add({ kind: 'AUTH', method: local.method, data: local.data });
  }

  /** §3.5: the initiator may name the responder identity it wants (optional IDr). */
  #addPeerIdRequest(msg: OutboundMessage): void {
    const c = this.sa.config;
    if (this.sa.initiator && c.sendIdr && c.remoteId)
      msg.add({ kind: 'IDr', idType: c.remoteId.type, data: c.remoteId.data });
  }

  build(msg: OutboundMessage): void {
    const sa = this.sa;
    this.#addOwn(msg);
    if (sa.initiator) {
      // §2.4: INITIAL_CONTACT when we hold no other IKE SA with this peer.
      const peer = sa.config.remoteId;
      if (!peer || sa.services.findByPeerId(sa.config, peer).length === 0)
        msg.add(notify(NotifyType.INITIAL_CONTACT));
      return;
    }
    this.#established();
  }

  async process(msg: InboundMessage): Promise<void> {
    const sa = this.sa;
    // RFC 9370 §2.2.2: IKE_AUTH only after every negotiated additional key exchange, with the next ID.
    if (
      !sa.initiator &&
      (sa.intermediateDone < sa.addKe.length || msg.header.messageId !== sa.intermediateDone + 1)
    ) {
      sa.services.counters.inc('ike.intermediate_unexpected');
      throw new InvalidSyntaxError(
        `IKE_AUTH (message ID ${msg.header.messageId}) after ${sa.intermediateDone} of ${sa.addKe.length} additional key exchanges`,
      );
    }
    if (sa.initiator) {
      const err = msg.payloads.find(
        (p) => p.kind === 'NOTIFY' && isErrorNotify(p.notifyType) && !CHILD_ERRORS.has(p.notifyType),
      );
      if (err?.kind === 'NOTIFY') {
        if (err.notifyType === NotifyType.AUTHENTICATION_FAILED) sa.services.counters.inc('ike.auth_failed');
        throw new PeerError(err.notifyType, `IKE_AUTH refused with notify ${err.notifyType}`);
      }
    }
    const idP = findPayload(msg.payloads, sa.initiator ? 'IDr' : 'IDi');
    const auth = findPayload(msg.payloads, 'AUTH');
    if (!idP || !auth) throw new InvalidSyntaxError('IKE_AUTH without ID or AUTH');
    const id: IkeIdentity = { type: idP.idType, data: idP.data.slice() };
    if (sa.initiator) {
      const want = sa.config.remoteId;
      if (want && !sameId(want, id))
        throw new AuthenticationFailedError('peer identity does not match the configuration');
      await this.#verify(id, auth.method, auth.data, msg);
    } else {
      await this.#selectAndVerify(id, auth.method, auth.data, msg);
    }
    // The IKE SA may have died (deleted, timed out) while a revocation fetch was awaited.
    if (sa.state === 'destroyed') throw new AuthenticationFailedError('IKE SA gone during peer verification');
    sa.peerId = id;
    if (!sa.initiator && findNotify(msg.payloads, NotifyType.INITIAL_CONTACT)) this.#initialContact(id);
    if (sa.initiator) this.#established();
  }

  /**
   * RFC 7296 §2.15 / §2.9: the connection picked by address at IKE_SA_INIT may not be the one the
   * initiator means; re-select with IDi, IDr (if sent), the AUTH method and the proposed selectors.
   */
  async #selectAndVerify(
    id: IkeIdentity,
    method: number,
    data: Uint8Array,
    msg: InboundMessage,
  ): Promise<void> {
    const sa = this.sa;
    const idr = findPayload(msg.payloads, 'IDr');
    const tsi = findPayload(msg.payloads, 'TSi');
    const tsr = findPayload(msg.payloads, 'TSr');
    const ranked = rankForAuth(sa.services.responderCandidates(sa.path), {
      peerId: id,
      ...(idr ? { ownId: { type: idr.idType, data: idr.data } } : {}),
      authMethod: method,
      ...(sa.proposal ? { ikeProposal: sa.proposal } : {}),
      ...(tsi && tsr ? { tsi: tsFromWire(tsi.selectors), tsr: tsFromWire(tsr.selectors) } : {}),
    });
    if (ranked.length === 0) throw new AuthenticationFailedError('no connection matches the peer identity');
    // The first connection whose credentials verify the AUTH wins; each failure is logged (§2.21.2:
    // the peer only ever learns AUTHENTICATION_FAILED).
    const first = sa.config;
    for (const [i, c] of ranked.entries()) {
      sa.config = c;
      try {
        await this.#verify(id, method, data, msg);
        if (c !== first)
          sa.logger.log('info', 'switching to the connection matching the peer', { connection: c.name });
        return;
      } catch (e) {
        if (!(e instanceof AuthenticationFailedError) || i === ranked.length - 1) {
          sa.config = first;
          throw e;
        }
      }
    }
  }

  async #verify(id: IkeIdentity, method: number, data: Uint8Array, msg: InboundMessage): Promise<void> {
    const sa = this.sa;
    const octets = this.#octets(!sa.initiator, id);
    const auth = sa.config.auth;
    try {
      if (auth.kind === 'psk') {
        if (method !== AuthMethod.SHARED_KEY_MIC || data.length !== HASH_LEN[sa.algorithms!.prf.hash]) {
          throw new Error(`AUTH method ${method} where a shared key was expected`);
        }
        verifyPskAuth(sa.algorithms!.prf.hash, auth.psk, octets, data);
      } else {
        const certs = msg.payloads.flatMap((p) =>
          p.kind === 'CERT' ? [{ encoding: p.encoding, data: p.data }] : [],
        );
        // The revocation check inside may wait for a CRL or OCSP fetch (bounded in time); the
        // SA's runner drops retransmissions meanwhile, and other SAs go on.
        await auth.credentials.verifyPeer({
          id,
          method,
          authData: data,
          octets,
          certs,
          allowedHashes: auth.credentials.hashes,
        });
      }
    } catch (e) {
      // The reason goes to the log, never to the peer (§2.21.2: just AUTHENTICATION_FAILED).
      sa.logger.log('warn', 'peer authentication failed', {
        connection: sa.config.name,
        error: e instanceof Error ? e.message : String(e),
      });
      throw new AuthenticationFailedError('peer authentication failed');
    }
  }

  /** §2.4: "the receiver MAY delete other IKE SAs" with the same authenticated identity; they are dead. */
  #initialContact(id: IkeIdentity): void {
    const sa = this.sa;
    for (const other of sa.services.findByPeerId(sa.config, id)) {
      if (other === sa || !staleOnInitialContact(sa, other)) continue;
      sa.logger.log('info', 'INITIAL_CONTACT: deleting an older IKE SA of the same peer', {
        other: other.name,
      });
      sa.services.run(other, () => other.destroy());
    }
  }

  #established(): void {
    const sa = this.sa;
    sa.setState('established');
    sa.services.counters.inc('ike.sa_established');
    sa.logger.log('info', 'IKE SA established', { spis: sa.describe() });
    sa.services.emit({ type: 'ike-established', sa });
  }
}
