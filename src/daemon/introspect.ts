// The daemon's read-only questions about the kernel and a would-be reload: `explain` (explain.ts)
// and `plan` (plan.ts). Both read; neither changes kernel or daemon state. The daemon hands over a
// narrow host view (its config, kernel, owners of policies, SAs and history) and the control handler
// calls these with the request's arguments. Bad input is a ControlError ERR_BAD_ARGS (counted).
import { ConfigErrors, formatProblem, loadConfig, type Config, type Connection } from '../config/index.ts';
import { ControlError } from '../control/protocol.ts';
import type { Explanation } from '../control/explain-types.ts';
import type { PlanReport } from '../control/plan-types.ts';
import { FlowError, parseFlow, policyIdentity } from '../kernel/spd-match.ts';
import type { Kernel, PolicyDir, PolicyParams } from '../kernel/types.ts';
import type { OwnedKernel } from '../kernel/ownership.ts';
import type { IkeSa } from '../ike/ike-sa.ts';
import { connectionView, explainFlow, ownerIndex } from './explain.ts';
import { planFor, type PlanIkeSa, type LinkPlanner } from './plan.ts';
import { markOnly } from '../ike/xfrm-ids.ts';

export interface IntrospectHost {
  readonly config: Config;
  readonly kernel: Kernel;
  readonly owned: OwnedKernel | undefined;
  /** Wall-clock ms the daemon started (a connection never up is down since then). */
  readonly startedWallMs: number;
  readonly reqids: ReadonlyMap<string, number>;
  /** The fail-closed policies a current connection has now. */
  failClosedOf(name: string): readonly PolicyParams[];
  /** The fail-closed policies the reload gives a connection (the same generator). */
  failClosedFor(
    conn: Connection,
    reqid: number | undefined,
    childReqid?: (child: string) => number | undefined,
  ): readonly PolicyParams[];
  /** ikeway's IKE bypass policies. */
  bypass(): readonly PolicyParams[];
  sasOf(name: string): readonly IkeSa[];
  history(
    name: string,
  ):
    { lastDownMs: number | undefined; lastFailure: { atMs: number; reason: string } | undefined } | undefined;
  /** Reads and validates a config file (ControlError ERR_CONFIG naming every problem). */
  readConfig(file: string): Config;
  badRequest(): void;
  readonly links?: LinkPlanner;
}

const DIRS: readonly PolicyDir[] = ['out', 'in', 'fwd'];

const childName = (sa: IkeSa, id: number) => `${sa.config.name}{${id}}`;
const liveChildren = (sa: IkeSa) =>
  sa.children.filter((c) => c.state === 'installed' || c.state === 'rekeying');

function argString(
  args: Readonly<Record<string, unknown>>,
  k: string,
  required: boolean,
): string | undefined {
  const v = args[k];
  if (v === undefined && !required) return undefined;
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && !required) return String(v);
  throw new ControlError('ERR_BAD_ARGS', `explain needs "${k}" as a non-empty string`);
}

function intArg(args: Readonly<Record<string, unknown>>, k: string): number | undefined {
  const v = args[k];
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  throw new ControlError('ERR_BAD_ARGS', `explain: "${k}" must be an integer 0..4294967295`);
}

export async function explain(
  h: IntrospectHost,
  args: Readonly<Record<string, unknown>>,
): Promise<Explanation> {
  let flow;
  let dir: PolicyDir;
  try {
    const d = args.dir ?? 'out';
    if (typeof d !== 'string' || !(DIRS as readonly string[]).includes(d))
      throw new ControlError('ERR_BAD_ARGS', `explain: dir must be one of ${DIRS.join(', ')}`);
    dir = d as PolicyDir;
    const proto = argString(args, 'proto', false);
    const port = argString(args, 'port', false);
    const sport = argString(args, 'sport', false);
    const mark = intArg(args, 'mark');
    const ifId = intArg(args, 'ifId');
    flow = parseFlow({
      src: argString(args, 'src', true)!,
      dst: argString(args, 'dst', true)!,
      ...(proto !== undefined ? { proto } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(sport !== undefined ? { sport } : {}),
      ...(mark !== undefined ? { mark } : {}),
      ...(ifId !== undefined ? { ifId } : {}),
    });
  } catch (e) {
    h.badRequest();
    if (e instanceof FlowError) throw new ControlError('ERR_BAD_ARGS', `explain: ${e.message}`);
    throw e;
  }
  // The kernel's tables, read now: the verdict comes from these, never from our memory.
  // One dump at a time: a netlink socket runs one dump at once (EBUSY otherwise).
  const policies = await h.kernel.dumpPolicies();
  const sas = await h.kernel.dumpSas();
  const names = h.config.connections.map((c) => c.name);
  const ownedIds = h.owned
    ? new Set(
        h.owned
          .list()
          .flatMap((o) =>
            o.kind === 'policy' ? [policyIdentity({ ...o.id, selector: o.id.selector })] : [],
          ),
      )
    : undefined;
  const owners = ownerIndex({
    failClosed: names.map((n) => ({ connection: n, policies: h.failClosedOf(n) })),
    children: names.flatMap((n) =>
      h.sasOf(n).flatMap((sa) =>
        liveChildren(sa).map((c) => ({
          connection: n,
          childSa: childName(sa, c.id),
          policies: c.policies(),
        })),
      ),
    ),
    bypass: h.bypass(),
    ...(ownedIds ? { ours: (id: string) => ownedIds.has(id) } : {}),
  });
  return explainFlow({
    flow,
    dir,
    policies,
    sas,
    ownerOf: owners,
    connection: (name) => {
      if (!names.includes(name)) return undefined;
      const up = h.sasOf(name).some((sa) => sa.state === 'established' && liveChildren(sa).length > 0);
      const hist = h.history(name);
      return connectionView({
        name,
        up,
        lastDownMs: hist?.lastDownMs,
        lastFailure: hist?.lastFailure,
        startedMs: h.startedWallMs,
      });
    },
  });
}

/** What a reload to `file` would do (the file is read and validated; nothing is applied). */
export function plan(h: IntrospectHost, file: string): PlanReport {
  const next = h.readConfig(file);
  const sasOf = (name: string): PlanIkeSa[] =>
    h.sasOf(name).map((sa) => ({
      name: sa.name,
      state: sa.state,
      children: liveChildren(sa).map((c) => {
        const ctx = c.installed;
        return {
          name: childName(sa, c.id),
          policies: c.policies(),
          sas: ctx
            ? [
                { dst: ctx.localAddr, spi: c.spiIn, proto: 'esp' as const, ...markOnly(ctx, 'in') },
                { dst: ctx.remoteAddr, spi: c.spiOut, proto: 'esp' as const, ...markOnly(ctx, 'out') },
              ]
            : [],
        };
      }),
    }));
  return planFor({
    file,
    current: h.config,
    next,
    reqids: h.reqids,
    failClosedOf: (n) => h.failClosedOf(n),
    failClosedFor: (c, r, k) => h.failClosedFor(c, r, k),
    sasOf,
    ...(h.links ? { links: h.links } : {}),
  });
}

/** Reads and validates a would-be config for `plan`; ERR_CONFIG with every problem (nothing logged). */
export function readPlanConfig(file: string, env: NodeJS.ProcessEnv | undefined): Config {
  try {
    return loadConfig(file, env ? { env } : {}).config;
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    const lines = e.problems.filter((p) => p.severity === 'error').map(formatProblem);
    throw new ControlError(
      'ERR_CONFIG',
      `${file} is invalid; a reload to it would be rejected:\n${lines.join('\n')}`,
      lines,
    );
  }
}
