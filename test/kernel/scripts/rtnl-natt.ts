// rtnetlink and NAT-T helpers on the host kernel, inside the test's namespace. Prints JSON.
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { openRtnl } from '../../../src/kernel/rtnl.ts';
import { enableEspInUdp, espInUdpMode } from '../../../src/kernel/natt.ts';

const [dev] = process.argv.slice(2);
const out: Record<string, unknown> = {};
const ip = (...a: string[]): string => execFileSync('ip', a, { encoding: 'utf8' });
const r = await openRtnl({ timeoutMs: 3000 });
try {
  out.loIndex = await r.linkIndex('lo');
  await r.addAddress(dev!, '198.51.100.5/24');
  await r.addAddress(dev!, '2001:db8:5::5/64');
  await r.setLinkUp(dev!);
  await r.addRoute({ dst: '203.0.113.0/24', via: '198.51.100.1' });
  await r.addRoute({ dst: '192.0.2.128/25', dev: dev!, src: '198.51.100.5' });
  await r.setMtu(dev!, 1400);
  const link = await r.getLink(dev!);
  out.link = { up: link?.up, mtu: link?.mtu, kind: link?.kind, stats: typeof link?.stats?.rxBytes };
  out.missingLink = (await r.getLink('nosuchdev0')) ?? 'undefined';
  out.listed = (await r.listLinks()).map((l) => l.name).includes(dev!);
  await r.addRoute({ dst: '10.77.0.0/16', dev: dev!, table: 100, metric: 50 });
  out.table100 = ip('route', 'show', 'table', '100');
  out.routeGet = await r.routeGet('198.51.100.9');
  out.addrs = ip('-br', 'addr', 'show', 'dev', dev!);
  out.routes = ip('route', 'show');
  try {
    await r.addAddress(dev!, '198.51.100.5/24');
  } catch (e) {
    out.dupAddr = (e as { code: string }).code;
  }
  await r.deleteRoute({ dst: '203.0.113.0/24', via: '198.51.100.1' });
  await r.deleteAddress(dev!, '198.51.100.5/24');
  out.routesAfter = ip('route', 'show');
  try {
    await r.linkIndex('nosuchdev0');
  } catch (e) {
    out.noLink = (e as { code: string }).code;
  }
  try {
    await r.createXfrmInterface({ name: 'ipsec9', ifId: 9, dev: dev!, mtu: 1400 });
    out.xfrmi = 'created';
    await r.deleteLink('ipsec9');
  } catch (e) {
    const k = e as { name: string; isUnsupported: boolean; code: string };
    out.xfrmi = { name: k.name, isUnsupported: k.isUnsupported, code: k.code };
  }
} finally {
  await r.close();
}
const s = createSocket('udp4');
await new Promise<void>((res) => s.bind(4500, '127.0.0.1', () => res()));
out.encapBefore = espInUdpMode(s);
enableEspInUdp(s);
out.encapAfter = espInUdpMode(s);
s.close();
const unbound = createSocket('udp4');
try {
  enableEspInUdp(unbound);
} catch (e) {
  out.unbound = (e as { kind: string }).kind;
}
unbound.close();
console.log(JSON.stringify(out));
