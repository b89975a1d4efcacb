// Typed errors of the IKE layer. Each carries a stable `code` and, where the protocol answers with one,
// the notify type the exchange runner sends back (RFC 7296 §3.10.1). Messages never include key bytes.
import { NotifyType } from '../codec/iana.ts';

export type IkeErrorCode =
  | 'ERR_NO_PROPOSAL_CHOSEN'
  | 'ERR_CHOSEN_NOT_OFFERED'
  | 'ERR_INVALID_KE_PAYLOAD'
  | 'ERR_PROPOSAL_SYNTAX'
  | 'ERR_TS_UNACCEPTABLE'
  | 'ERR_TS_SYNTAX'
  | 'ERR_AUTHENTICATION_FAILED'
  | 'ERR_INVALID_SYNTAX'
  | 'ERR_PEER_ERROR'
  | 'ERR_TIMEOUT'
  | 'ERR_NO_CONNECTION'
  | 'ERR_KERNEL';

export class IkeError extends Error {
  override readonly name: string = 'IkeError';
  constructor(
    readonly code: IkeErrorCode,
    message: string,
    /** The notify to answer with, if any (RFC 7296 §2.21). */
    readonly notify?: NotifyType,
  ) {
    super(`${code}: ${message}`);
  }
}

/** RFC 7296 §2.7: none of the offered proposals is acceptable. */
export class NoProposalChosenError extends IkeError {
  override readonly name = 'NoProposalChosenError';
  constructor(message: string) {
    super('ERR_NO_PROPOSAL_CHOSEN', message, NotifyType.NO_PROPOSAL_CHOSEN);
  }
}

/** RFC 7296 §2.7: the responder's choice was not one of the initiator's offers (the SA fails). */
export class ChosenNotOfferedError extends IkeError {
  override readonly name = 'ChosenNotOfferedError';
  constructor(message: string) {
    super('ERR_CHOSEN_NOT_OFFERED', message, NotifyType.INVALID_SYNTAX);
  }
}

/** RFC 7296 §1.2, §3.10.1: the KE payload's group is not the selected one; tell the peer which. */
export class InvalidKePayloadError extends IkeError {
  override readonly name = 'InvalidKePayloadError';
  constructor(
    readonly received: number,
    readonly wanted: number,
  ) {
    super(
      'ERR_INVALID_KE_PAYLOAD',
      `KE payload group ${received}, selected ${wanted}`,
      NotifyType.INVALID_KE_PAYLOAD,
    );
  }
}

/** A strongSwan-style proposal string that does not parse; `token` is the offending word. */
export class ProposalSyntaxError extends IkeError {
  override readonly name = 'ProposalSyntaxError';
  constructor(
    readonly input: string,
    readonly token: string,
    reason: string,
  ) {
    super('ERR_PROPOSAL_SYNTAX', `${reason}: "${token}" in "${input}"`);
  }
}

/** RFC 7296 §2.9: no part of the proposed traffic selectors fits local policy. */
export class TsUnacceptableError extends IkeError {
  override readonly name = 'TsUnacceptableError';
  constructor(message: string) {
    super('ERR_TS_UNACCEPTABLE', message, NotifyType.TS_UNACCEPTABLE);
  }
}

/** A traffic selector given in config (CIDR, range, ports) that does not parse or is inverted. */
export class TsSyntaxError extends IkeError {
  override readonly name = 'TsSyntaxError';
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super('ERR_TS_SYNTAX', `${reason}: "${input}"`);
  }
}

/** RFC 7296 §2.21.2: the peer could not be authenticated; the IKE SA is deleted. */
export class AuthenticationFailedError extends IkeError {
  override readonly name = 'AuthenticationFailedError';
  constructor(message: string) {
    super('ERR_AUTHENTICATION_FAILED', message, NotifyType.AUTHENTICATION_FAILED);
  }
}

/** RFC 7296 §2.21.3: a message that is syntactically wrong after it authenticated. */
export class InvalidSyntaxError extends IkeError {
  override readonly name = 'InvalidSyntaxError';
  constructor(message: string) {
    super('ERR_INVALID_SYNTAX', message, NotifyType.INVALID_SYNTAX);
  }
}

/** The peer answered with an error notify (RFC 7296 §3.10.1); `notifyType` says which. */
export class PeerError extends IkeError {
  override readonly name = 'PeerError';
  constructor(
    readonly notifyType: number,
    message: string,
  ) {
    super('ERR_PEER_ERROR', message);
  }
}

/** The responder refused our CREATE_CHILD_SA with an error notify (RFC 7296 §2.21). */
export class PeerRefused extends IkeError {
  override readonly name = 'PeerRefused';
  constructor(readonly notifyType: number) {
    super('ERR_PEER_ERROR', `CREATE_CHILD_SA refused with notify ${notifyType}`);
  }
}

/** Child SA errors that leave the IKE SA up (RFC 7296 §1.2: "the IKE SA is still created"). */
export const CHILD_ERRORS: ReadonlySet<number> = new Set([
  NotifyType.NO_PROPOSAL_CHOSEN,
  NotifyType.TS_UNACCEPTABLE,
  NotifyType.SINGLE_PAIR_REQUIRED,
  NotifyType.INTERNAL_ADDRESS_FAILURE,
  NotifyType.FAILED_CP_REQUIRED,
  NotifyType.INVALID_SELECTORS,
]);
