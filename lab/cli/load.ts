// `ikeway load`: the initiator load generator (lab/load/runner.ts). Sets up many IKE SAs with one Child
// SA each towards one responder (ikeway or another implementation) and reports established/failed
// counts, the rate achieved and setup latency (median, p99). The PSK comes from a file, never argv;
// or certificates (--cert bundle, one per SA, --key, --ca: RFC 7427 signature authentication).
import dgram from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Argv, CommandModule } from 'yargs';
import { LoadError, runLoad, type LoadOptions, type LoadReport } from '../load/runner.ts';

export interface LoadArgs {
  remote: string;
  local?: string;
  count: number;
  rate: number;
  concurrency: number;
  'psk-file'?: string;
  cert?: string;
  key?: string;
  ca?: string[];
  proposal: string;
  'esp-proposal': string;
  id: string;
  first: number;
  'remote-id'?: string;
  'local-ts'?: string[];
  'remote-ts'?: string[];
  timeout: number;
  delete: boolean;
  'ike-port': number;
  json: boolean;
}

export const loadCommand: CommandModule<object, LoadArgs> = {
  command: 'load',
  describe: 'Load generator: set up many IKE SAs (each with one Child SA) towards one responder',
  builder: (y: Argv) =>
    y
      .option('remote', { type: 'string', demandOption: true, describe: 'Responder address' })
      .option('local', { type: 'string', describe: 'Our address (default: the route towards --remote)' })
      .option('count', { type: 'number', default: 100, describe: 'IKE SAs to set up' })
      .option('rate', { type: 'number', default: 100, describe: 'New IKE SAs per second (0 = no limit)' })
      .option('concurrency', { type: 'number', default: 64, describe: 'Most IKE SAs in setup at once' })
      .option('psk-file', { type: 'string', describe: 'File holding the PSK (0x.. for hex)' })
      .option('cert', {
        type: 'string',
        describe:
          'PEM file of end certificates instead of a PSK: SA n uses the n-th (cycling); --id must be in it',
      })
      .option('key', { type: 'string', describe: 'PEM private key of the --cert certificates' })
      .option('ca', {
        type: 'string',
        array: true,
        describe: "PEM CA file(s) for the responder's certificate",
      })
      .option('proposal', {
        type: 'string',
        default: 'aes256gcm16-prfsha256-x25519',
        describe: 'IKE proposal',
      })
      .option('esp-proposal', { type: 'string', default: 'aes256gcm16', describe: 'ESP proposal' })
      .option('id', {
        type: 'string',
        default: 'fqdn:load-%d.ikeway.test',
        describe: 'Our ID; %d = SA number',
      })
      .option('first', { type: 'number', default: 1, describe: 'Number of the first SA (%d, certificate)' })
      .option('remote-id', { type: 'string', describe: "Responder's ID to require (default: any)" })
      .option('local-ts', { type: 'string', array: true, describe: 'Our selectors (default: all)' })
      .option('remote-ts', { type: 'string', array: true, describe: "Responder's selectors (default: all)" })
      .option('timeout', { type: 'number', default: 30, describe: 'Seconds before one SA counts as failed' })
      .option('delete', {
        type: 'boolean',
        default: false,
        describe: 'Delete the IKE SAs at the end, --concurrency at a time',
      })
      .option('ike-port', { type: 'number', default: 500, describe: 'Our IKE port (0 = ephemeral)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
      .example('$0 load --remote 192.0.2.2 --count 1000 --rate 200 --psk-file psk.txt', 'PSK load test')
      .example('$0 load --remote 2001:db8::2 --count 50 --psk-file psk --delete --json', 'IPv6, then delete')
      .example(
        '$0 load --remote 192.0.2.2 --cert certs.pem --key key.pem --ca ca.pem --id fqdn:load-%d.example',
        'ECDSA certificates, one per SA',
      ) as Argv<LoadArgs>,
  handler: async (args) => {
    try {
      const report = await runLoad(await loadOptions(args));
      console.log(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
      process.exitCode = report.failed === 0 ? 0 : 1;
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      console.error(`ikeway load: ${e.message}`);
      process.exitCode = 2;
    }
  },
};

/** Reads the PSK file: one trailing newline is dropped; the content never appears in errors. */
export function readPskFile(file: string): string {
  let text: string;
  try {
    if (!statSync(file).isFile()) throw new LoadError(`--psk-file ${file} is not a regular file`);
    text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(`--psk-file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  if (text.length === 0) throw new LoadError(`--psk-file ${file} is empty`);
  return text;
}

/** The source address the kernel would use towards `remote` (a connected UDP socket sends nothing). */
export function routeSource(remote: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(isIP(remote) === 6 ? 'udp6' : 'udp4');
    s.on('error', (e) => (s.close(), reject(new LoadError(`no route to ${remote}: ${e.message}`))));
    s.connect(500, remote, () => {
      const a = s.address().address;
      s.close();
      resolve(a);
    });
  });
}

/** PSK or certificates: exactly one, and certificates need their key and a CA. */
export function authOptions(a: LoadArgs): Pick<LoadOptions, 'psk' | 'cert'> {
  const cert = a.cert !== undefined || a.key !== undefined || (a.ca?.length ?? 0) > 0;
  if (cert === (a['psk-file'] !== undefined))
    throw new LoadError('give exactly one of --psk-file and --cert/--key/--ca');
  if (!cert) return { psk: readPskFile(a['psk-file']!) };
  if (a.cert === undefined || a.key === undefined || !a.ca?.length)
    throw new LoadError('certificate authentication needs all of --cert, --key and --ca');
  return { cert: { cert: a.cert, key: a.key, ca: a.ca } };
}

export async function loadOptions(a: LoadArgs): Promise<LoadOptions> {
  const auth = authOptions(a);
  const fam = isIP(a.remote);
  if (fam === 0) throw new LoadError(`--remote ${a.remote} is not an IP address`);
  const local = a.local ?? (await routeSource(a.remote));
  if (isIP(local) !== fam) throw new LoadError(`--local ${local} is not an IPv${fam} address`);
  const all = fam === 4 ? ['0.0.0.0/0'] : ['::/0'];
  return {
    remote: a.remote,
    local,
    count: a.count,
    rate: a.rate,
    concurrency: a.concurrency,
    ...auth,
    ike: a.proposal,
    esp: a['esp-proposal'],
    idTemplate: a.id,
    first: a.first,
    ...(a['remote-id'] !== undefined ? { remoteId: a['remote-id'] } : {}),
    localTs: a['local-ts'] ?? all,
    remoteTs: a['remote-ts'] ?? all,
    timeoutMs: a.timeout * 1000,
    delete: a.delete,
    ikePort: a['ike-port'],
  };
}

export function formatReport(r: LoadReport): string {
  const ms = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(1)} ms`);
  const lines = [
    `established ${r.established}/${r.requested}, failed ${r.failed}`,
    `elapsed ${(r.elapsedMs / 1000).toFixed(2)} s, rate ${r.ratePerSec.toFixed(1)} IKE SAs/s, retransmits ${r.retransmits}`,
    `latency median ${ms(r.latencyMs.median)}, p99 ${ms(r.latencyMs.p99)}, max ${ms(r.latencyMs.max)}`,
  ];
  for (const [reason, n] of Object.entries(r.failures)) lines.push(`  failed: ${n} x ${reason}`);
  if (r.deleted !== undefined) lines.push(`deleted ${r.deleted}/${r.established}`);
  return lines.join('\n');
}
