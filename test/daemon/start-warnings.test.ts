// A daemon start prints no Node deprecation warning (issue 13): the NAT-T socket's UDP_ENCAP is set
// without dgram's private API (DEP0112, `socket._handle`). The XFRM kernel is the path that sets it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab, configText, isRoot } from './lab.ts';

const A = '192.0.2.1';

test(
  'ikeway daemon --kernel xfrm starts with UDP_ENCAP set and no deprecation warning',
  { skip: !isRoot && 'needs root (network namespace, XFRM)' },
  async (t) => {
    const lab = new Lab([A]);
    t.after(() => lab.close());
    lab.writeConfig(
      0,
      configText(A, [
        { name: 'site', remote: '192.0.2.2', local: '10.1.0.0/24', remoteNet: '10.2.0.0/24', start: 'wait' },
      ]),
    );
    const d = await lab.startDaemon(0, 'xfrm');
    // A warning is written a tick after its cause, long before the SIGTERM shutdown completes.
    d.proc.kill('SIGTERM');
    await d.exited;
    assert.match(d.log, / ready /);
    assert.doesNotMatch(d.log, /UDP_ENCAP\) refused/, 'UDP_ENCAP was set on the NAT-T socket');
    assert.doesNotMatch(d.log, /DeprecationWarning|DEP0\d+/);
    assert.doesNotMatch(d.log, /\(node:\d+\) /, 'no Node process warning at all');
  },
);
