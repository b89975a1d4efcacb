// A process with the daemon's crash handlers that then fails the way a bug would: argv[2] is
// "throw" (an exception from a timer) or "reject" (a promise nobody awaits). The error carries a
// property holding key bytes, which must not reach the log.
import { installCrashHandlers } from '../../../src/daemon/crash.ts';
import { DaemonLogger } from '../../../src/daemon/log.ts';

installCrashHandlers(new DaemonLogger({ format: 'json' }));
const err = Object.assign(new TypeError('cannot read the peer SPI'), {
  key: Buffer.from('c0ffee00c0ffee00c0ffee00c0ffee00', 'hex'),
  secret: 'SECRET-PSK-TEXT',
});
if (process.argv[2] === 'reject') void Promise.reject(err);
else
  setTimeout(() => {
    throw err;
  }, 10);
setTimeout(() => process.exit(0), 5000); // never reached when the handler works
