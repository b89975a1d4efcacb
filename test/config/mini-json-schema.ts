// A small JSON Schema checker for the subset schema/ikeway.schema.json uses, so tests can check
// the examples against the shipped schema without another dependency. Returns error strings.
import { isIPv4, isIPv6 } from 'node:net';

type S = { [k: string]: unknown };

export function validate(schema: S, v: unknown, at = '$'): string[] {
  const errs: string[] = [];
  const e = (m: string) => errs.push(`${at}: ${m}`);
  if ('const' in schema && v !== schema.const) e(`not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(v)) e(`not one of ${schema.enum.join(',')}`);
  if (typeof schema.type === 'string' && !hasType(v, schema.type)) return [`${at}: not ${schema.type}`];
  if (typeof v === 'string') stringRules(schema, v, e);
  if (typeof v === 'number') {
    if (typeof schema.minimum === 'number' && v < schema.minimum) e('below minimum');
    if (typeof schema.maximum === 'number' && v > schema.maximum) e('above maximum');
  }
  if (Array.isArray(v)) {
    if (typeof schema.minItems === 'number' && v.length < schema.minItems) e('too few items');
    if (schema.items !== undefined)
      v.forEach((x, i) => errs.push(...validate(schema.items as S, x, `${at}[${i}]`)));
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) errs.push(...objectRules(schema, v as S, at));
  if (Array.isArray(schema.oneOf)) {
    const n = (schema.oneOf as S[]).filter((s) => validate(s, v, at).length === 0).length;
    if (n !== 1) e(`matches ${n} of oneOf`);
  }
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as S[]).some((s) => validate(s, v, at).length === 0)) {
    e('matches none of anyOf');
  }
  return errs;
}

function hasType(v: unknown, t: string): boolean {
  if (t === 'integer') return Number.isInteger(v);
  if (t === 'object') return v !== null && typeof v === 'object' && !Array.isArray(v);
  if (t === 'array') return Array.isArray(v);
  return typeof v === t;
}

function stringRules(schema: S, v: string, e: (m: string) => void): void {
  if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(v))
    e(`"${v}" !~ ${schema.pattern}`);
  if (typeof schema.minLength === 'number' && v.length < schema.minLength) e('too short');
  if (schema.format === 'ipv4' && !isIPv4(v)) e('not ipv4');
  if (schema.format === 'ipv6' && !isIPv6(v)) e('not ipv6');
}

function objectRules(schema: S, v: S, at: string): string[] {
  const errs: string[] = [];
  const props = (schema.properties ?? {}) as { [k: string]: S };
  const patterns = Object.entries((schema.patternProperties ?? {}) as { [k: string]: S });
  for (const r of (schema.required ?? []) as string[]) if (!(r in v)) errs.push(`${at}: missing ${r}`);
  if (typeof schema.minProperties === 'number' && Object.keys(v).length < schema.minProperties) {
    errs.push(`${at}: too few properties`);
  }
  for (const [k, x] of Object.entries(v)) {
    const sub = props[k] ?? patterns.find(([p]) => new RegExp(p, 'u').test(k))?.[1];
    if (sub !== undefined) errs.push(...validate(sub, x, `${at}.${k}`));
    else if (schema.additionalProperties === false) errs.push(`${at}: unknown key ${k}`);
  }
  return errs;
}
