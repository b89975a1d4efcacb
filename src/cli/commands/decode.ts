// `ikeway decode`: dissect IKEv2 messages given as hex or found in a pcap/pcapng capture; with
// --keys (a debug-keys file) the encrypted payloads are opened too (decode-keys.ts).
import type { CommandModule } from 'yargs';
import { readFileSync } from 'node:fs';
import { CodecError, decodeMessage, encodeMessage } from '../../codec/index.ts';
import { dissect, payloadLines, toJson } from '../../codec/dissect.ts';
import { ikeDatagrams, PcapError, type IkeDatagram } from '../../codec/pcap.ts';
import { KeyFileError, parseIkeKeyFile } from '../../daemon/keyfile.ts';
import { KeyedDecoder, type Opened } from './decode-keys.ts';

interface DecodeArgs {
  hex?: string;
  pcap?: string;
  json?: boolean;
  reencode?: boolean;
  keys?: string;
}

/** Hex with whitespace, colons, '0x' prefixes or '-' separators tolerated. */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s:.-]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) {
    throw new Error(clean.length % 2 ? 'odd number of hex digits' : 'hex contains a non-hex character');
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** "identical" or the first differing offset with both bytes. */
export function compareReencoded(input: Uint8Array, again: Uint8Array): string {
  const n = Math.min(input.length, again.length);
  for (let i = 0; i < n; i++) {
    if (input[i] !== again[i]) {
      const h = (b: number | undefined) => `0x${(b ?? 0).toString(16).padStart(2, '0')}`;
      return `differs at offset ${i}: input ${h(input[i])}, re-encoded ${h(again[i])}`;
    }
  }
  return input.length === again.length
    ? 'identical'
    : `differs in length: input ${input.length}, re-encoded ${again.length}`;
}

/** Decodes one message and prints it; returns false on a malformed message. */
function show(bytes: Uint8Array, args: DecodeArgs, label: string, keys?: KeyedDecoder): boolean {
  try {
    const msg = decodeMessage(bytes, { rejectUnknownCritical: false });
    const reencoded = args.reencode ? compareReencoded(bytes, encodeMessage(msg)) : undefined;
    const opened = keys?.open(bytes, msg);
    if (args.json) {
      const inner = opened && opened.state !== 'clear' ? { decrypted: openedJson(opened) } : {};
      console.log(
        JSON.stringify(
          { ...(label ? { source: label } : {}), message: toJson(msg), ...inner, reencoded },
          null,
          2,
        ),
      );
    } else {
      if (label) console.log(label);
      console.log(dissect(msg));
      if (opened && opened.state !== 'clear') console.log(openedText(opened));
      if (reencoded) console.log(`re-encode: ${reencoded}`);
    }
    return true;
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    console.error(`${label ? `${label}: ` : ''}malformed IKE message: ${e.message} (${e.code})`);
    return false;
  }
}

function openedText(o: Exclude<Opened, { state: 'clear' }>): string {
  switch (o.state) {
    case 'decrypted':
      return ['  decrypted:', ...o.payloads.flatMap(payloadLines).map((l) => `    ${l}`)].join('\n');
    case 'fragment':
      return `  decrypted: fragment ${o.have} of ${o.total} so far`;
    default:
      return `  not decrypted: ${o.why}`;
  }
}

function openedJson(o: Exclude<Opened, { state: 'clear' }>): unknown {
  return o.state === 'decrypted'
    ? { payloads: toJson({ payloads: o.payloads } as never) }
    : o.state === 'fragment'
      ? { fragments: o.have, of: o.total }
      : { error: o.why };
}

/** The decoder for --keys FILE, or undefined after one line on stderr naming the problem. */
function readKeys(file: string): KeyedDecoder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    console.error(
      `--keys ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
    return undefined;
  }
  try {
    const d = new KeyedDecoder(parseIkeKeyFile(text, file));
    if (d.size === 0) console.error(`--keys ${file}: no IKE SA keys in it`);
    return d;
  } catch (e) {
    if (!(e instanceof KeyFileError)) throw e;
    console.error(`--keys ${e.message}`);
    return undefined;
  }
}

/** The IKE datagrams of a capture file, or undefined after one line on stderr naming the problem. */
function readCapture(file: string): IkeDatagram[] | undefined {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EISDIR'
          ? 'is a directory'
          : err.code === 'EACCES'
            ? 'permission denied'
            : (err.code ?? err.message);
    console.error(`--pcap ${file}: cannot read: ${why}`);
    return undefined;
  }
  try {
    return ikeDatagrams(bytes);
  } catch (e) {
    if (!(e instanceof PcapError)) throw e;
    console.error(`--pcap ${file}: ${e.message}`);
    return undefined;
  }
}

export const decodeCommand: CommandModule<object, DecodeArgs> = {
  command: 'decode',
  describe: 'Dissect IKEv2 messages from hex or a pcap/pcapng capture',
  builder: (y) =>
    y
      .option('hex', { type: 'string', describe: 'One IKE message as hex (whitespace and colons allowed)' })
      .option('pcap', {
        type: 'string',
        describe: 'A pcap/pcapng file: every IKE packet on UDP 500/4500 (ESP and keepalives skipped)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of text' })
      .option('reencode', {
        type: 'boolean',
        default: false,
        describe: 'Re-encode and print "identical" or the first differing offset',
      })
      .option('keys', {
        type: 'string',
        describe: 'A debug-keys file (ikev2_decryption_table lines): open the encrypted payloads too',
      })
      .conflicts('hex', 'pcap')
      .check((a) => {
        if (a.hex === undefined && a.pcap === undefined)
          throw new Error('Give --hex <hex> or --pcap <file>.');
        return true;
      })
      .example('$0 decode --hex "$(cat msg.hex)" --reencode', 'Dissect one message and check the round trip')
      .example('$0 decode --pcap ike.pcapng --json', 'Every IKE message of a capture as JSON')
      .example('$0 decode --pcap ike.pcap --keys /root/ikeway-keys', 'With the IKE_AUTH payloads decrypted'),
  handler: (args) => {
    let ok = true;
    const keys = args.keys === undefined ? undefined : readKeys(args.keys);
    if (args.keys !== undefined && keys === undefined) {
      process.exitCode = 1;
      return;
    }
    if (args.hex !== undefined) {
      let bytes: Uint8Array;
      try {
        bytes = parseHex(args.hex);
      } catch (e) {
        console.error(`--hex: ${(e as Error).message}`);
        process.exitCode = 1;
        return;
      }
      ok = show(bytes, args, '', keys);
    } else if (args.pcap !== undefined) {
      const grams = readCapture(args.pcap);
      if (grams === undefined) {
        process.exitCode = 1;
        return;
      }
      if (grams.length === 0) console.error(`${args.pcap}: no IKE packets found`);
      for (const d of grams) {
        const label = `packet ${d.packet} ${d.src}:${d.srcPort} -> ${d.dst}:${d.dstPort}`;
        ok = show(d.ike, args, label, keys) && ok;
      }
    }
    if (!ok) process.exitCode = 1;
  },
};
