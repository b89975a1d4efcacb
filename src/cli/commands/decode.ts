// `ikeway decode`: dissect IKEv2 messages given as hex or found in a pcap/pcapng capture.
import type { CommandModule } from 'yargs';
import { readFileSync } from 'node:fs';
import { CodecError, decodeMessage, encodeMessage } from '../../codec/index.ts';
import { dissect, toJson } from '../../codec/dissect.ts';
import { ikeDatagrams, PcapError, type IkeDatagram } from '../../codec/pcap.ts';

interface DecodeArgs {
  hex?: string;
  pcap?: string;
  json?: boolean;
  reencode?: boolean;
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
function show(bytes: Uint8Array, args: DecodeArgs, label: string): boolean {
  try {
    const msg = decodeMessage(bytes, { rejectUnknownCritical: false });
    const reencoded = args.reencode ? compareReencoded(bytes, encodeMessage(msg)) : undefined;
    if (args.json) {
      console.log(
        JSON.stringify({ ...(label ? { source: label } : {}), message: toJson(msg), reencoded }, null, 2),
      );
    } else {
      if (label) console.log(label);
      console.log(dissect(msg));
      if (reencoded) console.log(`re-encode: ${reencoded}`);
    }
    return true;
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    console.error(`${label ? `${label}: ` : ''}malformed IKE message: ${e.message} (${e.code})`);
    return false;
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
      .conflicts('hex', 'pcap')
      .check((a) => {
        if (a.hex === undefined && a.pcap === undefined)
          throw new Error('Give --hex <hex> or --pcap <file>.');
        return true;
      })
      .example('$0 decode --hex "$(cat msg.hex)" --reencode', 'Dissect one message and check the round trip')
      .example('$0 decode --pcap ike.pcapng --json', 'Every IKE message of a capture as JSON'),
  handler: (args) => {
    let ok = true;
    if (args.hex !== undefined) {
      let bytes: Uint8Array;
      try {
        bytes = parseHex(args.hex);
      } catch (e) {
        console.error(`--hex: ${(e as Error).message}`);
        process.exitCode = 1;
        return;
      }
      ok = show(bytes, args, '');
    } else if (args.pcap !== undefined) {
      const grams = readCapture(args.pcap);
      if (grams === undefined) {
        process.exitCode = 1;
        return;
      }
      if (grams.length === 0) console.error(`${args.pcap}: no IKE packets found`);
      for (const d of grams) {
        const label = `packet ${d.packet} ${d.src}:${d.srcPort} -> ${d.dst}:${d.dstPort}`;
        ok = show(d.ike, args, label) && ok;
      }
    }
    if (!ok) process.exitCode = 1;
  },
};
