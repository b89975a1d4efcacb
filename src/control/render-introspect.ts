// Human output of `ikeway explain` and `ikeway plan` / `reload --dry-run`.
import type { ExplainPolicy, Explanation } from './explain-types.ts';
import type { PlanReport, PlannedPolicy } from './plan-types.ts';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

function policyLine(p: ExplainPolicy): string {
  const t = p.templates.map((x) => `${x.proto} ${x.mode} ${x.src ?? '*'}->${x.dst ?? '*'} reqid ${x.reqid}`);
  const extra = [p.mark ? `mark ${p.mark.value}/${p.mark.mask}` : '', p.ifId ? `if_id ${p.ifId}` : '']
    .filter(Boolean)
    .join(' ');
  return `#${p.index} ${p.dir} ${p.selector} ${p.action} priority ${p.priority}${t.length ? ` tmpl ${t.join(', ')}` : ''}${extra ? ` ${extra}` : ''}`;
}

export function renderExplanation(e: Explanation): string {
  const f = e.flow;
  const proto = f.proto === 0 ? 'any protocol' : (PROTO_NAMES[f.proto] ?? `proto ${f.proto}`);
  const ports = f.dport || f.sport ? ` ports ${f.sport || '*'} -> ${f.dport || '*'}` : '';
  const out = [
    `${f.src} -> ${f.dst}, ${proto}${ports}, dir ${f.dir}: ${e.verdict.toUpperCase()}`,
    `  ${e.summary}`,
  ];
  if (e.policy) out.push(`  policy: ${policyLine(e.policy)}`);
  for (const sa of e.sas ?? [])
    if (sa)
      out.push(
        `  SA: ${sa.proto} spi ${sa.spi} ${sa.src} -> ${sa.dst} ${sa.mode} reqid ${sa.reqid}, ${sa.bytes} bytes / ${sa.packets} packets`,
      );
  for (const p of e.shadowed) out.push(`  also matches (loses): ${policyLine(p)}`);
  for (const n of e.notes) out.push(`  note: ${n}`);
  return `${out.join('\n')}\n`;
}

function planned(p: PlannedPolicy): string {
  return `${p.connection ?? '?'} ${p.kind} ${p.dir} ${p.selector} ${p.action} priority ${p.priority}${p.templates.length ? ` tmpl ${p.templates.join(', ')}` : ''}`;
}

export function renderPlan(r: PlanReport): string {
  const list = (xs: readonly string[]) => (xs.length > 0 ? xs.join(', ') : '-');
  const out = [`plan for a reload to ${r.file} (nothing changed)`];
  if (r.rejected) out.push(`  REJECTED: ${r.rejected}`);
  const c = r.connections;
  out.push(
    `  connections added: ${list(c.added)}`,
    `  connections removed: ${list(c.removed)}`,
    `  connections changed (re-established): ${list(c.changed.map((x) => `${x.name} [${x.fields.join(', ')}]`))}`,
    `  connections unchanged: ${list(c.unchanged)}`,
  );
  if (r.needRestart.length > 0) out.push(`  not applied until restart: ${r.needRestart.join(', ')}`);
  for (const s of r.ikeSas.teardown) out.push(`  IKE SA torn down: ${s.name} (${s.connection}, ${s.state})`);
  for (const s of r.childSas.teardown) out.push(`  Child SA torn down: ${s.name} (IKE SA ${s.ikeSa})`);
  if (r.ikeSas.negotiate.length > 0)
    out.push(`  negotiated after the reload (start: now): ${r.ikeSas.negotiate.join(', ')}`);
  for (const p of r.policies.add) out.push(`  + policy ${planned(p)}`);
  for (const p of r.policies.remove) out.push(`  - policy ${planned(p)}`);
  for (const p of r.policies.replace) out.push(`  ~ policy ${planned(p.from)}\n      => ${planned(p.to)}`);
  for (const s of r.sas.remove) out.push(`  - SA ${s.proto} spi ${s.spi} dst ${s.dst} (${s.childSa})`);
  for (const s of r.sas.add) out.push(`  + SA ${s.proto} spi ${s.spi} dst ${s.dst} (${s.childSa})`);
  for (const i of r.interfaces.add) out.push(`  + interface ${i}`);
  for (const i of r.interfaces.remove) out.push(`  - interface ${i}`);
  for (const i of r.routes.add) out.push(`  + route ${i}`);
  for (const i of r.routes.remove) out.push(`  - route ${i}`);
  const p = r.policies;
  if (!r.rejected && p.add.length + p.remove.length + p.replace.length === 0)
    out.push('  kernel policies: no change');
  return `${out.join('\n')}\n`;
}
