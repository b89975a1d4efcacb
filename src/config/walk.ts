// Walks the YAML syntax tree against CONFIG_SPEC. Every problem gets the line:col of the offending
// key or value; walking goes on after a problem so that one run reports all of them. The output is
// a plain tree (camelCase keys, parsed leaves, static defaults filled) for the builder.
import { isAlias, isMap, isScalar, isSeq, type LineCounter, type Pair } from 'yaml';
import { resolve } from 'node:path';
import type { ConfigErrorCode, ConfigProblem, Severity } from './errors.ts';
import { suggest } from './errors.ts';
import type { Field, LeafSpec, ListSpec, MapSpec, ObjectSpec, Spec, ToggleSpec } from './spec.ts';
import {
  parseAddress,
  parseBytes,
  parseDuration,
  parseIdentity,
  parseMark,
  parsePrefix,
  formatDuration,
} from './values.ts';
import { parseIfAddress, parseRouteTable } from './iface-values.ts';
import { isHostName } from './resolve.ts';
import type { Parsed } from './values.ts';
import { checkProposal } from './proposals-tokens.ts';

export interface Pos {
  readonly line: number;
  readonly col: number;
}

export type Raw = { [key: string]: unknown };

/** Collects problems and remembers where every path sits in the file. */
export class Reporter {
  readonly problems: ConfigProblem[] = [];
  /** YAML path -> position of its value (or of its parent when absent). */
  readonly positions = new Map<string, Pos>();
  /** YAML paths of keys written in the file (not filled from a default). */
  readonly given = new Set<string>();

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  pos(node: unknown, fallback: Pos): Pos {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (range === undefined) return fallback;
    const lp = this.lines.linePos(range[0]);
    return { line: lp.line, col: lp.col };
  }

  add(code: ConfigErrorCode, at: Pos, path: string, message: string, hint = '', severity?: Severity): void {
    const sev = severity ?? (code.startsWith('W_') ? 'warning' : 'error');
    this.problems.push({
      code,
      severity: sev,
      file: this.file,
      line: at.line,
      col: at.col,
      path,
      message,
      hint,
    });
  }

  /** Position of a path, or of its nearest recorded ancestor. */
  at(path: string): Pos {
    for (let p = path; ; p = parentPath(p)) {
      const found = this.positions.get(p);
      if (found !== undefined) return found;
      if (p === '') return { line: 1, col: 1 };
    }
  }
}

export function parentPath(p: string): string {
  const m = /^(.*?)(\.[^.[\]]+|\[\d+\])$/.exec(p);
  return m?.[1] ?? '';
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
export const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export class Walker {
  constructor(
    private readonly r: Reporter,
    private readonly baseDir: string,
  ) {}

  /** Returns the parsed value, or undefined when absent or invalid (the problem is recorded). */
  walk(spec: Spec, node: unknown, path: string, at: Pos): unknown {
    at = this.r.pos(node, at);
    this.r.positions.set(path, at);
    if (isAlias(node)) {
      this.r.add(
        'E_ALIAS',
        at,
        path,
        'YAML aliases (*name) are not supported',
        'write the value out in full',
      );
      return undefined;
    }
    switch (spec.kind) {
      case 'object':
        return this.object(spec, node, path, at);
      case 'map':
        return this.map(spec, node, path, at);
      case 'list':
        return this.list(spec, node, path, at);
      case 'toggle':
        return this.toggle(spec, node, path, at);
      default:
        return this.leafNode(spec, node, path, at);
    }
  }

  private object(spec: ObjectSpec, node: unknown, path: string, at: Pos): Raw | undefined {
    if (node !== undefined && !isMap(node)) {
      if (spec.scalarError !== undefined && isScalar(node)) {
        const e = spec.scalarError;
        this.r.add(e.code, at, path, e.message, e.hint);
      } else this.typeError(node, path, at, 'a map of settings (key: value)');
      return undefined;
    }
    const out: Raw = {};
    const seen = new Map<string, Pos>();
    for (const pair of (node?.items ?? []) as Pair[]) {
      const key = this.key(pair, path, at);
      if (key === undefined) continue;
      const kpos = this.r.pos(pair.key, at);
      const field = spec.fields[key];
      const p = join(path, key);
      if (field === undefined) {
        this.unknownKey(key, Object.keys(spec.fields), p, kpos);
        continue;
      }
      seen.set(key, kpos);
      this.r.given.add(p);
      const value = isScalar(pair.value) && pair.value.value === null ? undefined : pair.value;
      if (value === undefined || value === null) {
        this.r.positions.set(p, kpos);
        this.r.add(
          'E_VALUE',
          kpos,
          p,
          `"${key}" has no value`,
          `write ${key}: <${describe(field)}> or remove the line`,
        );
        continue;
      }
      const v = this.walk(field, value, p, kpos);
      if (v !== undefined) out[camel(key)] = v;
    }
    this.checkPresence(spec, seen, out, path, at);
    return out;
  }

  private checkPresence(spec: ObjectSpec, seen: Map<string, Pos>, out: Raw, path: string, at: Pos): void {
    for (const [key, field] of Object.entries(spec.fields)) {
      if (seen.has(key)) continue;
      const p = join(path, key);
      if (field.required === true) {
        this.r.add(
          'E_MISSING_KEY',
          at,
          path,
          `missing required key "${key}"`,
          `add ${key}: <${describe(field)}>`,
        );
      } else if (field.default !== undefined || field.defaultEmpty === true) {
        this.r.positions.set(p, at);
        out[camel(key)] = this.fromDefault(field, p, at);
      }
    }
    if (spec.exactlyOne !== undefined) {
      const present = spec.exactlyOne.filter((k) => seen.has(k));
      if (present.length === 0) {
        const opts = spec.exactlyOne.join(' or ');
        this.r.add('E_MISSING_KEY', at, path, `needs one of ${opts}`, `add ${spec.exactlyOne[0]}: ...`);
      }
      for (const k of present.slice(1)) {
        const msg = `"${k}" cannot be combined with "${present[0]}"`;
        this.r.add(
          'E_CONFLICT',
          seen.get(k) ?? at,
          join(path, k),
          msg,
          `keep only one of ${present.join(', ')}`,
        );
      }
    }
  }

  private fromDefault(field: Field, path: string, at: Pos): unknown {
    if (field.kind === 'object') return this.object(field, undefined, path, at);
    if (field.kind === 'toggle')
      return field.default === false ? false : this.object(field.object, undefined, path, at);
    if (field.kind === 'list')
      return (field.default as readonly string[]).map((d) => this.leaf(field.items as LeafSpec, d, path, at));
    return this.leaf(field as LeafSpec, field.default, path, at);
  }

  private key(pair: Pair, path: string, at: Pos): string | undefined {
    if (isScalar(pair.key) && (typeof pair.key.value === 'string' || typeof pair.key.value === 'number')) {
      return String(pair.key.value);
    }
    const kpos = this.r.pos(pair.key, at);
    this.r.add('E_TYPE', kpos, path, 'a key must be a plain word', 'write key: value');
    return undefined;
  }

  private unknownKey(key: string, known: string[], path: string, at: Pos): void {
    const guess = suggest(key, known);
    const hint = guess !== undefined ? `did you mean "${guess}"?` : `known keys: ${known.join(', ')}`;
    this.r.add('E_UNKNOWN_KEY', at, path, `unknown key "${key}"`, hint);
  }

  private map(spec: MapSpec, node: unknown, path: string, at: Pos): Raw | undefined {
    if (!isMap(node)) {
      this.typeError(node, path, at, `a map of names to settings`);
      return undefined;
    }
    const out: Raw = {};
    const re = new RegExp(spec.keyPattern);
    for (const pair of node.items as Pair[]) {
      const key = this.key(pair, path, at);
      if (key === undefined) continue;
      const kpos = this.r.pos(pair.key, at);
      const p = join(path, key);
      if (!re.test(key)) {
        this.r.add('E_VALUE', kpos, p, `"${key}" is not a valid name`, `use ${spec.keyHint}`);
        continue;
      }
      const v = this.walk(spec.values, pair.value ?? undefined, p, kpos);
      if (v !== undefined) out[key] = v;
    }
    if (node.items.length < spec.minEntries) {
      this.r.add('E_VALUE', at, path, 'is empty', `add at least ${spec.minEntries} entry; see examples/`);
    }
    return out;
  }

  private list(spec: ListSpec, node: unknown, path: string, at: Pos): unknown[] | undefined {
    if (!isSeq(node)) {
      if (spec.single === true && isScalar(node)) {
        const v = this.walk(spec.items, node, `${path}[0]`, at);
        return v === undefined ? undefined : [v];
      }
      this.typeError(node, path, at, `a list ([a, b] or "- item" lines)`);
      return undefined;
    }
    const out: unknown[] = [];
    let bad = false;
    node.items.forEach((item, i) => {
      const v = this.walk(spec.items, item, `${path}[${i}]`, at);
      if (v === undefined) bad = true;
      else out.push(v);
    });
    if (node.items.length < (spec.minItems ?? 0)) {
      this.r.add(
        'E_VALUE',
        at,
        path,
        'is an empty list',
        `give at least ${spec.minItems} item, or remove the key`,
      );
    }
    return bad ? undefined : out;
  }

  private toggle(spec: ToggleSpec, node: unknown, path: string, at: Pos): unknown {
    if (isScalar(node) && typeof node.value === 'boolean') {
      return node.value ? this.object(spec.object, undefined, path, at) : false;
    }
    if (!isMap(node)) {
      this.typeError(node, path, at, 'false, true, or a map of settings');
      return undefined;
    }
    return this.object(spec.object, node, path, at);
  }

  private leafNode(spec: LeafSpec, node: unknown, path: string, at: Pos): unknown {
    if (!isScalar(node)) {
      this.typeError(node, path, at, describe(spec));
      return undefined;
    }
    return this.leaf(spec, node.value, path, at);
  }

  private typeError(node: unknown, path: string, at: Pos, expected: string): void {
    const got = isMap(node)
      ? 'a map'
      : isSeq(node)
        ? 'a list'
        : isScalar(node)
          ? `${JSON.stringify(node.value)}`
          : 'nothing';
    this.r.add('E_TYPE', at, path, `expected ${expected}, found ${got}`, '');
  }

  /** Parse one scalar value (from the file or from a default). */
  leaf(spec: LeafSpec, v: unknown, path: string, at: Pos): unknown {
    const fail = (message: string, hint: string) => {
      this.r.add('E_VALUE', at, path, message, hint);
      return undefined;
    };
    const take = <T>(p: Parsed<T>) => (p.ok ? p.value : fail(p.message, p.hint));
    const shown = JSON.stringify(v) ?? String(v);
    if (spec.kind === 'bool') {
      if (typeof v === 'boolean') return v;
      return fail(`${shown} is not true or false`, 'write true or false');
    }
    if (spec.kind === 'int' || spec.kind === 'number') {
      if (typeof v !== 'number' || (spec.kind === 'int' && !Number.isInteger(v))) {
        return fail(
          `${shown} is not ${spec.kind === 'int' ? 'a whole number' : 'a number'}`,
          `write a number ${spec.min}..${spec.max}`,
        );
      }
      if (v < spec.min || v > spec.max)
        return fail(`${v} is out of range`, `write a number ${spec.min}..${spec.max}`);
      return v;
    }
    if (spec.kind === 'tfc') {
      if (v === 'mtu') return v;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
      return fail(`${shown} is not a packet size`, 'write a number of octets 1..65535 (e.g. 1400) or mtu');
    }
    if (spec.kind === 'mark' && typeof v === 'number') return take(parseMark(String(v)));
    if (spec.kind === 'route-table' && typeof v === 'number') return take(parseRouteTable(String(v)));
    if (spec.kind === 'bytes' && typeof v === 'number') return take(parseBytes(String(v)));
    if (spec.kind === 'duration' && typeof v === 'number') return take(parseDuration(String(v)));
    if (typeof v !== 'string') return fail(`expected ${describe(spec)}, found ${shown}`, '');
    return this.stringLeaf(spec, v, take, fail, () => ({ path, at }));
  }

  private stringLeaf(
    spec: LeafSpec,
    v: string,
    take: <T>(p: Parsed<T>) => T | undefined,
    fail: (m: string, h: string) => undefined,
    where: () => { path: string; at: Pos },
  ): unknown {
    switch (spec.kind) {
      case 'string':
        if (v === '') return fail('is empty', 'write a value or remove the key');
        if (spec.pattern !== undefined && !new RegExp(spec.pattern).test(v)) {
          return fail(`"${v}" is not allowed here`, `it must match ${spec.pattern}`);
        }
        return v;
      case 'path':
        if (v === '' || v.includes('\0'))
          return fail('is not a file path', 'write a path, absolute or relative to this file');
        return resolve(this.baseDir, v);
      case 'enum': {
        if (spec.values.includes(v)) return v;
        const guess = suggest(v, spec.values);
        const hint =
          guess !== undefined ? `did you mean "${guess}"?` : `write one of ${spec.values.join(', ')}`;
        return fail(`"${v}" is not one of ${spec.values.join(', ')}`, hint);
      }
      case 'duration': {
        const ms = take(parseDuration(v));
        if (ms !== undefined && ms < spec.minMs)
          return fail(`${v} is too short`, `write at least ${formatDuration(spec.minMs)}`);
        return ms;
      }
      case 'bytes':
        return take(parseBytes(v));
      case 'address':
        if (spec.allowAny === true && v === 'any') return 'any';
        if (spec.allowName === true && !parseAddress(v).ok) {
          if (isHostName(v)) return { hostName: v };
          if (!/^[0-9.:]+$/.test(v))
            return fail(
              `"${v}" is neither an IP address nor a DNS name`,
              'write e.g. 192.0.2.2 or vpn.example.net',
            );
        }
        return take(parseAddress(v));
      case 'prefix':
        return take(parsePrefix(v));
      case 'ifaddr':
        return take(parseIfAddress(v));
      case 'route-table':
        return take(parseRouteTable(v));
      case 'identity':
        return take(parseIdentity(v));
      case 'mark':
        return take(parseMark(v));
      case 'proposal': {
        const c = checkProposal(v, spec.for);
        if (!c.ok) {
          const { path, at } = where();
          this.r.add('E_PROPOSAL', at, path, c.message ?? 'bad proposal', c.hint ?? '');
          return undefined;
        }
        if (c.weak.length > 0) {
          const { path, at } = where();
          const msg = `proposal "${v}" uses weak or deprecated algorithms: ${c.weakReasons.join('; ')}`;
          this.r.add('W_WEAK', at, path, msg, 'prefer aes256gcm16, sha256 and x25519');
        }
        return v.trim().toLowerCase();
      }
      default:
        return fail(`expected ${describe(spec)}, found "${v}"`, '');
    }
  }
}

/** A few words naming what a spec expects, for messages. */
const EXAMPLE_PROPOSAL = { ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', ah: 'sha256' } as const;

export function describe(spec: Spec): string {
  switch (spec.kind) {
    case 'object':
    case 'toggle':
      return 'map';
    case 'map':
      return 'name: settings';
    case 'list':
      return `list of ${describe(spec.items)}`;
    case 'enum':
      return spec.values.join('|');
    case 'int':
    case 'number':
      return `number ${spec.min}..${spec.max}`;
    case 'bool':
      return 'true|false';
    case 'duration':
      return 'duration, e.g. 30m';
    case 'bytes':
      return 'size, e.g. 1GiB';
    case 'address':
      return `IP address${spec.allowName === true ? ', DNS name' : ''}${spec.allowAny === true ? ' or any' : ''}`;
    case 'prefix':
      return 'IP prefix, e.g. 10.0.0.0/16';
    case 'ifaddr':
      return 'address/length, e.g. 169.254.10.1/30';
    case 'route-table':
      return 'main, a table number or a table name';
    case 'proposal':
      return `proposal, e.g. ${EXAMPLE_PROPOSAL[spec.for]}`;
    case 'tfc':
      return 'octets 1..65535 or mtu';
    default:
      return spec.kind;
  }
}
