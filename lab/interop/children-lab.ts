// Several Child SAs against strongSwan 5.9.8 with real ESP (run by test/interop/children-strongswan.test.ts
// in the guest kernel): four labs side by side, each in its own namespaces, built from the interop
// matrix's parts (two-site lab, charon driver, ikeway daemon and config writer).
// - children-initiator / children-responder: ikeway's `children:` list of three children (`lan`: two
//   subnet pairs in one Child SA; `voice`: its own subnets and ESP proposal; `host`: transport mode),
//   strongSwan's matching `children`; traffic through each child counted by both kernels' SA
//   counters; `rekey interop/voice` renews that child alone; `down interop/lan` deletes that child
//   alone and the other two still carry traffic.
// - split-initiator / split-responder: `one-sa-per-subnet-pair` on ikeway, one strongSwan child with
//   two local_ts: one SA pair per subnet pair. As responder ikeway narrows strongSwan's two-pair
//   proposal to one pair (RFC 7296 §2.9) and then requests the other pair itself (CREATE_CHILD_SA),
//   so both pairs end with their own SAs and carry traffic.
// Prints `IKW-CHILDREN-RESULT <json>` per lab (SPIs and counters only; keys are never read).
// IKW_CHILDREN_KERNEL=memory runs the IKE side only (host kernel without ESP: ikeway's in-memory
// kernel, charon with kernel-libipsec); traffic steps are then skipped, and so is the transport
// child (kernel-libipsec has tunnel mode only).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../../src/control/client.ts';
import type { ChildStatus } from '../../src/control/status-types.ts';
import { bundledCli } from '../guest/bundle.ts';
import { Charon, type SwanChild } from '../peers/strongswan.ts';
import { ping, readSaCounters } from '../two-site/checks.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { makeTopology } from '../two-site/topology.ts';
import { BASE_CELL, DEFAULT_ESP, DEFAULT_IKE } from './cells.ts';
import { IkewayDaemon, sleep, writeIkewayConfig } from './ikeway-side.ts';
import { CONN, IKEWAY_ID, PEER_ID } from './run-cell.ts';

export type Scenario = 'children-initiator' | 'children-responder' | 'split-initiator' | 'split-responder';
export const SCENARIOS: readonly Scenario[] = [
  'children-initiator',
  'children-responder',
  'split-initiator',
  'split-responder',
];

const MEMORY = process.env['IKW_CHILDREN_KERNEL'] === 'memory';
const [WAN_A, WAN_B] = ['192.0.2.1', '192.0.2.2'];
const [L1, L3, L5] = ['10.1.0.0/24', '10.3.0.0/24', '10.5.0.0/24'];
const [L2, L6] = ['10.2.0.0/24', '10.6.0.0/24'];
const VOICE_ESP = 'aes128-sha256-x25519';
const host = (prefix: string) => prefix.replace(/0\/24$/, '10');

/** One traffic path: the child that must carry it, and who pings whom (router a's side first). */
interface Path {
  readonly child: string;
  readonly from: string;
  readonly to: string;
  /** Ping from the router (transport child) instead of the LAN host. */
  readonly router?: boolean;
}

const CHILD_PATHS: readonly Path[] = [
  { child: 'lan', from: host(L1), to: host(L2) },
  { child: 'lan', from: host(L3), to: host(L2) },
  { child: 'voice', from: host(L5), to: host(L6) },
  { child: 'host', from: WAN_A, to: WAN_B, router: true },
];
const SPLIT_PATHS: readonly Path[] = [
  { child: 'lan#1', from: host(L1), to: host(L2) },
  { child: 'lan#2', from: host(L3), to: host(L2) },
];

function ikewayChildren(split: boolean): Record<string, unknown> {
  const lan = { name: 'lan', 'local-subnets': [L1, L3], 'remote-subnets': [L2] };
  if (split) return { children: [lan], 'one-sa-per-subnet-pair': true };
  return {
    children: [
      lan,
      { name: 'voice', 'local-subnets': [L5], 'remote-subnets': [L6], 'esp-proposals': [VOICE_ESP] },
      {
        name: 'host',
        'local-subnets': [`${WAN_A}/32`],
        'remote-subnets': [`${WAN_B}/32`],
        mode: 'transport',
      },
    ].filter((c) => !MEMORY || c.name !== 'host'),
  };
}

function swanChildren(split: boolean): SwanChild[] {
  const lan: SwanChild = {
    name: 'lan',
    localTs: [L2],
    remoteTs: [L1, L3],
    espProposals: [DEFAULT_ESP],
  };
  if (split) return [lan];
  const all: SwanChild[] = [
    lan,
    { name: 'voice', localTs: [L6], remoteTs: [L5], espProposals: [VOICE_ESP] },
    {
      name: 'host',
      localTs: [`${WAN_B}/32`],
      remoteTs: [`${WAN_A}/32`],
      espProposals: [DEFAULT_ESP],
      mode: 'transport',
    },
  ];
  return all.filter((c) => !MEMORY || c.name !== 'host');
}

const norm = (s: string) => s.replace(/^0x/, '').toLowerCase();

/** Packets counted by a kernel's SA with this SPI (-1: no such SA). */
function saPackets(lab: Lab, site: 'a' | 'b', spi: string): number {
  const sa = readSaCounters(lab.site(site).router).find((s) => norm(s.spi) === norm(spi));
  return sa ? sa.packets : -1;
}

class Run {
  readonly out: Record<string, unknown> = {};
  readonly steps: string[] = [];
  constructor(
    readonly scenario: Scenario,
    readonly lab: Lab,
    readonly ikw: IkewayDaemon,
    readonly charon: Charon,
  ) {}

  log(m: string): void {
    this.steps.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`);
    process.stderr.write(`[children ${this.scenario}] ${m}\n`);
  }

  async children(): Promise<ChildStatus[]> {
    return this.ikw.installedChildren();
  }

  async waitChildren(what: string, ok: (cs: ChildStatus[]) => boolean, ms = 120_000): Promise<ChildStatus[]> {
    const deadline = Date.now() + ms;
    let cs: ChildStatus[] = [];
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      cs = await this.children();
      if (ok(cs)) return cs;
      await sleep(300);
    }
    throw new Error(`${what}: not within ${ms} ms; ikeway has ${JSON.stringify(brief(cs))}`);
  }

  /** strongSwan's installed Child SAs: name, selectors, SPIs. */
  async swan(): Promise<
    { name: string; localTs: string[]; remoteTs: string[]; spiIn: string; spiOut: string }[]
  > {
    const sas = await this.charon.listSas();
    return sas
      .filter((s) => s.fields.state === 'ESTABLISHED')
      .flatMap((s) => s.children)
      .filter((c) => c.fields.state === 'INSTALLED')
      .map((c) => ({
        name: c.fields['name'] ?? c.key.replace(/-\d+$/, ''),
        localTs: [...c.localTs],
        remoteTs: [...c.remoteTs],
        spiIn: norm(c.fields['spi-in'] ?? ''),
        spiOut: norm(c.fields['spi-out'] ?? ''),
      }));
  }

  /** Pings along `p` and reads both kernels' counters of the child's SAs before and after. */
  async traffic(p: Path, label: string): Promise<Record<string, unknown>> {
    const c = (await this.children()).find((x) => x.name === p.child);
    if (!c) throw new Error(`${label}: ikeway has no installed child ${p.child}`);
    const ns = p.router ? this.lab.a.router : this.lab.a.host!;
    if (MEMORY)
      return { child: p.child, spiIn: norm(c.spiIn), spiOut: norm(c.spiOut), skipped: 'memory kernel' };
    const read = () => ({
      aOut: saPackets(this.lab, 'a', c.spiOut),
      aIn: saPackets(this.lab, 'a', c.spiIn),
      bIn: saPackets(this.lab, 'b', c.spiOut),
      bOut: saPackets(this.lab, 'b', c.spiIn),
    });
    const before = read();
    const pr = ping(ns, p.from, p.to, 5);
    const after = read();
    const delta = Object.fromEntries(
      Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]),
    );
    const r = {
      child: p.child,
      from: p.from,
      to: p.to,
      received: pr.received,
      delta,
      spiOut: norm(c.spiOut),
    };
    this.log(`${label}: ${JSON.stringify(r)}`);
    return r;
  }
}

const brief = (cs: readonly ChildStatus[]) =>
  cs.map((c) => ({
    name: c.name,
    spiIn: norm(c.spiIn),
    spiOut: norm(c.spiOut),
    l: c.localTs,
    r: c.remoteTs,
  }));
const t0 = Date.now();

async function control(
  ikw: IkewayDaemon,
  cmd: 'rekey' | 'down',
  args: Record<string, unknown>,
): Promise<unknown> {
  return request(ikw.socket, cmd, args, { timeoutMs: 20_000 });
}

/** One lab from start to end; the result object (with `error` when a step failed). */
export async function runScenario(
  scenario: Scenario,
  tag: string,
  bin: string,
): Promise<Record<string, unknown>> {
  const split = scenario.startsWith('split');
  const role = scenario.endsWith('initiator') ? 'initiator' : 'responder';
  const dir = mkdtempSync(join(tmpdir(), `ikw-ch-${tag}-`));
  const psk = `0x${randomBytes(32).toString('hex')}`;
  let lab: Lab | undefined;
  let charon: Charon | undefined;
  let ikw: IkewayDaemon | undefined;
  let run: Run | undefined;
  const res: Record<string, unknown> = { scenario };
  try {
    lab = buildLab(
      makeTopology({
        name: `children-${scenario}`,
        a: { wan: WAN_A, lans: [L1, L3, L5] },
        b: { wan: WAN_B, lans: [L2, L6] },
        nat: false,
      }),
      { tag },
    );
    charon = await Charon.start({
      ns: lab.b.router,
      tag: `ch-${tag}`,
      libipsec: MEMORY,
      connections: [
        {
          name: CONN,
          localAddrs: [WAN_B],
          remoteAddrs: [WAN_A],
          localId: PEER_ID,
          remoteId: IKEWAY_ID,
          localAuth: 'psk',
          remoteAuth: 'psk',
          proposals: [DEFAULT_IKE],
          mobike: false,
          children: swanChildren(split),
        },
      ],
      secrets: { psk: [{ secret: psk, ids: [PEER_ID, IKEWAY_ID] }] },
      logLevels: { default: 1, ike: 1, cfg: 1, knl: 1, enc: 0, net: 0 },
      extraCharonConf: '  install_routes = no\n  retransmit_timeout = 1.0\n  retransmit_tries = 4',
      startTimeoutMs: 180_000,
    });
    await charon.loadAll();
    const config = writeIkewayConfig({
      cell: { ...BASE_CELL, id: scenario },
      role,
      dir: join(dir, 'ikeway'),
      name: CONN,
      local: { address: WAN_A, id: IKEWAY_ID, subnets: [L1, L3, L5, `${WAN_A}/32`] },
      remote: { address: WAN_B, id: PEER_ID, subnets: [L2, L6, `${WAN_B}/32`] },
      psk,
      extra: ikewayChildren(split),
    });
    ikw = await IkewayDaemon.start(
      lab.a.router,
      bin,
      config,
      CONN,
      300_000,
      MEMORY ? ['--kernel', 'memory'] : [],
    );
    run = new Run(scenario, lab, ikw, charon);
    const r = run;
    const want = split ? ['lan#1', 'lan#2'] : MEMORY ? ['lan', 'voice'] : ['host', 'lan', 'voice'];
    const names = (cs: readonly ChildStatus[]) => cs.map((c) => c.name).sort();
    if (role === 'responder') {
      // strongSwan initiates: one IKE SA, its children one by one (the first rides in IKE_AUTH).
      for (const ch of split ? ['lan'] : ['lan', 'voice', ...(MEMORY ? [] : ['host'])])
        await charon.initiate(ch, CONN, 90_000);
      r.log('strongSwan initiated');
    }
    if (scenario === 'split-responder') {
      // ikeway narrowed the two-pair proposal to one part, then requests the other part itself.
      await r.waitChildren('a lan part up', (cs) => cs.some((c) => c.name.startsWith('lan#')));
      res.afterInitiate = brief(await r.children());
    }
    const up = await r.waitChildren(`children ${want.join(', ')} up`, (cs) =>
      want.every((n) => names(cs).includes(n)),
    );
    res.up = brief(up);
    res.ikeSas = (await ikw.ikeSas()).length;
    res.swanUp = await r.swan();
    r.log(`up: ${names(up).join(', ')}`);
    const paths = split ? SPLIT_PATHS : CHILD_PATHS;
    res.traffic1 = [];
    for (const p of paths.filter((x) => want.includes(x.child)))
      (res.traffic1 as unknown[]).push(await r.traffic(p, 'traffic'));
    if (!split) {
      // Per-child rekey: voice gets new SPIs, lan and host keep theirs.
      const before = brief(up);
      const old = before.find((c) => c.name === 'voice')!;
      res.rekeyReply = await control(ikw, 'rekey', { name: `${CONN}/voice`, what: 'child' });
      await r.waitChildren('voice rekeyed', (cs) =>
        cs.some((c) => c.name === 'voice' && norm(c.spiIn) !== old.spiIn && norm(c.spiOut) !== old.spiOut),
      );
      // The old voice SA goes away shortly after the new one is in (RFC 7296 §2.8).
      await r.waitChildren(
        'one voice Child SA',
        (cs) => cs.filter((c) => c.name === 'voice').length === 1,
        30_000,
      );
      res.rekey = { before, after: brief(await r.children()) };
      r.log('voice rekeyed');
      res.trafficAfterRekey = await r.traffic(CHILD_PATHS[2]!, 'voice after rekey');
      // Per-child down: lan goes, voice and host stay and carry traffic.
      const lan = brief(await r.children()).find((c) => c.name === 'lan')!;
      res.downReply = await control(ikw, 'down', { name: `${CONN}/lan` });
      await r.waitChildren('lan deleted', (cs) => !cs.some((c) => c.name === 'lan'), 30_000);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && (await r.swan()).some((c) => c.name === 'lan')) await sleep(300);
      res.afterDown = {
        ikeway: brief(await r.children()),
        swan: await r.swan(),
        ikeSas: (await ikw.ikeSas()).length,
        kernelA: MEMORY ? 'memory' : [saPackets(lab, 'a', lan.spiIn), saPackets(lab, 'a', lan.spiOut)],
        kernelB: MEMORY ? 'memory' : [saPackets(lab, 'b', lan.spiIn), saPackets(lab, 'b', lan.spiOut)],
      };
      r.log('lan down');
      res.trafficAfterDown = [
        await r.traffic(CHILD_PATHS[2]!, 'voice after lan down'),
        ...(MEMORY ? [] : [await r.traffic(CHILD_PATHS[3]!, 'host after lan down')]),
      ];
    }
  } catch (e) {
    res.error = String((e as Error).stack ?? e);
    res.ikewayLog = (ikw?.lines ?? []).filter((l) => /warn|error|refus|unaccept|child/i.test(l)).slice(-25);
    res.charonLog = (charon?.logText() ?? '')
      .split('\n')
      .filter((l) => /CHILD|TS|error|fail|unaccept|narrow|acquire|trap/i.test(l))
      .slice(-25);
  } finally {
    res.steps = run?.steps ?? [];
    res.seconds = Math.round((Date.now() - t0) / 100) / 10;
    await ikw?.stop().catch(() => undefined);
    await charon?.stop({ graceMs: 5_000 }).catch(() => undefined);
    lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const only = process.argv.slice(2).filter((s): s is Scenario => (SCENARIOS as string[]).includes(s));
  const bin = await bundledCli();
  const tags: Record<Scenario, string> = {
    'children-initiator': 'chi',
    'children-responder': 'chr',
    'split-initiator': 'spi',
    'split-responder': 'spr',
  };
  // The labs are independent (own namespaces, own daemons): run them side by side.
  await Promise.all(
    (only.length ? only : SCENARIOS).map(async (s) => {
      const r = await runScenario(s, tags[s], bin);
      process.stdout.write(`IKW-CHILDREN-RESULT ${JSON.stringify(r)}\n`);
    }),
  );
}
