// The shapes of the policy format's spec tree (spec.ts): objects, maps, lists, toggles and leaves.
// The walker (walk.ts), the JSON Schema (json-schema.ts) and the reference (reference.ts) read them.

import type { ConfigErrorCode } from './errors.ts';

interface Base {
  readonly description: string;
}
export interface ObjectSpec extends Base {
  readonly kind: 'object';
  readonly fields: Readonly<Record<string, Field>>;
  /** Exactly one of these keys must be present (a tagged choice such as psk | cert). */
  readonly exactlyOne?: readonly string[];
  /** The problem to report when a plain value stands where this map belongs. */
  readonly scalarError?: { readonly code: ConfigErrorCode; readonly message: string; readonly hint: string };
}
export interface MapSpec extends Base {
  readonly kind: 'map';
  /** Regex source for the names (JSON Schema patternProperties). */
  readonly keyPattern: string;
  readonly keyHint: string;
  readonly values: Spec;
  readonly minEntries: number;
}
export interface ListSpec extends Base {
  readonly kind: 'list';
  readonly items: Spec;
  /** A single item may be written without brackets. */
  readonly single?: boolean;
  readonly minItems?: number;
}
export interface ToggleSpec extends Base {
  /** `false` switches the feature off, `true` or a map switches it on (map fields override defaults). */
  readonly kind: 'toggle';
  readonly object: ObjectSpec;
}
export type LeafSpec = Base &
  (
    | { readonly kind: 'string'; readonly pattern?: string }
    | { readonly kind: 'path' }
    | { readonly kind: 'enum'; readonly values: readonly string[] }
    | { readonly kind: 'bool' }
    | { readonly kind: 'int'; readonly min: number; readonly max: number }
    | { readonly kind: 'number'; readonly min: number; readonly max: number }
    | { readonly kind: 'duration'; readonly minMs: number }
    | { readonly kind: 'bytes' }
    | { readonly kind: 'address'; readonly allowAny?: boolean; readonly allowName?: boolean }
    | { readonly kind: 'prefix' }
    /** An address with its prefix length, host bits allowed (169.254.10.1/30). */
    | { readonly kind: 'ifaddr' }
    /** A routing table: main, a number, or a name from /etc/iproute2/rt_tables. */
    | { readonly kind: 'route-table' }
    | { readonly kind: 'identity' }
    | { readonly kind: 'mark' }
    | { readonly kind: 'proposal'; readonly for: 'ike' | 'esp' | 'ah' }
    /** RFC 4303 §2.7 TFC padding target: octets (1..65535) or "mtu". */
    | { readonly kind: 'tfc' }
  );
export type Spec = ObjectSpec | MapSpec | ListSpec | ToggleSpec | LeafSpec;

export type Field = Spec & {
  readonly required?: boolean;
  /** YAML-level default ('4h', true, 500); objects with `defaultEmpty` are filled from their fields. */
  readonly default?: string | number | boolean | readonly string[];
  readonly defaultEmpty?: boolean;
};

export const path = (description: string): Spec => ({ kind: 'path', description });
export const duration = (description: string, minMs = 0): Spec => ({ kind: 'duration', description, minMs });
