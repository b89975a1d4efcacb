// `ikeway daemon`: the foreground process systemd runs. Claims the control socket first (so a second
// daemon cannot touch the first one's kernel state), starts the Daemon, logs "ready", and serves
// SIGHUP (reload), SIGTERM/SIGINT (clean stop, exit 0) until stopped.
import { ConfigErrors, formatProblem, type Config } from '../config/index.ts';
import { ControlError, stringArg, type ControlRequest } from '../control/protocol.ts';
import { ControlServer } from '../control/server.ts';
import type { LogLevel } from '../base/logger.ts';
import { installCrashHandlers } from './crash.ts';
import { Daemon } from './daemon.ts';
import { DaemonLogger, type LogFormat } from './log.ts';
import { explain, plan, type IntrospectHost } from './introspect.ts';
import { Ops } from './ops.ts';
import type { KernelKind } from './runtime.ts';

export interface RunOptions {
  readonly configFile: string;
  readonly kernel: KernelKind;
  /** Overrides of the config's log settings and control socket. */
  readonly logLevel?: LogLevel;
  readonly logFormat?: LogFormat;
  readonly socket?: string;
  readonly version: string;
  readonly retryMs?: number;
}

/** Exit status for an invalid config (sysexits EX_CONFIG; the unit does not restart on it). */
export const EXIT_CONFIG = 78;
/** Hard limit for a stop; past it the process exits 1 whatever is still pending. */
export const STOP_FORCE_MS = 12_000;

export function controlHandler(
  d: () => Daemon | undefined,
  version: string,
  history?: IntrospectHost['history'],
) {
  return async (req: ControlRequest): Promise<unknown> => {
    const daemon = d();
    if (req.cmd === 'version') return { version, node: process.version };
    if (!daemon) throw new ControlError('ERR_BUSY', 'the daemon is still starting; try again in a moment');
    switch (req.cmd) {
      case 'status': {
        const name = req.args?.name;
        if (name !== undefined && typeof name !== 'string')
          throw new ControlError('ERR_BAD_ARGS', 'status: name must be a string');
        return daemon.status(name);
      }
      case 'up':
        return daemon.up(stringArg(req, 'name'));
      case 'down':
        return daemon.down(stringArg(req, 'name'));
      case 'rekey': {
        const what = req.args?.what ?? 'child';
        if (what !== 'child' && what !== 'ike')
          throw new ControlError('ERR_BAD_ARGS', 'rekey: what must be "child" or "ike"');
        return daemon.rekey(stringArg(req, 'name'), what);
      }
      case 'reload':
        return daemon.reload();
      case 'counters':
        return daemon.counters();
      case 'explain':
        return explain(daemon.introspection(history), req.args ?? {});
      case 'plan':
        return plan(daemon.introspection(history), stringArg(req, 'file'));
      case 'ha':
        return daemon.ha(stringArg(req, 'action'));
    }
  };
}

/** Runs until stopped; resolves with the process exit status. */
export async function runDaemon(o: RunOptions): Promise<number> {
  const logger = new DaemonLogger({
    ...(o.logLevel ? { level: o.logLevel } : {}),
    ...(o.logFormat ? { format: o.logFormat } : {}),
  });
  installCrashHandlers(logger);
  const applyLogSettings = (c: Config) => {
    logger.level = o.logLevel ?? c.log.level;
    logger.format = o.logFormat ?? c.log.format;
  };
  let daemon: Daemon | undefined;
  let control: ControlServer | undefined;
  const ops = new Ops(logger, process.env);
  const onConfig = async (c: Config) => {
    ops.configure(c);
    control = await ControlServer.listen(
      o.socket ?? c.controlSocket,
      controlHandler(
        () => daemon,
        o.version,
        (name) => {
          const h = ops.events.of(name);
          return { lastDownMs: h.lastDownMs, lastFailure: h.lastFailure };
        },
      ),
      logger,
    );
  };
  try {
    daemon = await Daemon.start({
      configFile: o.configFile,
      kernel: o.kernel,
      logger,
      applyLogSettings,
      onConfig,
      wrapKernel: (k) => ops.wrapKernel(k),
      onReload: (phase) => ops.onReload(phase),
      version: o.version,
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    });
  } catch (e) {
    await control?.close();
    await ops.close();
    if (e instanceof ConfigErrors) {
      for (const p of e.problems) process.stderr.write(`${formatProblem(p)}\n`);
      process.stderr.write(
        `ikeway: ${o.configFile} is invalid; fix it (ikeway check ${o.configFile}) and start again\n`,
      );
      return EXIT_CONFIG;
    }
    logger.log('error', 'cannot start', {
      component: 'daemon',
      error: e instanceof Error ? e.message : String(e),
    });
    return 1;
  }
  const d = daemon;
  return new Promise<number>((resolve) => {
    const onHup = () => {
      d.reload().catch(() => undefined); // the daemon logged why
    };
    const onStop = (sig: string) => {
      logger.log('info', `${sig} received`, { component: 'daemon' });
      process.off('SIGHUP', onHup);
      const force = setTimeout(() => {
        logger.log('error', 'stop took too long; exiting', { component: 'daemon' });
        resolve(1);
      }, STOP_FORCE_MS);
      force.unref();
      void (async () => {
        await ops.stopping();
        await control?.close();
        await d.stop();
        await ops.close();
        clearTimeout(force);
        resolve(0);
      })();
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
    // READY=1 only once the stop handlers stand: a supervisor may send SIGTERM right after READY.
    void ops
      .started(d)
      .then(() =>
        logger.log('info', 'ready', { component: 'daemon', socket: control?.path, pid: process.pid }),
      );
  });
}
