// The CLI bundled into one plain-JavaScript file for lab daemons. Under TCG, starting the daemon
// from source through tsx takes 10-30 s (a loader hook per module); the same sources bundled by
// esbuild (tsx's own transformer) start in about 1 s. The bundle lives under node_modules/.cache so
// that `koffi`/`netlink` (native, left external) and ../../../package.json resolve as from source.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { LabError } from '../errors.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
let cached: Promise<string> | undefined;
export const BUNDLE_ENV = 'IKEWAY_LAB_BUNDLE';

interface EsbuildApi {
  build(o: Record<string, unknown>): Promise<{ errors: unknown[] }>;
}

async function build(): Promise<string> {
  const dir = resolve(ROOT, 'node_modules', '.cache', 'ikeway-lab');
  const out = resolve(dir, `ikeway-${process.pid}.mjs`);
  mkdirSync(dir, { recursive: true });
  process.once('exit', () => rmSync(out, { force: true }));
  const esbuild = (await import('esbuild')) as unknown as EsbuildApi;
  try {
    await esbuild.build({
      entryPoints: [resolve(ROOT, 'lab', 'cli', 'main.ts')],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['netlink', 'koffi'],
      banner: {
        js: "import { createRequire as __ikwCreateRequire } from 'node:module'; const require = __ikwCreateRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
  } catch (e) {
    throw new LabError('LAB_TUNNEL', `bundling the CLI for the lab daemons failed: ${(e as Error).message}`);
  }
  return out;
}

/** Path of the bundled CLI (`node <path> daemon -c ...`), built once per process. */
export function bundledCli(): Promise<string> {
  // A bundle the host made before booting the guest (esbuild is much faster outside TCG).
  const given = process.env[BUNDLE_ENV];
  if (given !== undefined && existsSync(given)) return Promise.resolve(given);
  cached ??= build();
  return cached;
}

/** Environment that hands this process's bundle to a lab run in the guest kernel. */
export async function bundleEnv(): Promise<Record<string, string>> {
  return { [BUNDLE_ENV]: await bundledCli() };
}
