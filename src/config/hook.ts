// The hook program of a connection (src/daemon/hooks.ts runs it): it runs as the daemon's user on
// every tunnel event, so whoever can replace it owns the gateway. The loader refuses a program that
// does not exist, is not a regular executable file, or that someone other than its owner can
// replace (world-writable file, or a world-writable directory on its path without the sticky bit).
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Raw, Reporter } from './walk.ts';
import type { Hook, HookEvent } from './types.ts';

export function buildHook(r: Reporter, raw: Raw | undefined, path: string): Hook | undefined {
  if (raw === undefined || typeof raw.program !== 'string') return undefined;
  const program = raw.program;
  const at = `${path}.program`;
  const problem = programProblem(program);
  if (problem !== undefined) {
    r.add('E_HOOK', r.at(at), at, problem.message, problem.hint);
    return undefined;
  }
  return {
    program,
    timeoutMs: raw.timeout as number,
    events: raw.events as HookEvent[],
  };
}

interface Problem {
  readonly message: string;
  readonly hint: string;
}

/** Why `program` must not be run as a hook, or undefined when it may. */
export function programProblem(program: string): Problem | undefined {
  let st;
  try {
    st = statSync(program);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { message: `${program} cannot be read (${code})`, hint: 'give the path of an existing program' };
  }
  if (!st.isFile())
    return { message: `${program} is not a regular file`, hint: 'give the path of a program' };
  try {
    accessSync(program, constants.X_OK);
  } catch {
    return { message: `${program} is not executable`, hint: `chmod 755 ${program}` };
  }
  if ((st.mode & 0o002) !== 0)
    return {
      message: `${program} is writable by everyone, so anyone could run code as the daemon`,
      hint: `chmod o-w ${program}`,
    };
  for (let dir = dirname(program); ; dir = dirname(dir)) {
    let d;
    try {
      d = statSync(dir);
    } catch {
      break; // the program was found, so its directories exist; a race is not our business here
    }
    // Sticky bit (like /tmp): others may create files there but not replace ours.
    if ((d.mode & 0o002) !== 0 && (d.mode & 0o1000) === 0)
      return {
        message: `${program} lies in ${dir}, which everyone may write without the sticky bit, so anyone could replace it`,
        hint: `move the program to a directory only root may write, or chmod o-w ${dir}`,
      };
    if (dir === dirname(dir)) break;
  }
  return undefined;
}
