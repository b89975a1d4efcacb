// Shared helpers for the creds tests.
import assert from 'node:assert/strict';
import { CredsError, type CredsErrorCode } from '../../src/creds/errors.ts';

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** Assert that fn throws a CredsError with the given code (and optionally a message pattern). */
export function throwsCode(fn: () => unknown, code: CredsErrorCode, message?: RegExp): CredsError {
  let caught: CredsError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CredsError, `expected CredsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    caught = e;
    return true;
  });
  return caught!;
}

/** The scheme named by RFC 7427 AUTH data: the DER AlgorithmIdentifier's OID, as hex. */
export function authAlgOid(data: Uint8Array): string {
  const alg = data.subarray(1, 1 + data[0]!);
  // SEQUENCE { OID ... }: the OID TLV starts at offset 2 (short lengths in every RFC 7427 identifier)
  return toHex(alg.subarray(4, 4 + alg[3]!));
}
