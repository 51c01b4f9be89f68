// The head-table schema's span helpers agree exactly in every form: the IR's evaluation (over a
// table and over CTerms), the rendered JavaScript, Python, C++ (g++, and nvcc with __CUDACC__)
// and WGSL (on a real WebGPU device), and a brute-force reading of their definitions.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSchema } from '../codegen/schema.js';
import {
  EMPTY_TERM,
  FIELD,
  MOD_ON_D,
  NEUTRAL_MOD,
  SCHEMA_CONSTANTS,
  fieldsPerTerm,
  fullKeySpan,
  headTable,
  keySpan,
  modOffset,
  querySpan,
  tableShape,
  tableTerms,
  termFullKeySpan,
  termKeySpan,
  termQuerySpan,
  type CTerm,
  type LayoutIR,
} from '../src/ir/index.js';
import { compileSource } from '../src/driver/pipeline.js';
import { specCase } from './arbitraries.js';
import { openGpu, type Gpu } from './wgsl-helpers.js';

const HELPERS = ['key_span', 'full_key_span', 'query_span'] as const;

/** One evaluation: helper fn of the term slot at table[o ..] with ms mod slots, arguments (a, b, n). */
interface Case {
  o: number;
  ms: number;
  fn: 0 | 1 | 2;
  a: number;
  b: number;
  n: number;
  /** Small enough for the brute force. */
  brute: boolean;
  /** The slot as a CTerm (tableTerms), when the table form has one. */
  term?: CTerm;
}

const table: number[] = [];
const cases: Case[] = [];

function addSlot(fields: readonly number[], ms: number, n: number, rnd: () => number, term?: CTerm): void {
  const o = table.length;
  table.push(...fields);
  const pick = () => Math.floor(rnd() * (n + 1));
  const ranges: [number, number][] = [
    [0, n],
    [0, 1],
    [n - 1, n],
    [0, 0],
    [n, n],
  ];
  for (let k = 0; k < 6; k++) {
    const [x, y] = [pick(), pick()];
    ranges.push([Math.min(x, y), Math.max(x, y)]);
    const r = pick();
    ranges.push([r, Math.min(n, r + 1)]); // one row
  }
  ranges.push([Math.max(pick(), 1), Math.max(pick(), 1) - 1]); // reversed
  for (const [a, b] of ranges) for (const fn of [0, 1, 2] as const) cases.push({ o, ms, fn, a, b, n, brute: n <= 64, term });
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function addLayout(layout: LayoutIR, n: number, rnd: () => number): void {
  const shape = tableShape(layout);
  const t = headTable(layout, n);
  for (let h = 0; h < layout.heads; h++) {
    // tableTerms keeps the non-empty slots in order: match them to slots to test the CTerm form.
    const terms = tableTerms(t, shape, h);
    let next = 0;
    for (let s = 0; s < shape.termSlots; s++) {
      const b = (h * shape.termSlots + s) * shape.fieldsPerTerm;
      const f = [...t.subarray(b, b + shape.fieldsPerTerm)];
      const term = terms[next];
      const same =
        term &&
        term.dLo === f[FIELD.dLo] &&
        term.dHi === f[FIELD.dHi] &&
        term.kLo === f[FIELD.kLo] &&
        term.qLo === f[FIELD.qLo] &&
        term.qHi === f[FIELD.qHi] &&
        term.kHi === f[FIELD.kHi];
      if (same) next++;
      addSlot(f, shape.modSlots, n, rnd, same ? term : undefined);
    }
  }
}

// Random layouts from the spec generator (n 1..48), examples at lengths that are multiples of
// nothing, and hand-made slots: empty, neutral mods (canonical and not), effective mods, raw fields.
{
  const rnd = xorshift(12345);
  for (const c of fc.sample(specCase, { seed: 7, numRuns: 150 })) {
    let layouts: LayoutIR[];
    try {
      layouts = compileSource(c.text);
      for (const l of layouts) addLayout(l, c.n, rnd);
    } catch {
      continue; // a generated spec that fails to evaluate at its n
    }
  }
  const ex = (f: string) => compileSource(readFileSync(new URL(`../examples/${f}.spc`, import.meta.url), 'utf8'));
  for (const l of [...ex('sinks-window'), ...ex('longformer'), ...ex('sparse-transformer'), ...ex('spattention-balanced')]) {
    for (const n of [61, 4097, (1 << 20) + 3]) addLayout(l, n, rnd);
  }
  const n = 37;
  addSlot([...EMPTY_TERM, ...NEUTRAL_MOD, ...NEUTRAL_MOD], 2, n, rnd);
  addSlot([...EMPTY_TERM], 0, n, rnd);
  addSlot([3, 9, 0, n, 2, 30, ...NEUTRAL_MOD, 1, 5, 0, 5], 2, n, rnd); // neutral mods, one not canonical
  addSlot([3, 9, 0, n, 2, 30, 1, 5, 0, 7], 1, n, rnd); // hi > m: neutral
  addSlot([3, 9, 0, n, 2, 30, MOD_ON_D, 4, 1, 3], 1, n, rnd); // effective mod
  addSlot([-10, 4, 5, 20, 0, n], 0, n, rnd); // non-causal distances
  for (let k = 0; k < 300; k++) {
    const m = 1 + Math.floor(rnd() * 6);
    const r = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    const ms = r(0, 2);
    const f = [r(-n + 1, n), r(-n + 1, n), r(0, n), r(0, n), r(0, n), r(0, n)];
    for (let q = 0; q < ms; q++) f.push(r(0, 1), m, r(0, m), r(0, m));
    addSlot(f, ms, n, rnd);
  }
}

const cpuEval = (c: Case): [number, number] => {
  const s = c.fn === 0 ? keySpan(table, c.o, c.a, c.b, c.n) : c.fn === 1 ? fullKeySpan(table, c.o, c.ms, c.a, c.b, c.n) : querySpan(table, c.o, c.a, c.b, c.n);
  return [s.lo, s.hi];
};
const want = cases.map(cpuEval);
const flatCases = cases.flatMap((c) => [c.o, c.ms, c.fn, c.a, c.b, c.n]);

/** Brute force over the definitions: the hull of the reached set, and the set itself. */
function brute(c: Case): { hull: [number, number]; exact: boolean; sound: (lo: number, hi: number) => boolean } {
  const f = (k: number) => table[c.o + k]!;
  const [dLo, dHi, kLo, kHi, qLo, qHi] = [f(0), f(1), f(2), f(3), f(4), f(5)];
  const mods = Array.from({ length: c.ms }, (_, m) => [f(modOffset(m, 'on')), f(modOffset(m, 'm')), f(modOffset(m, 'lo')), f(modOffset(m, 'hi'))] as const);
  const fmod = (a: number, m: number) => ((a % m) + m) % m;
  const intervals = (i: number, j: number) => i - j >= dLo && i - j < dHi && j >= kLo && j < kHi && i >= qLo && i < qHi;
  const withMods = (i: number, j: number) =>
    intervals(i, j) &&
    mods.every(([on, m, lo, hi]) => {
      const r = fmod(on === MOD_ON_D ? i - j : j, m);
      return r >= lo && r < hi;
    });
  const effective = mods.some(([, m, lo, hi]) => !(lo <= 0 && hi >= m));
  const hullOf = (xs: number[]): [number, number] => (xs.length ? [Math.min(...xs), Math.max(...xs) + 1] : [0, 0]);
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, k) => a + k);
  const keys = range(0, c.n);
  if (c.fn === 0) {
    const rows = range(c.a, c.b);
    const reach = keys.filter((j) => rows.some((i) => intervals(i, j)));
    const hull = hullOf(reach);
    return { hull, exact: reach.length === hull[1] - hull[0], sound: (lo, hi) => keys.every((j) => !rows.some((i) => withMods(i, j)) || (j >= lo && j < hi)) };
  }
  if (c.fn === 1) {
    const rows = range(c.a, c.b);
    const ok = rows.length > 0 && c.b <= c.n && !effective;
    const every = keys.filter((j) => rows.length > 0 && rows.every((i) => withMods(i, j)));
    const hull = ok ? hullOf(every) : ([0, 0] as [number, number]);
    return { hull, exact: !ok || every.length === hull[1] - hull[0], sound: (lo, hi) => range(lo, hi).every((j) => rows.every((i) => withMods(i, j))) };
  }
  const ks = range(c.a, c.b).filter((j) => j >= 0 && j < c.n);
  const rowsAll = range(0, c.n);
  const reach = rowsAll.filter((i) => ks.some((j) => intervals(i, j)));
  const hull = hullOf(reach);
  return { hull, exact: reach.length === hull[1] - hull[0], sound: (lo, hi) => rowsAll.every((i) => !ks.some((j) => withMods(i, j)) || (i >= lo && i < hi)) };
}

const dir = mkdtempSync(join(tmpdir(), 'spc-schema-'));
writeFileSync(join(dir, 'cases.txt'), [table.length, ...table, cases.length, ...flatCases].join(' ') + '\n');
const parsePairs = (text: string): [number, number][] => {
  const xs = text.trim().split(/\s+/).map(Number);
  return Array.from({ length: xs.length / 2 }, (_, k) => [xs[2 * k]!, xs[2 * k + 1]!]);
};
const mismatches = (got: [number, number][]) => {
  expect(got.length).toBe(cases.length);
  const bad = cases.flatMap((c, k) =>
    got[k]![0] !== want[k]![0] || got[k]![1] !== want[k]![1] ? [{ ...c, term: undefined, want: want[k], got: got[k] }] : [],
  );
  return bad.slice(0, 5);
};

describe('head-table schema: span helpers', () => {
  it(`has enough cases (${cases.length}), with all kinds`, () => {
    expect(cases.length).toBeGreaterThan(20000);
    expect(cases.some((c) => c.ms > 0 && c.brute)).toBe(true);
    expect(cases.some((c) => c.n > 1 << 20)).toBe(true);
    expect(fieldsPerTerm(2)).toBe(14);
  });

  it('the IR evaluation matches the brute-force definitions: exact hulls for intervals, and sound with mods', () => {
    for (const [k, c] of cases.entries()) {
      if (!c.brute) continue;
      const b = brute(c);
      const [lo, hi] = want[k]!;
      const tag = `${HELPERS[c.fn]} of ${JSON.stringify(table.slice(c.o, c.o + fieldsPerTerm(c.ms)))} (${c.a}, ${c.b}, n = ${c.n})`;
      expect([lo, hi], tag).toEqual(b.hull);
      expect(b.exact, `${tag}: the reached set is the whole span`).toBe(true);
      expect(b.sound(lo, hi), `${tag}: sound with mods`).toBe(true);
    }
  });

  it('the IR over CTerms equals the IR over the table', () => {
    let n = 0;
    for (const [k, c] of cases.entries()) {
      if (!c.term) continue;
      const t = c.term;
      const s = c.fn === 0 ? termKeySpan(t, c.a, c.b, c.n) : c.fn === 1 ? termFullKeySpan(t, c.a, c.b, c.n) : termQuerySpan(t, c.a, c.b, c.n);
      expect([s.lo, s.hi], `${HELPERS[c.fn]} ${JSON.stringify(t)} (${c.a}, ${c.b}, ${c.n})`).toEqual(want[k]);
      n++;
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('rendered JavaScript', async () => {
    const file = join(dir, 'schema.mjs');
    writeFileSync(file, renderSchema('js'));
    const m = (await import(pathToFileURL(file).href)) as Record<string, (...a: unknown[]) => { lo: number; hi: number }>;
    const got = cases.map((c): [number, number] => {
      const s = c.fn === 1 ? m.full_key_span!(table, c.o, c.ms, c.a, c.b, c.n) : m[HELPERS[c.fn]]!(table, c.o, c.a, c.b, c.n);
      return [s.lo, s.hi];
    });
    expect(mismatches(got)).toEqual([]);
    for (const k of SCHEMA_CONSTANTS) expect((m as unknown as Record<string, unknown>)[k.name], k.name).toEqual(k.value);
  });

  it('rendered Python', () => {
    writeFileSync(join(dir, '_schema.py'), renderSchema('py'));
    writeFileSync(
      join(dir, 'run.py'),
      [
        'import sys',
        'import _schema as s',
        'xs = [int(x) for x in sys.stdin.read().split()]',
        'nt = xs[0]; t = xs[1:1 + nt]; nc = xs[1 + nt]; c = xs[2 + nt:]',
        'out = []',
        'for k in range(nc):',
        '    o, ms, fn, a, b, n = c[6 * k:6 * k + 6]',
        '    r = s.key_span(t, o, a, b, n) if fn == 0 else s.full_key_span(t, o, ms, a, b, n) if fn == 1 else s.query_span(t, o, a, b, n)',
        "    out.append('%d %d' % r)",
        "print('\\n'.join(out))",
        `assert [${SCHEMA_CONSTANTS.map((k) => `s.${k.name}`).join(', ')}] == [${SCHEMA_CONSTANTS.map((k) => (typeof k.value === 'number' ? k.value : `(${k.value.join(', ')})`)).join(', ')}]`,
      ].join('\n'),
    );
    const got = parsePairs(
      execFileSync('python3', ['run.py'], { cwd: dir, input: readFileSync(join(dir, 'cases.txt')), encoding: 'utf8', maxBuffer: 1 << 26 }),
    );
    expect(mismatches(got)).toEqual([]);
  });

  const CPP_MAIN = String.raw`#include <cstdio>
#include <vector>
#include "spc_table.cuh"
int main() {
  int nt, nc;
  if (scanf("%d", &nt) != 1) return 1;
  std::vector<int> t(nt);
  for (int& x : t) if (scanf("%d", &x) != 1) return 1;
  if (scanf("%d", &nc) != 1) return 1;
  for (int k = 0; k < nc; ++k) {
    int o, ms, fn, a, b, n;
    if (scanf("%d %d %d %d %d %d", &o, &ms, &fn, &a, &b, &n) != 6) return 1;
    const int* p = t.data() + o;
    spc::Span s = fn == 0 ? spc::key_span(p, a, b, n) : fn == 1 ? spc::full_key_span(p, ms, a, b, n) : spc::query_span(p, a, b, n);
    printf("%d %d\n", s.lo, s.hi);
  }
  return 0;
}
`;
  // The same helpers called from device code: compiled (not run) with nvcc, so the header works in kernels.
  const CUDA_KERNEL = String.raw`
__global__ void spans(const int* t, int* out, int ms, int i0, int i1, int n) {
  spc::Span a = spc::key_span(t, i0, i1, n), b = spc::full_key_span(t, ms, i0, i1, n), c = spc::query_span(t, i0, i1, n);
  out[0] = a.lo + b.lo + c.lo + spc::fields_per_term(ms) + spc::MOD_ON_J;
  out[1] = a.hi + b.hi + c.hi;
}
`;

  it('rendered C++, compiled by g++ (host) and run', () => {
    writeFileSync(join(dir, 'spc_table.cuh'), renderSchema('cpp'));
    writeFileSync(join(dir, 'main.cpp'), CPP_MAIN);
    execFileSync('g++', ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', '-o', 'spans', 'main.cpp'], { cwd: dir });
    const got = parsePairs(execFileSync(join(dir, 'spans'), { input: readFileSync(join(dir, 'cases.txt')), encoding: 'utf8', maxBuffer: 1 << 26 }));
    expect(mismatches(got)).toEqual([]);
  });

  it('rendered C++ under nvcc (__CUDACC__: host and device), host part run', () => {
    writeFileSync(join(dir, 'spc_table.cuh'), renderSchema('cpp'));
    // Included twice: the include guard holds.
    writeFileSync(join(dir, 'main.cu'), CPP_MAIN.replace('int main()', `#include "spc_table.cuh"\n${CUDA_KERNEL}\nint main()`));
    execFileSync('nvcc', ['-std=c++17', '-O1', '-arch=sm_80', '--Werror', 'all-warnings', '-Xcompiler', '-Wall,-Wextra', '-o', 'spans_cu', 'main.cu'], {
      cwd: dir,
    });
    const got = parsePairs(execFileSync(join(dir, 'spans_cu'), { input: readFileSync(join(dir, 'cases.txt')), encoding: 'utf8', maxBuffer: 1 << 26 }));
    expect(mismatches(got)).toEqual([]);
  }, 120_000);

  describe('rendered WGSL on a WebGPU device', () => {
    let gpu: Gpu;
    beforeAll(async () => {
      gpu = await openGpu();
    }, 60_000);
    afterAll(() => gpu?.destroy());

    it('evaluates every case', async () => {
      const device = gpu.device;
      const code = [
        renderSchema('wgsl'),
        '@group(0) @binding(0) var<storage, read> tbl: array<i32>;',
        '@group(0) @binding(1) var<storage, read> cases: array<i32>;',
        '@group(0) @binding(2) var<storage, read_write> out: array<i32>;',
        'fn spc_field(x: u32) -> i32 { return tbl[x]; }',
        '@compute @workgroup_size(64)',
        'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
        `  let k = gid.x;`,
        `  if (k >= ${cases.length}u) { return; }`,
        '  let c = k * 6u;',
        '  let o = u32(cases[c]);',
        '  let fn_ = cases[c + 2u];',
        '  var s: vec2<i32>;',
        '  if (fn_ == 0) { s = key_span(o, cases[c + 3u], cases[c + 4u], cases[c + 5u]); }',
        '  else if (fn_ == 1) { s = full_key_span(o, u32(cases[c + 1u]), cases[c + 3u], cases[c + 4u], cases[c + 5u]); }',
        '  else { s = query_span(o, cases[c + 3u], cases[c + 4u], cases[c + 5u]); }',
        '  out[2u * k] = s.x;',
        '  out[2u * k + 1u] = s.y;',
        '}',
      ].join('\n');
      const module = device.createShaderModule({ code });
      const info = await module.getCompilationInfo();
      expect(info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);
      const buffer = (data: Int32Array, usage: number) => {
        const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage, mappedAtCreation: true });
        new Int32Array(b.getMappedRange()).set(data);
        b.unmap();
        return b;
      };
      const tb = buffer(Int32Array.from(table), GPUBufferUsage.STORAGE);
      const cb = buffer(Int32Array.from(flatCases), GPUBufferUsage.STORAGE);
      const size = cases.length * 8;
      const ob = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const rb = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const bind = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [tb, cb, ob].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(Math.ceil(cases.length / 64));
      pass.end();
      enc.copyBufferToBuffer(ob, 0, rb, 0, size);
      device.queue.submit([enc.finish()]);
      await rb.mapAsync(GPUMapMode.READ);
      const xs = new Int32Array(rb.getMappedRange().slice(0));
      rb.unmap();
      const got = cases.map((_, k): [number, number] => [xs[2 * k]!, xs[2 * k + 1]!]);
      expect(mismatches(got)).toEqual([]);
      for (const b of [tb, cb, ob, rb]) b.destroy();
    }, 120_000);
  });
});
