// X25519/X448 key pairs in bulk: a responder makes one per IKE SA (and per Child SA with PFS), so
// this is run 60,000 times in a child process that must finish. Node 20 deadlocks when a GC runs
// the destructor of a key generation job (it locks the key's mutex) inside an export of that same
// key (which holds the mutex): ikeway exported the public value of a generateKeyPairSync key and
// hung after ~24,000 IKE SAs with its UDP receive queue full (gdb: main thread in futex_wait under
// ~KeyGenJob, called from GC in ExportJWKEdKey). The old code hung this loop within 50,000 keys
// in most runs; a hang here is the timeout, and the child is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const KE = join(import.meta.dirname, '..', '..', 'src', 'crypto', 'ke.ts');
const N = 60_000;

for (const [name, group] of [
  ['X25519', 31],
  ['X448', 32],
] as const) {
  test(`${name}: ${N} key pairs and their public values in one process, no hang`, () => {
    const script = [
      `import { createKeyExchange } from ${JSON.stringify(KE)};`,
      `const seen = new Set();`,
      `for (let i = 0; i < ${name === 'X448' ? N / 4 : N}; i++) {`,
      `  const ke = createKeyExchange(${group});`,
      `  if (i < 1000) seen.add(Buffer.from(ke.publicKey).toString('hex'));`,
      `  ke.destroy();`,
      `}`,
      `process.stdout.write('ok ' + seen.size);`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      encoding: 'utf8',
      timeout: 90_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.signal, null, `the key generation loop hung (killed after 90 s): ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ok 1000', 'every public value differs');
  });
}
