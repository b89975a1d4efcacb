// A tunnel made without IKE: the ESP SAs and policies a negotiation would produce, installed with
// `ip xfrm` from random keys. It proves the lab's traffic and counter path independently of the
// daemon. Keys go to `ip -batch -` on stdin, so they never appear in argv, logs or errors.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sh } from '../netns/netns.ts';
import type { LabNs } from '../netns/lab-ns.ts';
import type { Lab } from './lab.ts';
import { LabError } from '../errors.ts';
import { familyOf, peerAsSeenBy, siteOf, otherSite, type SiteName } from './topology.ts';

export interface TunnelParams {
  readonly mode: 'tunnel' | 'transport';
  /** ESP in UDP 4500 (RFC 3948) instead of IP protocol 50. */
  readonly udpEncap: boolean;
  /** The first ESP proposal of the connection, strongSwan spelling (default aes256gcm16). */
  readonly espProposal: string;
}

export const DEFAULT_TUNNEL: TunnelParams = { mode: 'tunnel', udpEncap: false, espProposal: 'aes256gcm16' };

/** `ip xfrm state` algorithm arguments for a proposal; `key` makes a fresh random key of the right size. */
export function xfrmAlgorithm(proposal: string): { args: (key: (bytes: number) => string) => string[] } {
  const [enc = '', integ] = proposal.toLowerCase().split('-');
  const gcm = /^aes(128|192|256)gcm(8|12|16)$/.exec(enc);
  if (gcm) {
    // RFC 4106 §8.1: the key is the AES key plus a 4-byte salt.
    const bytes = Number(gcm[1]) / 8 + 4;
    return { args: (key) => ['aead', 'rfc4106(gcm(aes))', key(bytes), String(Number(gcm[2]) * 8)] };
  }
  if (enc === 'chacha20poly1305')
    return { args: (key) => ['aead', 'rfc7539esp(chacha20,poly1305)', key(36), '128'] };
  const cbc = /^aes(128|192|256)?$/.exec(enc);
  const trunc: Record<string, [string, number, number]> = {
    sha1: ['hmac(sha1)', 20, 96],
    sha256: ['hmac(sha256)', 32, 128],
    sha384: ['hmac(sha384)', 48, 192],
    sha512: ['hmac(sha512)', 64, 256],
  };
  const mac = integ === undefined ? undefined : trunc[integ];
  if (cbc && mac) {
    const bytes = Number(cbc[1] ?? 128) / 8;
    return {
      args: (key) => ['enc', 'cbc(aes)', key(bytes), 'auth-trunc', mac[0], key(mac[1]), String(mac[2])],
    };
  }
  throw new LabError(
    'LAB_UNSUPPORTED',
    `the static tunnel has no kernel algorithm for ESP proposal "${proposal}"`,
  );
}

export interface StaticTunnel {
  readonly spis: { readonly aToB: string; readonly bToA: string };
  /** Stops the helper processes (the namespaces' teardown removes the SAs). */
  stop(): void;
}

interface Dir {
  spi: string;
  keys: string[];
}

/** Lines for `ip -batch -` at one router: its out/in SAs and the policies for every LAN pair. */
export function staticBatch(
  lab: Pick<Lab, 'topology'>,
  me: SiteName,
  p: TunnelParams,
  dirs: Record<SiteName, Dir>,
): string[] {
  const t = lab.topology;
  const mine = siteOf(t, me);
  const peerName = otherSite(me);
  const peer = peerAsSeenBy(t, me);
  const alg = xfrmAlgorithm(p.espProposal);
  const mixed = mine.lans.some((l) => l.family !== t.family);
  const encap = p.udpEncap ? ['encap', 'espinudp', '4500', '4500', t.family === 4 ? '0.0.0.0' : '::'] : [];
  const state = (src: string, dst: string, d: Dir) => {
    let i = 0;
    const args = alg.args(() => d.keys[i++]!);
    return [
      'xfrm state add src',
      src,
      'dst',
      dst,
      'proto esp spi',
      d.spi,
      'reqid 1 mode',
      p.mode,
      'replay-window 32',
      ...args,
      ...encap,
      ...(mixed ? ['flag af-unspec'] : []),
    ].join(' ');
  };
  const lines = [state(mine.wan, peer, dirs[me]), state(peer, mine.wan, dirs[peerName])];
  const tmpl = (src: string, dst: string) =>
    p.mode === 'tunnel'
      ? `tmpl src ${src} dst ${dst} proto esp reqid 1 mode tunnel`
      : 'tmpl proto esp reqid 1 mode transport';
  const pairs: [string, string][] =
    p.mode === 'transport'
      ? [[`${mine.wan}/${t.family === 4 ? 32 : 128}`, `${peer}/${t.family === 4 ? 32 : 128}`]]
      : mine.lans.flatMap((l) =>
          siteOf(t, peerName)
            .lans.filter((r) => r.family === l.family)
            .map((r): [string, string] => [l.prefix, r.prefix]),
        );
  for (const [local, remote] of pairs) {
    lines.push(`xfrm policy add src ${local} dst ${remote} dir out ${tmpl(mine.wan, peer)}`);
    lines.push(`xfrm policy add src ${remote} dst ${local} dir in ${tmpl(peer, mine.wan)}`);
    if (p.mode === 'tunnel')
      lines.push(`xfrm policy add src ${remote} dst ${local} dir fwd ${tmpl(peer, mine.wan)}`);
  }
  return lines;
}

function newDir(p: TunnelParams): Dir {
  const spi = `0x${(0x1000_0000 + randomBytes(3).readUIntBE(0, 3)).toString(16)}`;
  const keys: string[] = [];
  xfrmAlgorithm(p.espProposal).args((bytes) => {
    const k = `0x${randomBytes(bytes).toString('hex')}`;
    keys.push(k);
    return k;
  });
  return { spi, keys };
}

/** Starts the UDP 4500 ESPINUDP socket holder in a router namespace; resolves once it is ready. */
async function startEncapSocket(ns: LabNs, address: string): Promise<ChildProcess> {
  const script = join(import.meta.dirname, 'encap-socket.mjs');
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, script, address], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(
      () => reject(new LabError('LAB_TUNNEL', `UDP 4500 socket not ready in 30 s: ${err}`)),
      30_000,
    );
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new LabError('LAB_TUNNEL', `UDP 4500 socket holder exited ${code}: ${err.trim()}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return child;
}

/** Installs matching SAs and policies on both routers (and NAT-T sockets when encapsulating). */
export async function installStaticTunnel(lab: Lab, p: TunnelParams = DEFAULT_TUNNEL): Promise<StaticTunnel> {
  const dirs: Record<SiteName, Dir> = { a: newDir(p), b: newDir(p) };
  const helpers: ChildProcess[] = [];
  const stop = () => helpers.forEach((c) => c.kill('SIGKILL'));
  try {
    for (const me of ['a', 'b'] as const) {
      const ns = lab.site(me).router;
      const batch = staticBatch(lab, me, p, dirs).join('\n') + '\n';
      try {
        sh('ip', ['-n', ns.name, '-batch', '-'], batch);
      } catch (e) {
        // The error names the failing batch line number only, never the keys.
        const why = (e as { stderr?: string }).stderr ?? '';
        const msg = /Requested type not found|Protocol not supported/.test(why)
          ? 'this kernel has no ESP (use the guest kernel)'
          : why.trim();
        throw new LabError('LAB_TUNNEL', `installing static SAs on router-${me}: ${msg}`);
      }
      if (p.udpEncap)
        helpers.push(
          await startEncapSocket(ns, familyOf(siteOf(lab.topology, me).wan) === 6 ? '::' : '0.0.0.0'),
        );
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { spis: { aToB: dirs.a.spi, bToA: dirs.b.spi }, stop };
}
