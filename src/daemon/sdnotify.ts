// systemd's readiness protocol (sd_notify(3)): newline-separated KEY=VALUE datagrams sent to the
// AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET. READY=1 once the daemon serves, STATUS= a line
// for `systemctl status`, WATCHDOG=1 at half of $WATCHDOG_USEC from the event loop (a blocked loop
// stops the pings and systemd restarts us), RELOADING=1 with MONOTONIC_USEC= (systemd >= 253,
// Type=notify-reload) around a reload, then READY=1 again, and STOPPING=1.
//
// Node 20 has no unix datagram socket (dgram is UDP only, net is SOCK_STREAM only, and a socket
// cannot be open(2)ed). The datagram must come from the main PID (NotifyAccess=main: systemd
// checks SCM_CREDENTIALS), so a helper process (systemd-notify, socat) would need NotifyAccess=all
// and CAP_SYS_ADMIN to speak for us. libc's socket/sendto are called through koffi (the FFI addon
// src/kernel/sockopt.ts already loads; prebuilt, no compiler), from this process.
import { createRequire } from 'node:module';
import type { Logger } from '../base/logger.ts';

/** Where the datagrams go: one sendto(2) each. */
export interface NotifySink {
  send(message: string): Promise<void>;
  close(): void;
}

type Native = (...args: unknown[]) => number;
interface Koffi {
  load(path: string | null): { func(prototype: string): Native };
  errno(): number;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t + 108 bytes of path. */
const SUN_LEN = 110;

/** struct sockaddr_un for `path`; "@name" is an abstract socket (leading NUL, sd_notify(3)). */
export function sockaddrUn(path: string): { addr: Uint8Array; len: number } {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? `\0${path.slice(1)}` : path, 'utf8');
  if (name.length > SUN_LEN - 2 - (abstract ? 0 : 1))
    throw new Error(`NOTIFY_SOCKET path is longer than a unix socket address allows (${name.length} bytes)`);
  const addr = new Uint8Array(SUN_LEN);
  new Uint16Array(addr.buffer, 0, 1)[0] = AF_UNIX; // host byte order, like the C struct
  addr.set(name, 2);
  return { addr, len: 2 + name.length + (abstract ? 0 : 1) };
}

/** A datagram sink to `path` through libc (socket(AF_UNIX, SOCK_DGRAM) + sendto). */
export function unixDatagramSink(path: string): NotifySink {
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const self = koffi.load(null);
  const socket = self.func('int socket(int, int, int)');
  const sendto = self.func('intptr_t sendto(int, void *, size_t, int, void *, uint32_t)');
  const close = self.func('int close(int)');
  const { addr, len } = sockaddrUn(path);
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM) failed: errno ${koffi.errno()}`);
  let open = true;
  return {
    send: (message) => {
      const buf = Buffer.from(message, 'utf8');
      // Never blocks the event loop: a full receive queue is an error (EAGAIN), not a wait.
      const n = open ? sendto(fd, buf, buf.length, MSG_DONTWAIT | MSG_NOSIGNAL, addr, len) : -1;
      if (n === buf.length) return Promise.resolve();
      return Promise.reject(new Error(open ? `sendto ${path}: errno ${koffi.errno()}` : 'closed'));
    },
    close: () => {
      if (open) close(fd);
      open = false;
    },
  };
}

export interface SdNotifyOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** One line for STATUS= (cheap: called on every watchdog tick). */
  readonly summary: () => string;
  readonly pid?: number;
  /** Defaults to unixDatagramSink($NOTIFY_SOCKET). */
  readonly sink?: NotifySink;
  /** CLOCK_MONOTONIC in µs (process.hrtime is CLOCK_MONOTONIC on Linux). */
  readonly monotonicUsec?: () => bigint;
}

/** STATUS= must stay one line; systemd shows it as is. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, 400);

export class SdNotify {
  readonly #o: SdNotifyOptions;
  readonly #sink: NotifySink;
  readonly #watchdogMs: number | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastStatus = '';
  #failed = false;

  private constructor(o: SdNotifyOptions, sink: NotifySink, watchdogMs: number | undefined) {
    this.#o = o;
    this.#sink = sink;
    this.#watchdogMs = watchdogMs;
  }

  /** Undefined when $NOTIFY_SOCKET is unset (not run by systemd as Type=notify). */
  static fromEnv(o: SdNotifyOptions): SdNotify | undefined {
    const path = o.env.NOTIFY_SOCKET;
    if (path === undefined || path === '') return undefined;
    if (!path.startsWith('/') && !path.startsWith('@')) {
      o.logger.log('warn', 'NOTIFY_SOCKET is neither a path nor @abstract; not notifying systemd', {
        component: 'systemd',
        notify_socket: path,
      });
      return undefined;
    }
    return new SdNotify(o, o.sink ?? unixDatagramSink(path), watchdogInterval(o.env, o.pid ?? process.pid));
  }

  /** Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends; undefined when off. */
  get watchdogMs(): number | undefined {
    return this.#watchdogMs;
  }

  ready(): Promise<void> {
    const status = oneLine(this.#o.summary());
    this.#lastStatus = status;
    const p = this.#send(`READY=1\nSTATUS=${status}\nMAINPID=${this.#o.pid ?? process.pid}`);
    this.#startWatchdog();
    return p;
  }

  reloading(): Promise<void> {
    const usec = (this.#o.monotonicUsec ?? (() => process.hrtime.bigint() / 1000n))();
    return this.#send(`RELOADING=1\nMONOTONIC_USEC=${usec}\nSTATUS=reloading`);
  }

  stopping(): Promise<void> {
    this.#stopWatchdog();
    return this.#send('STOPPING=1\nSTATUS=stopping');
  }

  /** Sends STATUS= when the summary changed since the last one. */
  refreshStatus(): Promise<void> {
    const status = oneLine(this.#o.summary());
    if (status === this.#lastStatus) return Promise.resolve();
    this.#lastStatus = status;
    return this.#send(`STATUS=${status}`);
  }

  close(): void {
    this.#stopWatchdog();
    this.#sink.close();
  }

  #startWatchdog(): void {
    const ms = this.#watchdogMs;
    if (ms === undefined || this.#timer) return;
    // From a timer of the event loop itself: a loop stuck in a long computation misses the ping.
    this.#timer = setInterval(() => {
      void this.#send('WATCHDOG=1').then(() => this.refreshStatus());
    }, ms);
    this.#timer.unref();
  }

  #stopWatchdog(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #send(message: string): Promise<void> {
    try {
      await this.#sink.send(message);
      this.#failed = false;
    } catch (e) {
      // Log once per failure streak, not every watchdog tick.
      if (!this.#failed)
        this.#o.logger.log('warn', 'cannot notify systemd', {
          component: 'systemd',
          error: e instanceof Error ? e.message : String(e),
        });
      this.#failed = true;
    }
  }
}

/** sd_watchdog_enabled(3): WATCHDOG_USEC set, and WATCHDOG_PID (if set) is us. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid)
    return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
