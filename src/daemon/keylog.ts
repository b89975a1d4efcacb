// debug-keys: the SA keys in Wireshark's own table formats, so a capture can be decrypted.
//   FILE      lines of the ikev2_decryption_table UAT (IKE SAs: SPIi, SPIr, SK_ei, SK_er, encryption
//             algorithm, SK_ai, SK_ar, integrity algorithm)
//   FILE.esp  lines of the esp_sa UAT (ESP SAs: protocol, source, destination, SPI, encryption
//             algorithm and key, authentication algorithm and key)
// Copy them into a Wireshark profile as ikev2_decryption_table and esp_sa, or give a line to
// tshark -o "uat:ikev2_decryption_table:LINE". Both files are created with O_EXCL and mode 600, or,
// if they exist, must be regular files of ours with no group/other bits (never through a symlink).
// Off (no option) means this module is never instantiated: no key is read, nothing is written.
import { closeSync, constants, fstatSync, lstatSync, openSync, writeSync } from 'node:fs';
import type { IkeSa } from '../ike/ike-sa.ts';
import type { Kernel, KernelOp, SaParams } from '../kernel/types.ts';
import { ESP_AUTH, ESP_ENCR, IKE_ENCR, IKE_INTEG } from './keyfile.ts';

export const debugKeysWarning = (file: string) =>
  `debug-keys is ON: every IKE and ESP SA key is written to ${file} (and ${file}.esp); ` +
  'anyone who can read them can decrypt the traffic. Remove debug-keys from the config when done.';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const q = (s: string) => `"${s}"`;

export class KeyLogError extends Error {
  readonly code = 'ERR_DEBUG_KEYS';
}

/** Opens `path` for appending: new with O_EXCL and mode 600, or an existing private file of ours. */
export function openPrivate(path: string): number {
  try {
    return openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND,
      0o600,
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new KeyLogError(`debug-keys: cannot create ${path}: ${(e as Error).message}`);
  }
  const st = lstatSync(path);
  if (!st.isFile())
    throw new KeyLogError(`debug-keys: ${path} exists and is not a regular file (a symlink?); remove it`);
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
  const f = fstatSync(fd);
  const uid = process.getuid?.();
  if ((f.mode & 0o077) !== 0 || (uid !== undefined && f.uid !== uid) || f.ino !== st.ino) {
    closeSync(fd);
    throw new KeyLogError(
      `debug-keys: ${path} exists with mode ${(f.mode & 0o777).toString(8)} or another owner; it must be ours and 600 (chmod 600, or remove it)`,
    );
  }
  return fd;
}

export class KeyLog {
  readonly #ike: number;
  readonly #esp: number;
  readonly #seen = new WeakSet<IkeSa>();

  private constructor(ike: number, esp: number) {
    this.#ike = ike;
    this.#esp = esp;
  }

  static open(file: string): KeyLog {
    const ike = openPrivate(file);
    try {
      return new KeyLog(ike, openPrivate(`${file}.esp`));
    } catch (e) {
      closeSync(ike);
      throw e;
    }
  }

  /** The ikev2_decryption_table line of an IKE SA whose keys are derived (once per SA). */
  ikeSa(sa: IkeSa): void {
    const km = sa.keymat;
    if (!km || this.#seen.has(sa) || km.keys.destroyed) return;
    this.#seen.add(sa);
    const { encr, integ } = km.alg;
    const k = km.keys;
    // UAT syntax: byte fields as bare hex, enumerations as quoted names.
    const line = [
      hex(sa.spiI),
      hex(sa.spiR),
      hex(k.skEi),
      hex(k.skEr),
      q(IKE_ENCR[`${encr.alg.id}/${encr.keyBits}`] ?? `unsupported by Wireshark: ${encr.alg.name}`),
      integ ? hex(k.skAi) : '',
      integ ? hex(k.skAr) : '',
      q(IKE_INTEG[integ?.id ?? 0] ?? `unsupported by Wireshark: ${integ?.name ?? ''}`),
    ];
    writeSync(this.#ike, `${line.join(',')}\n`);
  }

  /** The esp_sa line of one ESP SA as the kernel receives it. */
  espSa(p: SaParams): void {
    if (p.proto !== 'esp') return;
    const v6 = p.dst.includes(':');
    const enc = p.aead
      ? { name: ESP_ENCR[`${p.aead.name}/${p.aead.icvBits}`], key: p.aead.key }
      : p.crypt
        ? { name: ESP_ENCR[p.crypt.name], key: p.crypt.key }
        : { name: 'NULL', key: new Uint8Array() };
    const auth = p.auth
      ? { name: ESP_AUTH[`${p.auth.name}/${p.auth.truncBits}`], key: p.auth.key }
      : { name: 'NULL', key: new Uint8Array() };
    const line = [
      v6 ? 'IPv6' : 'IPv4',
      p.src,
      p.dst,
      `0x${p.spi.toString(16).padStart(8, '0')}`,
      enc.name ?? 'unsupported by Wireshark',
      enc.key.length ? `0x${hex(enc.key)}` : '',
      auth.name ?? 'unsupported by Wireshark',
      auth.key.length ? `0x${hex(auth.key)}` : '',
    ];
    writeSync(this.#esp, `${line.map(q).join(',')}\n`);
  }

  close(): void {
    closeSync(this.#ike);
    closeSync(this.#esp);
  }
}

/** The kernel, with every ESP SA it is given also written to the key log (addSa, updateSa, batch). */
export function keyLoggingKernel(kernel: Kernel, log: KeyLog): Kernel {
  return new Proxy(kernel, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if ((prop === 'addSa' || prop === 'updateSa') && typeof v === 'function')
        return (p: SaParams) => {
          log.espSa(p);
          return (v as (p: SaParams) => Promise<void>).call(target, p);
        };
      // A Child SA's two SAs arrive in one batch (ike/kernel-install.ts).
      if (prop === 'batch' && typeof v === 'function')
        return (ops: readonly KernelOp[]) => {
          for (const op of ops) if (op.op === 'addSa' || op.op === 'updateSa') log.espSa(op.sa);
          return (v as (o: readonly KernelOp[]) => Promise<unknown>).call(target, ops);
        };
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
