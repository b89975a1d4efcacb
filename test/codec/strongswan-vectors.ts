// Loads the captured strongSwan 5.9.8 messages (test/vectors/strongswan/*.json).
import { readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../vectors/strongswan/', import.meta.url);
export const strongswanMessages = (): { file: string; exchange: string; bytes: Uint8Array }[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((file) => {
      const v = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as {
        messages: { exchange: string; hex: string }[];
      };
      return v.messages.map((m) => ({
        file,
        exchange: m.exchange,
        bytes: Uint8Array.from(Buffer.from(m.hex, 'hex')),
      }));
    });
