// RFC 5280 §5.3.1 CRLReason, shared by CRL entries and OCSP RevokedInfo (RFC 6960 §4.2.1), for logs.
const REASONS: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export const reasonName = (r: number): string => REASONS[r] ?? `reason ${r}`;
