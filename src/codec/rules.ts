// Which payloads each exchange may carry: ONE table, checked by ONE function.
// Sources: RFC 7296 §1.2-§1.5 (exchanges), §2.6 (cookies), §2.21 (error responses), §3.14
// (everything after IKE_SA_INIT is inside SK), RFC 6023 (childless IKE_AUTH), RFC 7383 (SKF),
// RFC 9242 (IKE_INTERMEDIATE), RFC 9370 (IKE_FOLLOWUP_KE), RFC 8019 (Puzzle Solution). Lenient where the RFCs say MAY and
// peers differ: Notify, Vendor ID, CERTREQ and non-critical unknown payloads may appear freely.
import { CodecError, CodecErrorCode } from './errors.ts';
import { isResponse } from './header.ts';
import { ExchangeType, NotifyType, PayloadType, ProtocolId, ianaName, isErrorNotify } from './iana.ts';
import type { IkeMessage } from './message.ts';
import type { Payload, PayloadKind } from './payload.ts';
import { CRITICAL_FLAG } from './payloads/codec.ts';

/** [min, max] occurrences. */
export type Count = readonly [min: number, max: number];
export type PayloadCounts = Readonly<Partial<Record<PayloadKind, Count>>>;

export interface DirectionRule {
  /** Outside SK. For encrypted exchanges this is exactly one SK or SKF. */
  readonly plain: PayloadCounts;
  /** Inside SK; undefined when the exchange is not encrypted. */
  readonly inner?: PayloadCounts;
}

const ONE: Count = [1, 1];
const OPT: Count = [0, 1];
const ANY: Count = [0, Infinity];
const ENCRYPTED: PayloadCounts = { SK: OPT, SKF: OPT };
/** Free everywhere (RFC 7296 §3.10, §3.12). */
const FREE: PayloadCounts = { NOTIFY: ANY, VENDOR_ID: ANY };

const SA_INIT: PayloadCounts = { ...FREE, SA: ONE, KE: ONE, NONCE: ONE, CERTREQ: ANY };
/** RFC 8019 §7.1.2: a request may carry the Puzzle Solution (after a PUZZLE notify). */
const SA_INIT_REQUEST: PayloadCounts = { ...SA_INIT, PS: OPT };
const AUTH_COMMON: PayloadCounts = {
  ...FREE,
  CERT: ANY,
  CERTREQ: ANY,
  AUTH: OPT, // absent in the first request of an EAP exchange (§2.16)
  SA: OPT, // absent in childless IKE_AUTH (RFC 6023)
  TSi: OPT,
  TSr: OPT,
  CP: OPT,
  EAP: OPT,
};
const CHILD: PayloadCounts = { ...FREE, SA: ONE, NONCE: ONE, KE: OPT, TSi: OPT, TSr: OPT };
const INFO: PayloadCounts = { ...FREE, DELETE: ANY, CP: OPT };

/** The table, per exchange type, request and response. */
export const EXCHANGE_RULES: ReadonlyMap<number, { request: DirectionRule; response: DirectionRule }> =
  new Map([
    [ExchangeType.IKE_SA_INIT, { request: { plain: SA_INIT_REQUEST }, response: { plain: SA_INIT } }],
    [
      ExchangeType.IKE_AUTH,
      {
        request: { plain: ENCRYPTED, inner: { ...AUTH_COMMON, IDi: OPT, IDr: OPT } },
        response: { plain: ENCRYPTED, inner: { ...AUTH_COMMON, IDr: OPT } },
      },
    ],
    [
      ExchangeType.CREATE_CHILD_SA,
      { request: { plain: ENCRYPTED, inner: CHILD }, response: { plain: ENCRYPTED, inner: CHILD } },
    ],
    [
      ExchangeType.INFORMATIONAL,
      { request: { plain: ENCRYPTED, inner: INFO }, response: { plain: ENCRYPTED, inner: INFO } },
    ],
    [
      // RFC 9370 §2.2.2: HDR, SK {KEi(n)} / HDR, SK {KEr(n)}. KE is optional because other extensions
      // use IKE_INTERMEDIATE without one (RFC 9242 §3 leaves the content to them, e.g. RFC 9867).
      ExchangeType.IKE_INTERMEDIATE,
      {
        request: { plain: ENCRYPTED, inner: { ...FREE, KE: OPT } },
        response: { plain: ENCRYPTED, inner: { ...FREE, KE: OPT } },
      },
    ],
    [
      // RFC 9370 §2.2.4: HDR, SK {KEi(n), N(ADDITIONAL_KEY_EXCHANGE)} / HDR, SK {KEr(n), [N(...)]};
      // a responder that lost the state answers with a bare STATE_NOT_FOUND error notify.
      ExchangeType.IKE_FOLLOWUP_KE,
      {
        request: { plain: ENCRYPTED, inner: { ...FREE, KE: ONE } },
        response: { plain: ENCRYPTED, inner: { ...FREE, KE: ONE } },
      },
    ],
  ]);

/**
 * Notifies an exchange requires (or limits), beyond the payload counts: RFC 9370 §2.2.4, every
 * IKE_FOLLOWUP_KE request carries exactly one N(ADDITIONAL_KEY_EXCHANGE) linking it to the
 * CREATE_CHILD_SA it follows; the response carries at most one (none after the last exchange).
 */
export const NOTIFY_RULES: ReadonlyMap<number, { request?: NotifyCounts; response?: NotifyCounts }> = new Map(
  [
    [
      ExchangeType.IKE_FOLLOWUP_KE,
      {
        request: [[NotifyType.ADDITIONAL_KEY_EXCHANGE, ONE]],
        response: [[NotifyType.ADDITIONAL_KEY_EXCHANGE, OPT]],
      },
    ],
    // RFC 9370 §2.2.4: a CREATE_CHILD_SA response announces follow-up exchanges with one link notify.
    [ExchangeType.CREATE_CHILD_SA, { response: [[NotifyType.ADDITIONAL_KEY_EXCHANGE, OPT]] }],
  ],
);
export type NotifyCounts = readonly (readonly [notifyType: NotifyType, count: Count])[];

function checkNotifies(
  payloads: readonly Payload[],
  rule: NotifyCounts | undefined,
  where: string,
  waiveMin: boolean,
) {
  for (const [type, [min, max]] of rule ?? []) {
    const n = payloads.filter((p) => p.kind === 'NOTIFY' && p.notifyType === type).length;
    const name = ianaName(NotifyType, type);
    if (n > max) throw violation(`more than ${max} ${name} notify ${where}`);
    if (n < min && !waiveMin) throw violation(`${name} notify missing ${where} (RFC 9370 §2.2.4)`);
  }
}

function violation(
  detail: string,
  notify: NotifyType = NotifyType.INVALID_SYNTAX,
  data?: Uint8Array,
): CodecError {
  return new CodecError(CodecErrorCode.RULE_VIOLATION, -1, detail, notify, data);
}

/**
 * RFC 7296 §2.6, §2.21: a response carrying an error notify or a COOKIE stands alone, so the
 * payloads the exchange otherwise requires may be missing.
 */
function isBareNotifyAnswer(payloads: readonly Payload[]): boolean {
  return payloads.some(
    (p) => p.kind === 'NOTIFY' && (isErrorNotify(p.notifyType) || p.notifyType === NotifyType.COOKIE),
  );
}

function checkCounts(
  payloads: readonly Payload[],
  allowed: PayloadCounts,
  where: string,
  waiveMin: boolean,
): void {
  const seen = new Map<PayloadKind, number>();
  for (const p of payloads) {
    if (p.kind === 'UNKNOWN') {
      // RFC 7296 §2.5: unknown non-critical payloads are skipped; critical ones refused.
      if ((p.flags ?? 0) & CRITICAL_FLAG) {
        throw violation(
          `unsupported critical payload ${p.type}`,
          NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
          Uint8Array.of(p.type),
        );
      }
      continue;
    }
    const n = (seen.get(p.kind) ?? 0) + 1;
    seen.set(p.kind, n);
    const c = allowed[p.kind];
    if (!c) throw violation(`${p.kind} payload not allowed ${where}`);
    if (n > c[1]) throw violation(`more than ${c[1]} ${p.kind} payload${c[1] === 1 ? '' : 's'} ${where}`);
  }
  if (waiveMin) return;
  for (const [kind, c] of Object.entries(allowed) as [PayloadKind, Count][]) {
    if ((seen.get(kind) ?? 0) < c[0]) throw violation(`${kind} payload missing ${where}`);
  }
}

/** Cross-payload rules the count table cannot say. */
function checkStructure(payloads: readonly Payload[], where: string): void {
  const count = (k: PayloadKind) => payloads.filter((p) => p.kind === k).length;
  // RFC 7296 §1.3.1, §2.9: traffic selectors come as a TSi/TSr pair, with a Child SA proposal.
  if (count('TSi') !== count('TSr')) throw violation(`TSi and TSr must come together ${where}`);
  const childSa = payloads.some(
    (p) => p.kind === 'SA' && p.proposals.some((pr) => pr.protocolId !== ProtocolId.IKE),
  );
  if (childSa && count('TSi') === 0) throw violation(`Child SA proposal without TSi/TSr ${where}`);
  for (const p of payloads) {
    // RFC 7296 §2.10: nonces are 16 to 256 octets.
    if (p.kind === 'NONCE' && (p.data.length < 16 || p.data.length > 256)) {
      throw violation(`nonce of ${p.data.length} bytes outside 16..256 (RFC 7296 §2.10)`);
    }
  }
}

/**
 * Checks the payloads of `msg` (and, once decrypted, `inner`) against EXCHANGE_RULES.
 * Throws CodecError (code RULE_VIOLATION) with the notify to answer with; returns on success.
 * Call it on the outer message before decryption (inner undefined) and again with inner.
 */
export function checkExchangeRules(msg: IkeMessage, inner?: readonly Payload[]): void {
  const { exchangeType } = msg.header;
  const rule = EXCHANGE_RULES.get(exchangeType);
  if (!rule) throw violation(`exchange type ${ianaName(ExchangeType, exchangeType)} not supported`);
  const response = isResponse(msg.header);
  const dir = response ? rule.response : rule.request;
  const name = `in ${ianaName(ExchangeType, exchangeType)} ${response ? 'response' : 'request'}`;
  if (dir.inner) {
    const enc = msg.payloads.filter((p) => p.kind === 'SK' || p.kind === 'SKF');
    if (enc.length !== 1 || msg.payloads.length !== 1) {
      throw violation(`expected exactly one Encrypted payload and nothing else ${name} (RFC 7296 §3.14)`);
    }
    if (inner) {
      const where = `${name} (encrypted)`;
      const bare = response && isBareNotifyAnswer(inner);
      checkCounts(inner, dir.inner, where, bare);
      checkNotifies(inner, NOTIFY_RULES.get(exchangeType)?.[response ? 'response' : 'request'], where, bare);
      checkStructure(inner, where);
    }
    return;
  }
  if (msg.payloads.some((p) => p.kind === 'SK' || p.kind === 'SKF'))
    throw violation(`Encrypted payload ${name}`);
  checkCounts(msg.payloads, dir.plain, name, response && isBareNotifyAnswer(msg.payloads));
  checkStructure(msg.payloads, name);
}

/** The payload type a kind stands for (for notify data and logs). */
export const kindType = (k: Exclude<PayloadKind, 'UNKNOWN'>): number => PayloadType[k];
