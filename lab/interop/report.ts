// docs/interop.md, rendered from the results the matrix tests write (out/interop/<peer>-<part>.jsonl,
// copied to docs/interop/ by `npm run report:interop`, see results.ts), never typed by hand. Pure: results in, markdown out; the test files do the reading and writing.
import { CELLS, FEATURE_CELLS, LIVENESS } from './cells.ts';
import type { CellResult } from './types.ts';

/** One boot's worth of results, as a matrix test file saves it. */
export interface MatrixRun {
  readonly peer: string;
  readonly part: string;
  /** ISO time the run finished. */
  readonly generatedAt: string;
  readonly where: 'guest' | 'host';
  /** Kernel release the ESP traffic ran on. */
  readonly kernel: string;
  readonly wallSeconds: number;
  readonly command: string;
  readonly results: readonly CellResult[];
}

/**
 * A partial run folded into the saved one of the same peer and part: its cells replace the saved
 * results of the same role and cell, the others stay. The command line records both runs.
 */
export function mergeRun(saved: MatrixRun | undefined, run: MatrixRun): MatrixRun {
  if (!saved || saved.peer !== run.peer || saved.part !== run.part) return run;
  const key = (r: CellResult) => `${r.role}:${r.cell}`;
  const fresh = new Set(run.results.map(key));
  return {
    ...run,
    wallSeconds: saved.wallSeconds + run.wallSeconds,
    command: `${saved.command}; re-run ${run.generatedAt}: ${run.command}`,
    results: [...saved.results.filter((r) => !fresh.has(key(r))), ...run.results],
  };
}

const ICON = { pass: 'pass', fail: '**FAIL**', unsupported: 'not supported' } as const;
const ORDER = [...CELLS, ...FEATURE_CELLS];
const cellOrder = (id: string) => {
  const i = ORDER.findIndex((c) => c.id === id);
  return i < 0 ? ORDER.length : i;
};

function sorted(runs: readonly MatrixRun[]): CellResult[] {
  return runs
    .flatMap((r) => r.results)
    .sort(
      (a, b) =>
        a.peer.localeCompare(b.peer) || cellOrder(a.cell) - cellOrder(b.cell) || a.role.localeCompare(b.role),
    );
}

/** The one-line evidence shown in the table: the step detail that matters most for the cell. */
function note(r: CellResult): string {
  if (r.result !== 'pass') return r.why.split('\n')[0]!.slice(0, 160);
  const pick = (re: RegExp) => r.steps.find((s) => re.test(s.step))?.detail ?? '';
  if (r.cell === 'liveness') return pick(/killed/);
  if (r.cell === 'fragmentation' && pick(/IKE fragments/)) return pick(/IKE fragments/);
  if (pick(/^AH on the wire|TFC padding/)) return pick(/^AH on the wire|TFC padding/);
  if (r.steps.some((s) => /rekey/.test(s.step)))
    return r.steps
      .filter((s) => /rekey by/.test(s.step))
      .map((s) => s.step)
      .join(', ');
  if (!r.steps.some((s) => s.step === 'traffic')) return `IKE only: ${pick(/^up$/)}`;
  return pick(/^traffic$/).replace(/, (ikeway|strongswan6?|libreswan) status.*/, '');
}

const esc = (s: string) => s.replaceAll('|', '\\|');

export function renderReport(runs: readonly MatrixRun[]): string {
  const results = sorted(runs);
  const out: string[] = [
    '# ikeway interoperability matrix',
    '',
    '<!-- generated: do not edit. Rendered by `npm run report:interop` from the results files. -->',
    '',
    'Rendered by `npm run report:interop` from the results in `docs/interop/*.jsonl`, which it copies',
    'from the latest matrix run (`node scripts/run-tests.mjs interop/matrix` writes them to the ignored',
    '`out/interop/`; the test run never changes this page). Each peer daemon ran in a network namespace',
    'of the guest kernel, so the tunnel carried real kernel ESP on both routers. One test file per peer',
    'boots the guest once for both roles (`test/interop/matrix-<peer>.test.ts`);',
    '`IKW_MATRIX_CELLS=responder:nat,...` re-runs some cells and merges them into the saved results,',
    '`IKW_MATRIX_LOGDIR=DIR` keeps the guest output and the peers\u2019 whole logs there. "wall s" is',
    'guest time, without waiting for a free guest.',
    '',
    '| run | peer | kernel | where | finished | wall s | cells | command |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of runs) {
    const n = (k: CellResult['result']) => r.results.filter((x) => x.result === k).length;
    const ver = r.results[0]?.peerVersion ?? r.peer;
    out.push(
      `| ${r.part} | ${ver} | ${r.kernel} | ${r.where} | ${r.generatedAt} | ${r.wallSeconds} | ${n('pass')} pass, ${n('fail')} fail, ${n('unsupported')} not supported | \`${esc(r.command)}\` |`,
    );
  }
  out.push(
    '',
    '## Matrix',
    '',
    'Each cell: tunnel up as both sides report it (same IKE SPIs, ESP SPIs crosswise), pings both ways',
    'between the sites, packet counters > 0 on both SAs in BOTH kernels (`ip -s xfrm state`), in',
    '`ikeway status` and in the peer\u2019s own status, then `ikeway down` leaves no ESP state in either',
    'kernel. "ikeway role" is who started the IKE SA.',
    '',
    'Runs whose "where" is `host` (strongSwan 6.0.6, `test/interop/matrix-strongswan6-host.test.ts`,',
    'in the host pass) are IKE only: the same cells in the same lab namespaces on the host kernel,',
    'which has no ESP, so ikeway runs its in-memory kernel and charon its kernel-libipsec. They check',
    'what both daemons report (same IKE SPIs, ESP SPIs crosswise, the rekeys, IKE fragments both',
    'ways, the IKE SA cleared after the peer died and back after its restart, a clean delete), not',
    'traffic or kernel counters; kernel-libipsec has tunnel mode only, so the transport cell is not',
    'run there.',
    '',
    'The strongSwan 6.0.6 guest runs (real ESP, like 5.9.8 and Libreswan) come from',
    '`test/interop/matrix-strongswan6.test.ts`, which the suite skips to keep its time (about 5 min of',
    'guest time): `IKW_MATRIX_SS6=1 node scripts/run-tests.mjs --guest-only matrix-strongswan6.test`.',
    '',
    '| peer | version | cell | ikeway role | result | seconds | evidence |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of results)
    out.push(
      `| ${r.peer} | ${r.peerVersion} | ${r.cell}: ${esc(r.title)} | ${r.role} | ${ICON[r.result]} | ${r.seconds} | ${esc(note(r))} |`,
    );
  const bad = results.filter((r) => r.result !== 'pass');
  if (bad.length) {
    out.push('', '## Cells that are not green, and why', '');
    for (const r of bad) {
      out.push(`### ${r.peer} ${r.cell} (ikeway ${r.role}): ${r.result}`, '', esc(r.why), '');
      if (r.evidence.length) out.push('```', ...r.evidence, '```', '');
    }
  }
  out.push(
    '',
    '## Notes',
    '',
    '- Rekeys (RFC 7296 §2.8) are checked in the base cell of each peer and role only, to keep the',
    '  guest time small: ikeway starts the Child and IKE rekeys where it initiated the tunnel (control',
    '  command `rekey`), the peer starts them where it did, so each exchange runs in both directions.',
    '  After each rekey the new SPIs must agree on both sides and carry traffic on both kernels.',
    `- Liveness: ikeway probes every ${LIVENESS.interval} s and gives up after ${LIVENESS.timeout} s; the peer is SIGKILLed, then its`,
    '  router\u2019s XFRM tables are flushed (its host "reboots") and it is started again. As initiator ikeway',
    '  re-initiates (action restart); as responder it clears and the peer\u2019s start action brings it back.',
    '- The liveness bound checked is the configured time plus 15 s (TCG scheduling); the measured',
    '  time is shown per cell: the first probe goes out after `interval` of silence, then retransmits',
    '  until `timeout`, then the kernel state is removed, so it exceeds interval + timeout a little.',
    '- AH and TFC (issue 21; `test/interop/ah-tfc.test.ts`, one guest boot, strongSwan and ikeway as the',
    '  peer): the AH cells capture what router-a sends on its WAN: IP protocol 51 only, and tcpdump reads',
    '  the inner ICMP (AH does not encrypt); `ah-tunnel` also rekeys (REKEY_SA and Delete with protocol',
    '  ID 2). The TFC cells ping through the tunnel with 64..1200 octets of data: with padding to 1400 every',
    '  ESP packet router-a sends has the same length and every ping is answered (the peer delivered the',
    '  original packet); with the peer’s ESP_TFC_PADDING_NOT_SUPPORTED (ikeway peer with',
    '  `accept-tfc-padding: false`) each size gives its own length.',
    '- NAT: a masquerading router stands in front of the initiator\u2019s site; ESP must run in UDP 4500.',
    '- Fragmentation: RSA 3072 certificates under an intermediate CA, WAN MTU 1400, and every IP',
    '  fragment dropped on the WAN by nftables, so IKE_AUTH only passes as RFC 7383 fragments. The peer',
    '  sends its intermediate; ikeway (no chain option in its policy file yet) trusts root and',
    '  intermediate as anchors and sends its end certificate only. The cell then checks that',
    '  fragments really went both ways: ikeway\u2019s counters (`ike.fragments_sent` / `_received`, control',
    '  socket) and the peer\u2019s own log (charon `splitting IKE message` / `received fragment`, pluto',
    '  `recording fragment` / `received IKE encrypted fragment`) must each show some sent and received.',
    '- Libreswan: Debian\u2019s 4.10 package, unpacked by `scripts/install-deps.sh` (it conflicts with',
    '  strongSwan\u2019s), pluto with the kernel XFRM stack in a private mount namespace per router. Its',
    '  updown is Libreswan\u2019s own `_updown`: pluto\u2019s default `ipsec _updown` runs the host\u2019s `ipsec`,',
    '  which is strongSwan\u2019s, whose updown exits 2 ("unknown interface version"), and pluto then',
    '  refuses the Child SA (TS_UNACCEPTABLE). pluto logs IKE SPIs only at `plutodebug=base`, which',
    '  the driver enables (never `private`).',
    '- Libreswan revival: pluto keeps a connection it brought up; when ikeway deletes the IKE SA it',
    '  re-initiates at once ("received a Delete/Notify but must remain up per local policy"). Where',
    '  pluto initiated, the driver turns that off (`whack --impair revival`) right before `ikeway',
    '  down`, so the delete step can check that both kernels end empty.',
    '',
    '## Steps per cell',
    '',
  );
  for (const r of results) {
    out.push(
      `<details><summary>${r.peer} ${r.cell}, ikeway ${r.role}: ${r.result} in ${r.seconds} s</summary>`,
      '',
    );
    for (const s of r.steps)
      out.push(`- ${s.ok ? 'ok' : 'FAIL'} ${s.step} (${s.ms} ms)${s.detail ? `: ${s.detail}` : ''}`);
    out.push('', '</details>', '');
  }
  return out.join('\n').replace(/\n+$/, '\n');
}
