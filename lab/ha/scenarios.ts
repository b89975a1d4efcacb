// The HA lab's scenarios (lab/ha/lab.ts): which site-B peer, and whether the pair syncs.
export type HaLabKernel = 'memory' | 'xfrm';

export interface HaLabScenario {
  /** Report key: ikeway, strongswan, nosync. */
  readonly name: HaScenarioName;
  /** Distinct per scenario run side by side (interface names in the root namespace). */
  readonly index: number;
  readonly peer: 'ikeway' | 'strongswan';
  /** false: the sync link stays down, the standby holds nothing, failover re-establishes. */
  readonly sync: boolean;
  /** After the failover: a Child SA rekey (by the peer for ikeway, by the new active for strongSwan). */
  readonly rekey: boolean;
  /** After the failover: the old node comes back as standby and must resync. */
  readonly oldNodeReturns: boolean;
}

export const HA_SCENARIOS = ['ikeway', 'strongswan', 'nosync'] as const;
export type HaScenarioName = (typeof HA_SCENARIOS)[number];

export function haScenario(name: HaScenarioName, index: number): HaLabScenario {
  switch (name) {
    case 'ikeway':
      return { name, index, peer: 'ikeway', sync: true, rekey: true, oldNodeReturns: true };
    case 'strongswan':
      return { name, index, peer: 'strongswan', sync: true, rekey: true, oldNodeReturns: true };
    case 'nosync':
      return { name, index, peer: 'strongswan', sync: false, rekey: false, oldNodeReturns: false };
  }
}

export function isScenarioName(s: string): s is HaScenarioName {
  return (HA_SCENARIOS as readonly string[]).includes(s);
}
