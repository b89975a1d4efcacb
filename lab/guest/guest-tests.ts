// Runs node:test files that need a kernel with ESP, all in ONE guest boot (or directly on a host
// whose kernel has ESP). Each file runs as its own node process inside a fresh network namespace,
// so files may install SAs, policies and a 0.0.0.0/0 policy without disturbing each other or the
// host. Per-file TAP output and exit status come back through the results share.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { espKernelPlace, runInGuest, runOnHost, shQuote, type RunOptions, type RunResult } from './guest.ts';

export interface FileResult {
  readonly file: string;
  /** Exit status of `node --import tsx <file>` (non-zero when a test failed). */
  readonly status: number;
  /** TAP output and stderr of the file's run. */
  readonly output: string;
  /** From the TAP summary (`# pass N`, `# fail N`); undefined when the run ended before it. */
  readonly pass: number | undefined;
  readonly fail: number | undefined;
  /** Set when the first attempt crashed by signal before any test ran: its status and output. */
  readonly crashedFirst: string | undefined;
}

export interface EspTestsResult {
  readonly files: FileResult[];
  readonly run: RunResult;
}

export interface EspTestsOptions extends Pick<RunOptions, 'timeoutMs' | 'memoryMb' | 'smp' | 'env'> {
  /** Kill one file's run after this long (default 400 s); the other files' results survive. */
  readonly fileTimeoutMs?: number;
  /** Files run at the same time (default 4: they mostly wait on timers and the network). */
  readonly concurrency?: number;
  /** Where: 'guest', 'host', or decided by the ESP probe (default). */
  readonly place?: 'guest' | 'host';
}

/**
 * The shell script that runs one file in a fresh namespace: `sh run-one.sh <index> <file>`.
 * A node that dies by SIGILL/SIGABRT/SIGBUS/SIGSEGV before reporting any test (seen once under
 * TCG) is an infrastructure crash, not a test result: that file is run once more, and the first
 * attempt is kept in <index>.crash for the report.
 */
function runOneScript(out: string, fileTimeoutSec: number): string {
  const o = shQuote(out);
  return `i="$1"; f="$2"; ns="ikw-gt-$$-$i"
ip netns add "$ns" || { echo 125 > ${o}/"$i.status"; exit 0; }
ip -n "$ns" link set lo up
run() {
  timeout -s KILL ${fileTimeoutSec} ip netns exec "$ns" ${shQuote(process.execPath)} --import tsx \\
    --test-reporter=tap "$f" > ${o}/"$i.log" 2>&1 < /dev/null
  echo $?
}
s=$(run)
case "$s" in 132|134|135|139)
  if ! grep -q -E '^(not )?ok ' ${o}/"$i.log"; then
    { echo "first attempt: exit status $s"; cat ${o}/"$i.log"; } > ${o}/"$i.crash"
    s=$(run)
  fi;;
esac
echo "$s" > ${o}/"$i.status"
for p in $(ip netns pids "$ns"); do kill -9 "$p"; done
ip netns del "$ns"
`;
}

function tapCount(output: string, key: 'pass' | 'fail'): number | undefined {
  const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(output);
  return m ? Number(m[1]) : undefined;
}

/** Runs the test files where the kernel has ESP and returns each file's status and output. */
export async function runEspTestFiles(
  files: readonly string[],
  opts: EspTestsOptions = {},
): Promise<EspTestsResult> {
  const abs = files.map((f) => resolve(f));
  for (const f of abs) if (!existsSync(f)) throw new Error(`test file missing: ${f}`);
  const place = opts.place ?? espKernelPlace();
  const out = mkdtempSync(join(tmpdir(), 'ikw-gtests-'));
  try {
    writeFileSync(
      join(out, 'run-one.sh'),
      runOneScript(out, Math.ceil((opts.fileTimeoutMs ?? 400_000) / 1000)),
    );
    const script = `printf '%s\\n' ${abs.map((f, i) => shQuote(`${i} ${f}`)).join(' ')} |
  xargs -P ${opts.concurrency ?? 4} -L 1 sh ${shQuote(join(out, 'run-one.sh'))}\n`;
    const runOpts: RunOptions = {
      script,
      cwd: resolve(import.meta.dirname, '..', '..'),
      ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }),
      ...(opts.memoryMb !== undefined && { memoryMb: opts.memoryMb }),
      ...(opts.smp !== undefined && { smp: opts.smp }),
      ...(opts.env !== undefined && { env: opts.env }),
    };
    // The guest writes results into `out`, shared read-write at the same path.
    const run =
      place === 'guest' ? await runInGuest({ ...runOpts, outputDir: out }) : await runOnHost(runOpts);
    const fileResults = abs.map((file, i): FileResult => {
      const read = (name: string): string =>
        existsSync(join(out, name)) ? readFileSync(join(out, name), 'utf8') : '';
      const statusText = read(`${i}.status`).trim();
      const output = read(`${i}.log`);
      return {
        file: basename(file),
        status: statusText === '' ? -1 : Number(statusText),
        output,
        pass: tapCount(output, 'pass'),
        fail: tapCount(output, 'fail'),
        crashedFirst: read(`${i}.crash`) || undefined,
      };
    });
    return { files: fileResults, run };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
