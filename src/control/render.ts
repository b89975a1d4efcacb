// Human output of `ikeway status`: one block per connection, its IKE SAs and their Child SAs.
import type { ChildStatus, IkeSaStatus, InterfaceStatus, StatusReport } from './status-types.ts';

export function duration(s: number | undefined): string {
  if (s === undefined) return '-';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  return h < 48
    ? `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(h / 24)}d${h % 24}h`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `conn`: the connection's name; a child of another name (children:) is shown by it, as swanctl does. */
function child(c: ChildStatus, conn: string): string[] {
  const traffic =
    c.countersError !== undefined
      ? `counters unavailable (${c.countersError})`
      : `in ${bytes(c.bytesIn)} / ${c.packetsIn ?? '-'} pkts, out ${bytes(c.bytesOut)} / ${c.packetsOut ?? '-'} pkts`;
  const ah = c.protocol === 'ah' ? ', AH (not encrypted)' : '';
  const tfc =
    c.tfcPadding !== undefined
      ? `, TFC padding ${c.tfcPadding >= 65535 ? 'to the MTU' : `to ${c.tfcPadding} B`}`
      : c.peerRefusesTfc
        ? ', peer refuses TFC padding'
        : '';
  return [
    `    CHILD_SA ${c.name === conn ? '' : c.name}{${c.id}} ${c.state}, ${c.mode}${ah}${tfc}, reqid ${c.reqid}, SPIs ${c.spiIn}_i ${c.spiOut}_o, ${c.algorithms || '-'}`,
    ...(c.keyExchanges ? [`      key exchanges: ${c.keyExchanges.join(' + ')}`] : []),
    `      ${c.localTs.join(',') || '-'} === ${c.remoteTs.join(',') || '-'}`,
    `      installed ${duration(c.installedSeconds)} ago, rekey in ${duration(c.rekeySeconds)}; ${traffic}`,
  ];
}

function ike(sa: IkeSaStatus): string[] {
  const nat = sa.nat.local || sa.nat.remote ? `, NAT ${sa.nat.local ? 'here' : 'at peer'}` : '';
  return [
    `  IKE_SA ${sa.name} ${sa.state} (${sa.initiator ? 'initiator' : 'responder'}), ${sa.local} <-> ${sa.remote}${nat}`,
    `    SPIs ${sa.spiI}_i ${sa.spiR}_r, ${sa.algorithms ?? '-'}`,
    ...(sa.keyExchanges ? [`    key exchanges: ${sa.keyExchanges.join(' + ')}`] : []),
    `    ${sa.localId} <-> ${sa.remoteId ?? '?'}, established ${duration(sa.establishedSeconds)} ago, rekey in ${duration(sa.rekeySeconds)}`,
    ...sa.children.flatMap((c) => child(c, sa.name.replace(/\[\d+\]$/, ''))),
  ];
}

function iface(i: InterfaceStatus): string[] {
  const state = !i.present ? 'MISSING' : i.up ? 'up' : 'down';
  const n = i.counters;
  const traffic = n
    ? `rx ${bytes(n.rxBytes)} / ${n.rxPackets} pkts, tx ${bytes(n.txBytes)} / ${n.txPackets} pkts, ` +
      `errors ${n.rxErrors}/${n.txErrors}, dropped ${n.rxDropped}/${n.txDropped}`
    : 'no counters';
  return [
    `  interface ${i.name} if_id ${i.ifId} (0x${i.ifId.toString(16)}) ${state}, mtu ${i.mtu ?? '-'}, addresses ${i.addresses.join(',') || '-'}`,
    `    routes: ${i.routes.join('; ') || 'none installed'}`,
    `    ${traffic}`,
  ];
}

export function renderStatus(r: StatusReport): string {
  const d = r.daemon;
  const out = [
    `ikeway ${d.version}, pid ${d.pid}, up ${duration(d.uptimeSeconds)}, kernel ${d.kernel}, ${d.config}`,
  ];
  if (d.kernelWarning) out.push(`WARNING: ${d.kernelWarning}`);
  if (d.debugKeysWarning) out.push(`WARNING: ${d.debugKeysWarning}`);
  const h = r.ha;
  if (h) {
    const f = h.lastFailover;
    out.push(
      `ha: node ${h.nodeId} ${h.role} (priority ${h.priority}), peer ${h.peerRole ?? 'not heard'}, ` +
        `${h.records} IKE SA${h.records === 1 ? '' : 's'} ${h.role === 'active' ? 'streamed' : h.synced ? 'synced' : 'NOT synced'}, ` +
        `sync lag ${h.syncLagMs === undefined ? '-' : `${(h.syncLagMs / 1000).toFixed(1)}s`}` +
        (f ? `, last failover to ${f.to} (${f.sas} IKE SAs)` : '') +
        (h.splitBrains ? `, split brains ${h.splitBrains}` : ''),
    );
  }
  const l = r.load;
  if (l)
    out.push(
      `load: ${l.halfOpen} half-open (${l.halfOpenReserved} reserved) from ${l.sources} sources, ` +
        `at most ${l.maxPerSource} per source; ${l.requestRate} new IKE_SA_INIT/s; ` +
        `puzzles ${l.puzzleDifficulty ? `on, difficulty ${l.puzzleDifficulty}` : 'off'}` +
        (l.rcvbufDrops !== undefined ? `; UDP receive-buffer drops ${l.rcvbufDrops}` : ''),
    );
  for (const c of r.connections) {
    out.push('');
    const sas =
      c.ikeSas.length === 0 ? 'no IKE SA' : `${c.ikeSas.length} IKE SA${c.ikeSas.length > 1 ? 's' : ''}`;
    out.push(`${c.name}: ${c.local} -> ${c.remote}, ${c.mode}, start ${c.start}, ${sas}`);
    out.push(
      `  ${c.localSubnets.join(',')} === ${c.remoteSubnets.join(',') || '(peer address)'}; fail-closed policies: ${c.failClosedPolicies}`,
    );
    if (c.interface) out.push(...iface(c.interface));
    if (c.retry)
      out.push(
        c.retry.gaveUp
          ? `  gave up after ${c.retry.attempt - 1} retries: ${c.retry.reason}`
          : `  retry ${c.retry.attempt} in ${c.retry.inSeconds}s: ${c.retry.reason}`,
      );
    for (const e of c.expiring ?? [])
      out.push(
        `  WARNING: ${e.role} certificate "${e.subject}" ` +
          (e.days < 0 ? `expired on ${e.notAfter}` : `expires in ${e.days} days (${e.notAfter})`),
      );
    for (const sa of c.ikeSas) out.push(...ike(sa));
  }
  if (r.connections.length === 0) out.push('', 'no connections configured');
  return `${out.join('\n')}\n`;
}
