// Shared helpers for the crypto tests: hex I/O and the known-answer vector file.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { CryptoError, type CryptoErrorCode } from '../../src/crypto/errors.ts';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function loadVectors<T = Record<string, unknown>>(name: string): T {
  const url = new URL(`../vectors/crypto/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

/** Assert that fn throws a CryptoError with the given code. */
export function throwsCode(fn: () => unknown, code: CryptoErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CryptoError, `expected CryptoError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}
