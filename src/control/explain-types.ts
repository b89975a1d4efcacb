// What `ikeway explain` answers (daemon -> CLI): the verdict of the kernel's SPD for one packet, the
// policy and SA behind it, who owns that policy and, for a connection whose tunnel is down, since
// when and why. Plain JSON (no bigint, no keys).

/** protected: an SA carries it; dropped: a block policy, or a policy whose SA is missing;
 *  bypass: an allow policy without templates (sent in clear on purpose); clear: no policy. */
export type ExplainVerdict = 'protected' | 'dropped' | 'bypass' | 'clear';

export interface ExplainPolicy {
  readonly index: number;
  readonly dir: string;
  readonly priority: number;
  readonly action: 'allow' | 'block';
  /** "10.1.0.0/24 -> 10.2.0.0/24 proto 17 dport 53" */
  readonly selector: string;
  readonly mark?: { readonly value: number; readonly mask: number };
  readonly ifId?: number;
  readonly templates: readonly {
    readonly src?: string;
    readonly dst?: string;
    readonly proto: string;
    readonly mode: string;
    readonly reqid: number;
  }[];
}

export type PolicyOwnerKind = 'fail-closed' | 'child-sa' | 'ike-bypass' | 'ikeway' | 'foreign';

export interface ExplainOwner {
  readonly kind: PolicyOwnerKind;
  readonly connection?: string;
  /** The Child SA (its IKE SA name and id) whose policy it is. */
  readonly childSa?: string;
}

export interface ExplainSa {
  readonly spi: string;
  readonly src: string;
  readonly dst: string;
  readonly proto: string;
  readonly mode: string;
  readonly reqid: number;
  readonly bytes: number;
  readonly packets: number;
}

export interface ExplainConnection {
  readonly name: string;
  readonly up: boolean;
  /** ISO time the tunnel went down (or the daemon started, if it never came up). */
  readonly downSince?: string;
  readonly lastFailure?: { readonly at: string; readonly reason: string };
}

export interface Explanation {
  readonly flow: {
    readonly src: string;
    readonly dst: string;
    readonly proto: number;
    readonly sport: number;
    readonly dport: number;
    readonly mark: number;
    readonly ifId: number;
    readonly dir: string;
  };
  readonly verdict: ExplainVerdict;
  /** One sentence: what happens and why. */
  readonly summary: string;
  readonly policy?: ExplainPolicy;
  readonly owner?: ExplainOwner;
  /** One per template of the policy: the SA that carries it, or null when none is installed. */
  readonly sas?: readonly (ExplainSa | null)[];
  readonly connection?: ExplainConnection;
  /** Other policies that match too but lose (higher priority value, or created later). */
  readonly shadowed: readonly ExplainPolicy[];
  readonly notes: readonly string[];
}
