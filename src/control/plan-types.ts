// What `ikeway plan FILE` / `ikeway reload --dry-run FILE` answers: what a reload to FILE would do,
// computed by the daemon from the same reload plan (daemon/reload.ts) the reload itself follows.
// Plain JSON.

export interface PlannedPolicy {
  readonly connection?: string;
  /** trap (allow + ESP template, no SA), block (discard), child (a Child SA's policy). */
  readonly kind: 'trap' | 'block' | 'child';
  readonly dir: string;
  /** "10.1.0.0/24 -> 10.2.0.0/24" */
  readonly selector: string;
  readonly action: 'allow' | 'block';
  readonly priority: number;
  /** "esp tunnel 192.0.2.1->192.0.2.2 reqid 65536" per template. */
  readonly templates: readonly string[];
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly ifId?: number;
}

export interface PlannedSa {
  readonly connection: string;
  readonly childSa: string;
  readonly spi: string;
  readonly dst: string;
  readonly proto: string;
}

export interface PlanReport {
  readonly file: string;
  /** Set when the daemon would refuse this reload (nothing would change). */
  readonly rejected?: string;
  readonly connections: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
    readonly changed: readonly { readonly name: string; readonly fields: readonly string[] }[];
    readonly unchanged: readonly string[];
  };
  /** Global settings that differ but only apply at the next restart. */
  readonly needRestart: readonly string[];
  readonly ikeSas: {
    readonly teardown: readonly {
      readonly connection: string;
      readonly name: string;
      readonly state: string;
    }[];
    /** Connections the reload starts (start: now): new IKE and Child SAs are negotiated. */
    readonly negotiate: readonly string[];
  };
  readonly childSas: {
    readonly teardown: readonly {
      readonly connection: string;
      readonly ikeSa: string;
      readonly name: string;
    }[];
  };
  /** The kernel policy table of ikeway's connections right after the reload (before negotiation). */
  readonly policies: {
    readonly add: readonly PlannedPolicy[];
    readonly remove: readonly PlannedPolicy[];
    /** Same identity (selector, dir, mark, if_id), different action/template/priority: replaced in place. */
    readonly replace: readonly { readonly from: PlannedPolicy; readonly to: PlannedPolicy }[];
  };
  readonly sas: {
    readonly remove: readonly PlannedSa[];
    /** SAs are only added by negotiation (see ikeSas.negotiate), never by the reload itself. */
    readonly add: readonly PlannedSa[];
  };
  /** Route-based tunnels (XFRM interfaces, routes): empty until the daemon manages them. */
  readonly interfaces: { readonly add: readonly string[]; readonly remove: readonly string[] };
  readonly routes: { readonly add: readonly string[]; readonly remove: readonly string[] };
}
