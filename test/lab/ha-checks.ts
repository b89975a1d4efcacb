// The HA lab's assertions (lab/ha/lab.ts reports facts; the checks live here), shared by the host
// test (test/lab/ha-lab.test.ts, IKE level) and the guest test (test/lab/ha-esp-lab.test.ts, real
// ESP). Times and packet counts are figures for docs/ha.md, never asserted.
import assert from 'node:assert/strict';

type Report = Record<string, unknown>;
interface Wire {
  ikeSaInit: number;
  exchanges: string[];
  replaced: string[];
}
interface Ping {
  sent: number;
  received: number;
  lastSeq: number;
}

/**
 * Every request after the kill got its response with the same message ID (RFC 7296 §2.2), in both
 * directions: the new active took over the peer's window and its own next message ID. With a
 * window of one, a request followed by a higher one of the same side must have been answered; only
 * the last of a side may still be in flight when the log is read. At least one of the peer's
 * requests was answered after the kill.
 */
export function messageIdsContinue(w: Wire): void {
  const seen = new Set(w.exchanges);
  const requests = w.exchanges.flatMap((e) => {
    const m = /^([<>]) (\w+) request (\d+)$/.exec(e);
    return m ? [{ e, side: m[1]!, exchange: m[2]!, id: Number(m[3]) }] : [];
  });
  for (const q of requests) {
    if (!requests.some((o) => o.side === q.side && o.id > q.id)) continue;
    const answer = `${q.side === '>' ? '<' : '>'} ${q.exchange} response ${q.id}`;
    assert.ok(seen.has(answer), `no "${answer}" for "${q.e}": ${JSON.stringify(w.exchanges)}`);
  }
  assert.ok(
    requests.some((q) => q.side === '>' && seen.has(`< ${q.exchange} response ${q.id}`)),
    `no request of the peer answered after the kill: ${JSON.stringify(w.exchanges)}`,
  );
}

/** Real ESP: traffic flows again after the failover (the last replies came in its final seconds). */
export function trafficResumed(r: Report): void {
  const ping = r.ping as Ping | undefined;
  assert.ok(ping, 'no ping verdict');
  assert.ok(ping.received > 0 && ping.lastSeq >= ping.sent - 10, JSON.stringify(ping));
  assert.ok((r.node2EspStates as number) >= 2, 'node 2 carries ESP SAs');
}

/** A failover with sync: the peer kept its IKE SA and Child SA, a rekey worked, node 1 resynced. */
export function takenOver(r: Report, name: string): void {
  assert.equal(
    r.error,
    undefined,
    `${name}: ${String(r.error)}\n${JSON.stringify(r.logs ?? {}).slice(-8000)}`,
  );
  assert.deepEqual(r.standbyBeforeKill, { records: 1, synced: true }, `${name}: standby synced`);
  assert.equal(r.peerIkeSaUnchanged, true, `${name}: the peer kept its IKE SA SPIs`);
  assert.equal(r.peerChildSaUnchanged, true, `${name}: the peer kept its Child SA SPIs`);
  assert.equal(r.peerIkeSas, 1, `${name}: no second IKE SA on the peer`);
  assert.equal(r.childRekeyAfterFailover, true, `${name}: Child SA rekey after the failover`);
  assert.equal(r.oldNodeResyncedAsStandby, true, `${name}: old node resynced as standby`);
  assert.equal(r.oldNodeRecords, 1, `${name}: old node holds the one IKE SA`);
  const w = r.peerWireAfterKill as Wire | undefined;
  if (w) {
    assert.equal(w.ikeSaInit, 0, `${name}: no IKE_SA_INIT after the kill: ${JSON.stringify(w.exchanges)}`);
    messageIdsContinue(w);
    // Node 2's rekey went over the wire with its next message ID, and the peer answered it.
    const req = w.exchanges.map((e) => /^< CREATE_CHILD_SA request (\d+)$/.exec(e)?.[1]).find(Boolean);
    assert.ok(
      req !== undefined && w.exchanges.includes(`> CREATE_CHILD_SA response ${req}`),
      `${name}: node 2's CREATE_CHILD_SA answered: ${JSON.stringify(w.exchanges)}`,
    );
  }
}

/** A failover without sync: the standby held nothing, the new active set up a new IKE SA. */
export function reestablished(r: Report, name: string): void {
  assert.equal(
    r.error,
    undefined,
    `${name}: ${String(r.error)}\n${JSON.stringify(r.logs ?? {}).slice(-8000)}`,
  );
  assert.deepEqual(r.standbyBeforeKill, { records: 0, synced: false }, `${name}: standby held nothing`);
  assert.equal(r.peerIkeSaUnchanged, false, `${name}: a new IKE SA`);
  assert.equal(r.peerIkeSas, 1, `${name}: the peer dropped the stale IKE SA`);
  const w = r.peerWireAfterKill as Wire | undefined;
  assert.ok(w, `${name}: no wire report`);
  assert.ok(w.ikeSaInit >= 2, `${name}: IKE_SA_INIT request and response: ${JSON.stringify(w.exchanges)}`);
  assert.ok(w.replaced.length > 0, `${name}: the peer replaced the old IKE SA (INITIAL_CONTACT)`);
}
