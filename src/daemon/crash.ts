// The last resort for a bug: an exception nothing caught, or a rejected promise nobody awaited, ends
// the daemon at once with EX_SOFTWARE (70) after one error line: the error's class, message and
// stack frames, never util.inspect() of the error (its own properties could hold keys, packets or
// config objects). Carrying on with half-updated state would be worse than stopping: the kernel keeps
// our policies, so protected traffic is dropped, never sent in the clear (fail-closed), the next start
// reconciles the kernel, and systemd restarts the unit (Restart=on-failure).
import type { LogFields, Logger } from '../base/logger.ts';

/** sysexits EX_SOFTWARE: an internal error. */
export const EXIT_SOFTWARE = 70;
const MAX_FRAMES = 12;

/** What the crash line says about `e`: class, message, the first stack frames (joined by " | "). */
export function crashFields(e: unknown): LogFields {
  if (!(e instanceof Error)) return { component: 'daemon', error: `non-Error value thrown (${typeof e})` };
  const frames = (e.stack ?? '')
    .split('\n')
    .filter((l) => l.startsWith('    at '))
    .slice(0, MAX_FRAMES)
    .map((l) => l.trim().slice(3));
  return { component: 'daemon', error: `${e.name}: ${e.message}`, stack: frames.join(' | ') };
}

/**
 * Installs the handlers; returns a function that removes them. `exit` is process.exit unless a test
 * passes its own.
 */
export function installCrashHandlers(
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  const onError = (kind: string) => (e: unknown) => {
    logger.log(
      'error',
      `${kind}: internal error, exiting; the kernel keeps the fail-closed policies and the next start reconciles`,
      crashFields(e),
    );
    exit(EXIT_SOFTWARE);
  };
  const onException = onError('uncaught exception');
  const onRejection = onError('unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
