// The layering of src/ (ARCHITECTURE.md): no import circle between files, and no folder imports one
// above it. Type-only imports count too: a type that must be shared lives in the lower layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../../src');

/** Rank of each top-level folder of src/: a file may import only its own folder or a lower rank. */
const RANK: Record<string, number> = {
  base: 0, // clock, timers, counters, logger
  codec: 1, // IKEv2 bytes <-> typed messages
  crypto: 2, // transforms, key derivation, key exchange, secrets
  kernel: 2, // the Kernel interface, XFRM netlink
  net: 3, // UDP sockets, NAT-T
  config: 4, // YAML -> validated config
  creds: 4, // certificates, identities, keys
  ike: 5, // the engine: IKE/Child SAs, tasks, exchanges
  ha: 6, // HA pair: sync channel, state records, promotion (above the engine, below the daemon)
  control: 6, // control socket protocol and client
  daemon: 7, // the process: connections, reload, kernel reconcile
  cli: 8, // the command line
};

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Static imports and re-exports with a relative specifier (dynamic import() is not an edge). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gms)) {
    let p = resolve(dirname(file), m[1]!);
    if (!existsSync(p) && existsSync(`${p}.ts`)) p = `${p}.ts`;
    out.push(p);
  }
  return out;
}

const files = walk(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const folderOf = (f: string) => relative(SRC, f).split('/')[0]!;
const rel = (f: string) => relative(SRC, f);

test('every folder of src/ has a layer rank', () => {
  const folders = new Set(files.map(folderOf).filter((f) => !f.endsWith('.ts')));
  assert.deepEqual(
    [...folders].filter((f) => !(f in RANK)),
    [],
  );
});

test('src/ imports only src/ (no lab, test or bench code in the daemon)', () => {
  const outside: string[] = [];
  for (const [f, deps] of graph)
    for (const d of deps) if (relative(SRC, d).startsWith('..')) outside.push(`${rel(f)} -> ${d}`);
  assert.deepEqual(outside, []);
});

test('no folder imports a folder of the same or a higher layer', () => {
  const bad: string[] = [];
  for (const [f, deps] of graph) {
    const a = folderOf(f);
    for (const d of deps) {
      const b = folderOf(d);
      if (a === b || relative(SRC, d).startsWith('..')) continue;
      if ((RANK[b] ?? 99) >= (RANK[a] ?? -1)) bad.push(`${rel(f)} -> ${rel(d)}`);
    }
  }
  assert.deepEqual(bad, []);
});

/** Strongly connected components of more than one file (Tarjan): the import circles. */
function circlesOf(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) circles.push(c.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return circles;
}

test('the circle finder finds a circle and the edges are read', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.deepEqual(circlesOf(g), [['a', 'b', 'c']]);
  const edges = [...graph.values()].reduce((n, d) => n + d.length, 0);
  assert.ok(edges > files.length, `only ${edges} import edges among ${files.length} files`);
});

test('no import circle between files of src/', () => {
  assert.deepEqual(
    circlesOf(graph).map((c) => c.map(rel)),
    [],
  );
});
