// Datagrams the kernel dropped on this process's UDP sockets because their receive buffer was full
// (the `drops` column of /proc/net/udp and /proc/net/udp6, per socket inode). Under a flood these are
// the requests the daemon never saw: no counter of ours can count them otherwise. Linux only; the
// reader returns undefined elsewhere or when /proc is not readable.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Sums the drops column of /proc/net/udp-format text for the sockets whose inode is in `inodes`. */
export function udpDrops(text: string, inodes: ReadonlySet<string>): number {
  let sum = 0;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (f.length < 13 || !inodes.has(f[9]!)) continue;
    const d = Number(f[12]);
    if (Number.isFinite(d)) sum += d;
  }
  return sum;
}

/** Inodes of the sockets this process holds open (/proc/self/fd -> "socket:[N]"). */
function socketInodes(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed between the listing and the readlink
    }
  }
  return out;
}

/** Receive-buffer drops of our UDP sockets so far, or undefined when /proc cannot tell. */
export function readRcvbufDrops(): number | undefined {
  try {
    const inodes = socketInodes();
    let sum = 0;
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      try {
        sum += udpDrops(readFileSync(f, 'utf8'), inodes);
      } catch {
        // no IPv6
      }
    }
    return sum;
  } catch {
    return undefined;
  }
}
