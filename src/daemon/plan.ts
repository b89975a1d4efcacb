// `ikeway plan FILE` / `reload --dry-run FILE`: what a reload to FILE would do, without doing it. The
// connection lists come from planReload (reload.ts), the very function the reload follows, and the
// new connections' policies from the same generator and reqid allocator the reload uses, so plan and
// reload cannot disagree. Pure: the daemon passes its current state in as data.
import type { Config, Connection } from '../config/index.ts';
import type { PlanReport, PlannedPolicy, PlannedSa } from '../control/plan-types.ts';
import { policyIdentity } from '../kernel/spd-match.ts';
import type { PolicyParams, SaId } from '../kernel/types.ts';
import { changedFields } from './connections.ts';
import { selectorText } from './explain.ts';
import { planReload, reloadRejection } from './reload.ts';
import { childReqids, connectionReqid, dropReqids } from './reqids.ts';

export interface PlanChild {
  readonly name: string;
  /** The policies this Child SA holds in the kernel. */
  readonly policies: readonly PolicyParams[];
  /** Its inbound and outbound SAs. */
  readonly sas: readonly SaId[];
}

export interface PlanIkeSa {
  readonly name: string;
  readonly state: string;
  readonly children: readonly PlanChild[];
}

/** Route-based tunnels: what a reload would do to XFRM interfaces and routes (extension point). */
export interface LinkPlanner {
  plan(current: Config, next: Config): Pick<PlanReport, 'interfaces' | 'routes'>;
}

export interface PlanInput {
  readonly file: string;
  readonly current: Config;
  readonly next: Config;
  /** The daemon's reqid allocation now (copied, never changed). */
  readonly reqids: ReadonlyMap<string, number>;
  /** The fail-closed policies a current connection has now. */
  readonly failClosedOf: (name: string) => readonly PolicyParams[];
  /** The fail-closed policies the reload would install for a connection of the new file. */
  readonly failClosedFor: (
    conn: Connection,
    reqid: number | undefined,
    childReqid?: (child: string) => number | undefined,
  ) => readonly PolicyParams[];
  readonly sasOf: (name: string) => readonly PlanIkeSa[];
  readonly links?: LinkPlanner;
}

interface Placed {
  readonly policy: PolicyParams;
  readonly connection: string;
  readonly child: boolean;
}

function view(p: Placed): PlannedPolicy {
  const { policy } = p;
  return {
    connection: p.connection,
    kind: p.child ? 'child' : policy.action === 'block' ? 'block' : 'trap',
    dir: policy.dir,
    selector: selectorText(policy.selector),
    action: policy.action,
    priority: policy.priority,
    templates: policy.templates.map(
      (t) => `${t.proto} ${t.mode} ${t.src ?? '*'}->${t.dst ?? '*'} reqid ${t.reqid}`,
    ),
    ...(policy.mark ? { mark: { value: policy.mark.value, mask: policy.mark.mask } } : {}),
    ...(policy.ifId !== undefined ? { ifId: policy.ifId } : {}),
  };
}

/** What stands in the kernel for one connection: its fail-closed policies, where no Child SA's stand. */
function placed(name: string, failClosed: readonly PolicyParams[], sas: readonly PlanIkeSa[]) {
  const m = new Map<string, Placed>();
  for (const p of failClosed) m.set(policyIdentity(p), { policy: p, connection: name, child: false });
  for (const sa of sas)
    for (const c of sa.children)
      for (const p of c.policies) m.set(policyIdentity(p), { policy: p, connection: name, child: true });
  return m;
}

const content = (p: Placed) =>
  JSON.stringify([p.policy.action, p.policy.priority, p.policy.templates, p.child]);

export function planFor(i: PlanInput): PlanReport {
  const plan = planReload(i.current, i.next);
  const rejected = reloadRejection(plan);
  const oldByName = new Map(i.current.connections.map((c) => [c.name, c]));
  const newByName = new Map(i.next.connections.map((c) => [c.name, c]));
  const links = i.links?.plan(i.current, i.next) ?? {
    interfaces: { add: [], remove: [] },
    routes: { add: [], remove: [] },
  };
  const connections = {
    added: plan.added,
    removed: plan.removed,
    changed: plan.changed.map((n) => ({
      name: n,
      fields: changedFields(oldByName.get(n)!, newByName.get(n)!),
    })),
    unchanged: plan.unchanged,
  };
  const empty = {
    ikeSas: { teardown: [], negotiate: [] },
    childSas: { teardown: [] },
    policies: { add: [], remove: [], replace: [] },
    sas: { remove: [], add: [] },
  };
  if (rejected)
    return { file: i.file, rejected, connections, needRestart: plan.needRestart, ...empty, ...links };

  // Before: every current connection's policies as they stand.
  const before = new Map<string, Placed>();
  for (const c of i.current.connections)
    for (const [k, v] of placed(c.name, i.failClosedOf(c.name), i.sasOf(c.name))) before.set(k, v);
  // After: unchanged connections keep theirs; removed and changed ones lose their SAs (and the old
  // fail-closed policies no current connection claims); changed and added get their new ones, with
  // the reqids the reload allocates (same allocator, same order: removals first).
  const reqids = new Map(i.reqids);
  for (const n of plan.removed) dropReqids(reqids, n);
  const after = new Map<string, Placed>();
  for (const n of plan.unchanged)
    for (const [k, v] of placed(n, i.failClosedOf(n), i.sasOf(n))) after.set(k, v);
  for (const n of [...plan.changed, ...plan.added]) {
    const conn = newByName.get(n)!;
    const pols = i.failClosedFor(conn, connectionReqid(reqids, conn), childReqids(reqids, conn));
    for (const [k, v] of placed(n, pols, [])) after.set(k, v);
  }
  const add: PlannedPolicy[] = [];
  const remove: PlannedPolicy[] = [];
  const replace: { from: PlannedPolicy; to: PlannedPolicy }[] = [];
  for (const [k, v] of after) {
    const was = before.get(k);
    if (!was) add.push(view(v));
    else if (content(was) !== content(v) || was.connection !== v.connection)
      replace.push({ from: view(was), to: view(v) });
  }
  for (const [k, v] of before) if (!after.has(k)) remove.push(view(v));

  const gone = [...plan.removed, ...plan.changed];
  const teardown = gone.flatMap((n) => i.sasOf(n).map((sa) => ({ n, sa })));
  const sasRemoved: PlannedSa[] = teardown.flatMap(({ n, sa }) =>
    sa.children.flatMap((c) =>
      c.sas.map((id) => ({
        connection: n,
        childSa: c.name,
        spi: `0x${id.spi.toString(16).padStart(8, '0')}`,
        dst: id.dst,
        proto: id.proto,
      })),
    ),
  );
  return {
    file: i.file,
    connections,
    needRestart: plan.needRestart,
    ikeSas: {
      teardown: teardown.map(({ n, sa }) => ({ connection: n, name: sa.name, state: sa.state })),
      negotiate: [...plan.changed, ...plan.added].filter((n) => newByName.get(n)!.start === 'now'),
    },
    childSas: {
      teardown: teardown.flatMap(({ n, sa }) =>
        sa.children.map((c) => ({ connection: n, ikeSa: sa.name, name: c.name })),
      ),
    },
    policies: { add, remove, replace },
    sas: { remove: sasRemoved, add: [] },
    ...links,
  };
}
