// JSON Schema (draft 2020-12) generated from CONFIG_SPEC, so editors can complete and check
// ikeway files. schema/ikeway.schema.json is this output; a test keeps the two identical.
// Regenerate: ./bin/ikeway.js check --print-schema > schema/ikeway.schema.json
import type { Field, LeafSpec, ObjectSpec, Spec } from './spec.ts';
import { CONFIG_SPEC } from './spec.ts';

type Json = { [k: string]: unknown };

const DURATION = '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$';
const BYTES = '^\\d+(\\.\\d+)?\\s*([kKmMgGtT]i?[bB]|[bB])?$';
const MARK = '^(0x[0-9a-fA-F]{1,8}|\\d{1,10})(/(0x[0-9a-fA-F]{1,8}|\\d{1,10}))?$';

export function buildJsonSchema(): Json {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/ikeway/ikeway/schema/ikeway.schema.json',
    title: 'ikeway policy',
    ...node(CONFIG_SPEC),
  };
}

function node(spec: Spec | Field): Json {
  const out: Json = { description: spec.description, ...shape(spec) };
  // An object's default (true: "its fields' defaults") is not a value a file would hold.
  if ('default' in spec && spec.default !== undefined && spec.kind !== 'object') out.default = spec.default;
  return out;
}

function objectShape(spec: ObjectSpec): Json {
  const properties: Json = {};
  for (const [k, f] of Object.entries(spec.fields)) properties[k] = node(f);
  const required = Object.entries(spec.fields)
    .filter(([, f]) => f.required === true)
    .map(([k]) => k);
  const out: Json = { type: 'object', properties, additionalProperties: false };
  if (required.length > 0) out.required = required;
  if (spec.exactlyOne !== undefined) out.oneOf = spec.exactlyOne.map((k) => ({ required: [k] }));
  return out;
}

function shape(spec: Spec): Json {
  switch (spec.kind) {
    case 'object':
      return objectShape(spec);
    case 'map':
      return {
        type: 'object',
        patternProperties: { [spec.keyPattern]: node(spec.values) },
        additionalProperties: false,
        minProperties: spec.minEntries,
      };
    case 'list': {
      const arr: Json = { type: 'array', items: node(spec.items) };
      if (spec.minItems !== undefined) arr.minItems = spec.minItems;
      return spec.single === true ? { oneOf: [node(spec.items), arr] } : arr;
    }
    case 'toggle':
      return { oneOf: [{ type: 'boolean' }, objectShape(spec.object)] };
    default:
      return leaf(spec);
  }
}

function leaf(spec: LeafSpec): Json {
  switch (spec.kind) {
    case 'string':
      return spec.pattern === undefined
        ? { type: 'string', minLength: 1 }
        : { type: 'string', pattern: spec.pattern };
    case 'enum':
      return { enum: [...spec.values] };
    case 'bool':
      return { type: 'boolean' };
    case 'tfc':
      return { oneOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { const: 'mtu' }] };
    case 'int':
      return { type: 'integer', minimum: spec.min, maximum: spec.max };
    case 'number':
      return { type: 'number', minimum: spec.min, maximum: spec.max };
    case 'duration':
      return { type: 'string', pattern: DURATION };
    case 'bytes':
      return {
        oneOf: [
          { type: 'integer', minimum: 0 },
          { type: 'string', pattern: BYTES },
        ],
      };
    case 'mark':
      return {
        oneOf: [
          { type: 'integer', minimum: 0, maximum: 0xffffffff },
          { type: 'string', pattern: MARK },
        ],
      };
    case 'address':
      return spec.allowAny === true
        ? {
            anyOf: [
              { const: 'any' },
              { type: 'string', format: 'ipv4' },
              { type: 'string', format: 'ipv6' },
              ...(spec.allowName === true ? [{ type: 'string', format: 'hostname' }] : []),
            ],
          }
        : {
            anyOf: [
              { type: 'string', format: 'ipv4' },
              { type: 'string', format: 'ipv6' },
            ],
          };
    case 'prefix':
      return { type: 'string', pattern: '^[0-9a-fA-F:.]+(/\\d{1,3})?$' };
    case 'proposal':
      return { type: 'string', pattern: '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$' };
    case 'ifaddr':
      return { type: 'string', pattern: '^[0-9a-fA-F:.]+/\\d{1,3}$' };
    case 'route-table':
      return {
        oneOf: [
          { type: 'integer', minimum: 1, maximum: 0xffffffff },
          { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
        ],
      };
    case 'path':
    case 'identity':
      return { type: 'string', minLength: 1 };
  }
}
