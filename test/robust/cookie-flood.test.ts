// Issue 19: a flood from 200 addresses the attacker owns, answering every COOKIE (RFC 7296 §2.6) at
// >= 3,000 IKE_SA_INIT/s, must not keep legitimate peers out. Host kernel, network namespaces made
// here (the attacker's addresses are an AnyIP `local` route in its namespace), daemons with the
// in-memory kernel (IKE only: the host has no ESP). During the flood, a peer the responder names by
// address (reserved half-open room) and, separately, a `remote: any` peer with valid credentials
// (which ages out the heaviest flooding source's half-open SA) each get their IKE SA and Child SA.
// Setup times, drops by reason, the half-open figures and the responder's memory are printed, not
// asserted (no timing assertions).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../src/control/client.ts';
import type { StatusReport } from '../../src/control/status-types.ts';
import { floodSources } from '../../lab/robust/flood.ts';
import { Lab, isRoot, nsExec } from '../daemon/lab.ts';

const R = '192.0.2.1';
const L = '192.0.2.2'; // the branch the responder names by address
const M = '192.0.2.3'; // a road warrior, matched by `remote: any`
const F = '192.0.2.4'; // the attacker
const OWNED = '198.51.100.0/24';
const RATE = 3000;
const FLOOD_MS = 30_000;
/** Below the attacker's 200 x 5 (limits.half-open-per-source): the flood alone fills the table. */
const HALF_OPEN = 600;

const responderConfig = `log: { level: info, format: text }
control-socket: ./ctl.sock
state-dir: ./state
cookie-threshold: 20
limits: { half-open: ${HALF_OPEN} }
local: { address: ${R} }
connections:
  branch:
    remote: ${L}
    auth: { psk: { file: psk } }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.3.0.0/24]
    start: wait
  roadwarriors:
    remote: any
    auth: { psk: { file: psk } }
    local-subnets: [10.1.0.0/24]
    remote-subnets: [10.2.0.0/24]
`;

const initiatorConfig = (addr: string, subnet: string) => `log: { level: info, format: text }
control-socket: ./ctl.sock
state-dir: ./state
retransmit: { timeout: 1s, tries: 6, base: 1.5 }
local: { address: ${addr} }
connections:
  hq:
    remote: ${R}
    auth: { psk: { file: psk } }
    local-subnets: [${subnet}]
    remote-subnets: [10.1.0.0/24]
    start: wait
    liveness: false
`;

function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;

interface CFloodStats {
  sent: number;
  cookieAnswers: number;
  replies: { cookie: number; puzzle: number; saInit: number; other: number };
  sendErrors: number;
  sources: number;
  elapsedMs: number;
  rate: number;
  cookieAnswerRate: number;
}

test(
  'cookie-answering flood from 200 addresses: a configured peer and a remote-any peer get in during it',
  { skip: !isRoot && 'needs root (network namespaces)', timeout: 180_000 },
  async (t) => {
    const lab = new Lab([R, L, M, F]);
    t.after(() => lab.close());
    const [rs, ls, ms, fs] = [lab.side(0), lab.side(1), lab.side(2), lab.side(3)];
    nsExec(fs.ns, ['ip', 'route', 'add', 'local', OWNED, 'dev', 'lo']);
    nsExec(rs.ns, ['ip', 'route', 'add', OWNED, 'via', F]);
    lab.writeConfig(0, responderConfig);
    lab.writeConfig(1, initiatorConfig(L, '10.3.0.0/24'));
    lab.writeConfig(2, initiatorConfig(M, '10.2.0.0/24'));
    const r = await lab.startDaemon(0, 'memory');
    await lab.startDaemon(1, 'memory');
    await lab.startDaemon(2, 'memory');
    const pid = r.proc.pid!;
    const status = async () =>
      (await request(rs.socket, 'status', undefined, { timeoutMs: 10_000 })) as StatusReport;
    const counters = async () =>
      (await request(rs.socket, 'counters', undefined, { timeoutMs: 10_000 })) as Record<string, number>;
    const baseline = rss(pid);

    const opts = { target: R, sources: floodSources([OWNED], 200), rate: RATE, durationMs: FLOOD_MS };
    const script = join(import.meta.dirname, 'scripts', 'cookie-flood.ts');
    const flood = spawn(
      'ip',
      ['netns', 'exec', fs.ns, process.execPath, '--import', 'tsx', script, JSON.stringify(opts)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => void flood.kill('SIGKILL'));
    let out = '';
    let err = '';
    flood.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    flood.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-20_000)));
    const floodExit = new Promise<number | null>((res) => flood.on('exit', (c) => res(c)));
    let flooding = true;
    void floodExit.then(() => (flooding = false));
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 100);
    t.after(() => clearInterval(sampler));

    // The attacker fills the half-open table first (bounded wait): its addresses answer cookies.
    let st = await status();
    for (let i = 0; i < 200 && (st.load?.halfOpen ?? 0) < HALF_OPEN - 64 && flooding; i++) {
      await sleep(100);
      st = await status();
    }
    const atStart = st.load;
    t.diagnostic(`half-open table when the peers start: ${JSON.stringify(atStart)}`);
    assert.ok(
      (atStart?.halfOpen ?? 0) >= HALF_OPEN - 64,
      `the flood did not fill the table: ${JSON.stringify(atStart)}`,
    );

    const up = async (socket: string) => {
      const t0 = Date.now();
      const res = (await request(socket, 'up', { name: 'hq' }, { timeoutMs: 40_000 })) as {
        state: string;
        children: number;
      };
      return { res, ms: Date.now() - t0, during: flooding };
    };
    const branch = await up(ls.socket);
    const mid = await status();
    const warrior = await up(ms.socket);

    let guard: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      floodExit,
      new Promise((res) => (guard = setTimeout(() => res('timeout'), 60_000))),
    ]);
    clearTimeout(guard);
    clearInterval(sampler);
    const c = await counters();
    st = await status();
    const line = out.split('\n').find((l) => l.startsWith('IKW-CFLOOD '));
    assert.equal(code, 0, `flooder: ${err.slice(-2000)}`);
    assert.ok(line, `no flood stats: ${out}${err.slice(-2000)}`);
    const stats = JSON.parse(line.slice('IKW-CFLOOD '.length)) as CFloodStats;

    const drops = Object.fromEntries(
      Object.entries(c).filter(([k, v]) => v > 0 && /drop|evict|cookie|puzzle|rcvbuf/.test(k)),
    );
    t.diagnostic(
      `flood: ${stats.sent} fresh IKE_SA_INIT + ${stats.cookieAnswers} cookie answers in ${stats.elapsedMs} ms = ` +
        `${stats.rate}/s (cookie answers ${stats.cookieAnswerRate}/s) from ${stats.sources} addresses; ` +
        `replies ${JSON.stringify(stats.replies)}; send errors ${stats.sendErrors}`,
    );
    t.diagnostic(
      `configured peer (named by address): ${branch.res.state} in ${branch.ms} ms, during flood: ${branch.during}`,
    );
    t.diagnostic(
      `remote-any peer: ${warrior.res.state} in ${warrior.ms} ms, during flood: ${warrior.during}`,
    );
    t.diagnostic(`responder drops and answers by reason: ${JSON.stringify(drops)}`);
    t.diagnostic(`half-open between the two setups: ${JSON.stringify(mid.load)}`);
    t.diagnostic(
      `responder RSS: baseline ${mb(baseline)} MB, peak ${mb(peak)} MB (+${mb(peak - baseline)} MB)`,
    );
    console.log(
      `IKW-COOKIE-FLOOD-FIGURES ${JSON.stringify({ flood: stats, branch, warrior, drops, load: mid.load, rssBaseline: baseline, rssPeak: peak })}`,
    );

    assert.ok(
      stats.sent + stats.cookieAnswers >= RATE * (FLOOD_MS / 1000) * 0.9,
      `the flood sent only ${stats.sent}`,
    );
    assert.ok(stats.cookieAnswers > 0, 'the attacker answered no cookie');
    assert.equal(branch.res.state, 'established', JSON.stringify(branch));
    assert.ok(!('note' in branch.res), `the branch was already up: ${JSON.stringify(branch)}`);
    assert.equal(branch.res.children, 1);
    assert.ok(branch.during, 'the configured peer must come up while the flood runs');
    assert.equal(warrior.res.state, 'established', JSON.stringify(warrior));
    assert.equal(warrior.res.children, 1);
    assert.ok(warrior.during, 'the remote-any peer must come up while the flood runs');
    // The responder holds both, established with their Child SAs.
    const ike = st.connections.flatMap((x) => x.ikeSas).filter((s) => s.state === 'established');
    assert.deepEqual(ike.map((s) => s.remote.split(':')[0]!.replace(/^\[|\]$/g, '')).sort(), [L, M]);
    for (const s of ike) assert.equal(s.children[0]?.state, 'installed');
  },
);
