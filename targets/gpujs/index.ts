// The gpu.js target: per layout, an ES module (plus its .d.ts) that exports
// `createAttention(gpu, options)`. The module is built with ts-morph (structure: imports,
// constants, functions, the .d.ts declarations); kernel bodies are written through ts-morph's
// CodeBlockWriter. The head table code comes from codegen/host.ts (jsHostTable), embedded as is.
//
// Kernel design (gpu.js: one output element per thread, no shared memory, no atomics):
//   1. lse   output [N, B*H]        one thread per query row: an online-softmax pass over the
//                                    row's exact key ranges gives lse = m + log(l).
//   2. prob  output [KMAX, N, B*H]  one thread per (row, candidate key slot): the probability
//                                    exp(s - lse) of the slot's key, 0 when the key is filtered
//                                    out (mods, or already counted by an earlier term).
//   3. out   output [D, N, B*H]     one thread per output element: sum over the row's slots of
//                                    p * V[key][x]; no dot product is recomputed here.
// Stages stay on the device (`pipeline: true`). A row's candidate slots are its term ranges
// laid end to end: slot c of term t is key lo_t + (c - base_t). KMAX, the most slots any row
// can have, is computed at run time from the head table (at most N).
// Cost: q.k is computed twice per allowed key (stages 1 and 2) instead of D+1 times, at the
// price of B*H*N*KMAX floats of device memory for the probabilities.
import { IndentationText, Project, QuoteKind, VariableDeclarationKind, type CodeBlockWriter, type SourceFile } from 'ts-morph';
import { jsHostTable } from '../../codegen/host.js';
import type { EmitOptions, EmittedFile, Target } from '../../codegen/target.js';
import { tableShape, type LayoutIR, type TableShape } from '../../src/ir/index.js';

/** Stand-in for -Infinity inside kernels (WGSL and GLSL have no portable infinity literal). */
export const NO_KEY_LSE = -3e38;

function project(): Project {
  return new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Single },
  });
}

interface Ctx {
  layout: LayoutIR;
  shape: TableShape;
  group: number;
}

/** Row prologue shared by all kernels: b, h, kv head, and each term's key range [lo_t, lo_t + cnt_t). */
function prologue(w: CodeBlockWriter, c: Ctx, iExpr: string, zExpr: string): void {
  const { heads: H, kvHeads: KV, headDim: D } = c.layout;
  const { termSlots: TS, modSlots: MS, fieldsPerTerm: F } = c.shape;
  w.writeLine('const N = this.constants.N;');
  w.writeLine(`const i = ${iExpr};`);
  w.writeLine(`const z = ${zExpr};`);
  w.writeLine('// z = b * H + h; floor((a + 0.5) / m) is exact for integers in float arithmetic.');
  w.writeLine(`const b = Math.floor((z + 0.5) / ${H});`);
  w.writeLine(`const h = z - b * ${H};`);
  w.writeLine(`const kvh = Math.floor((h + 0.5) / ${c.group});`);
  w.writeLine(`const kb = (b * ${KV} + kvh) * N * ${D};`);
  w.writeLine(`const tb = h * ${TS * F};`);
  for (let t = 0; t < TS; t++) {
    const o = t * F;
    w.writeLine(`// term slot ${t}: keys j in [max(kLo, i - dHi + 1, 0), min(kHi, i - dLo + 1, N)) when qLo <= i < qHi`);
    w.writeLine(`let lo${t} = Math.max(tbl[tb + ${o + 2}], Math.max(i - tbl[tb + ${o + 1}] + 1, 0));`);
    w.writeLine(`let cnt${t} = Math.min(tbl[tb + ${o + 3}], Math.min(i - tbl[tb + ${o}] + 1, N)) - lo${t};`);
    w.write(`if (i < tbl[tb + ${o + 4}] || i >= tbl[tb + ${o + 5}] || cnt${t} < 0)`).block(() => w.writeLine(`cnt${t} = 0;`));
    for (let m = 0; m < MS; m++) {
      const mo = o + 6 + 4 * m;
      w.writeLine(`const on${t}_${m} = tbl[tb + ${mo}];`);
      w.writeLine(`const m${t}_${m} = tbl[tb + ${mo + 1}];`);
      w.writeLine(`const mlo${t}_${m} = tbl[tb + ${mo + 2}];`);
      w.writeLine(`const mhi${t}_${m} = tbl[tb + ${mo + 3}];`);
    }
  }
}

/** Sets `ok` to whether key j counts for term t: its mods hold and no earlier term already has j. */
function keyFilter(w: CodeBlockWriter, c: Ctx, t: number): void {
  const MS = c.shape.modSlots;
  w.writeLine('let ok = 1;');
  const mods = (u: number, tag: string) => {
    for (let m = 0; m < MS; m++) {
      const x = `x${tag}_${m}`;
      const r = `r${tag}_${m}`;
      w.writeLine(`const ${x} = on${u}_${m} * j + (1 - on${u}_${m}) * (i - j);`);
      w.writeLine(`const ${r} = ${x} - m${u}_${m} * Math.floor((${x} + 0.5) / m${u}_${m});`);
      w.write(`if (${r} < mlo${u}_${m} || ${r} >= mhi${u}_${m})`).block(() => w.writeLine('ok = 0;'));
    }
  };
  mods(t, `${t}`);
  for (let u = 0; u < t; u++) {
    w.writeLine(`// counted by term slot ${u} already?`);
    w.write(`if (ok > 0 && j >= lo${u} && j < lo${u} + cnt${u})`).block(() => {
      w.writeLine('let dup = 1;');
      for (let m = 0; m < MS; m++) {
        const x = `y${u}_${m}`;
        const r = `s${u}_${m}`;
        w.writeLine(`const ${x} = on${u}_${m} * j + (1 - on${u}_${m}) * (i - j);`);
        w.writeLine(`const ${r} = ${x} - m${u}_${m} * Math.floor((${x} + 0.5) / m${u}_${m});`);
        w.write(`if (${r} < mlo${u}_${m} || ${r} >= mhi${u}_${m})`).block(() => w.writeLine('dup = 0;'));
      }
      w.write('if (dup > 0)').block(() => w.writeLine('ok = 0;'));
    });
  }
}

/**
 * s = scale * q.k, unrolled (the same summation order as a loop): Mesa's software drivers, which
 * run gpu.js's webgpu mode in Node (Dawn on llvmpipe), end every loop of a shader once it has
 * run 65535 iterations in all (see targets/wgsl/plan.ts, MESA_LOOP_LIMIT), and a loop over D per
 * key made lseKernel stop after about 65535 / (D + 2) keys of a row, with no error.
 */
function dot(w: CodeBlockWriter, c: Ctx): void {
  const D = c.layout.headDim;
  w.writeLine(`const kr = kb + j * ${D};`);
  w.writeLine('let s = q[qb] * k[kr];');
  for (let x = 1; x < D; x++) w.writeLine(`s += q[qb + ${x}] * k[kr + ${x}];`);
  w.writeLine('s = s * this.constants.scale;');
}

function lseKernel(w: CodeBlockWriter, c: Ctx): void {
  prologue(w, c, 'this.thread.x', 'this.thread.y');
  w.writeLine(`const qb = (z * N + i) * ${c.layout.headDim};`);
  w.writeLine('let mx = -1e30;');
  w.writeLine('let l = 0;');
  for (let t = 0; t < c.shape.termSlots; t++) {
    w.write('for (let n = 0; n < N; n++)').block(() => {
      w.write(`if (n >= cnt${t})`).block(() => w.writeLine('break;'));
      w.writeLine(`const j = lo${t} + n;`);
      keyFilter(w, c, t);
      w.write('if (ok > 0)').block(() => {
        dot(w, c);
        w.write('if (s > mx)').block(() => {
          w.writeLine('l = l * Math.exp(mx - s) + 1;');
          w.writeLine('mx = s;');
        });
        w.write('else').block(() => w.writeLine('l = l + Math.exp(s - mx);'));
      });
    });
  }
  w.writeLine(`let res = ${NO_KEY_LSE};`);
  w.write('if (l > 0)').block(() => w.writeLine('res = mx + Math.log(l);'));
  w.writeLine('return res;');
}

function probKernel(w: CodeBlockWriter, c: Ctx): void {
  prologue(w, c, 'this.thread.y', 'this.thread.z');
  w.writeLine(`const qb = (z * N + i) * ${c.layout.headDim};`);
  w.writeLine('const col = this.thread.x;');
  w.writeLine('const L = lse[z][i];');
  w.writeLine('let p = 0;');
  w.writeLine('let base = 0;');
  for (let t = 0; t < c.shape.termSlots; t++) {
    w.write(`if (L > -1e38 && col >= base && col < base + cnt${t})`).block(() => {
      w.writeLine(`const j = lo${t} + col - base;`);
      keyFilter(w, c, t);
      w.write('if (ok > 0)').block(() => {
        dot(w, c);
        w.writeLine('p = Math.exp(s - L);');
      });
    });
    w.writeLine(`base = base + cnt${t};`);
  }
  w.writeLine('return p;');
}

function outKernel(w: CodeBlockWriter, c: Ctx): void {
  const D = c.layout.headDim;
  prologue(w, c, 'this.thread.y', 'this.thread.z');
  w.writeLine('const x = this.thread.x;');
  w.writeLine('let o = 0;');
  w.writeLine('let base = 0;');
  for (let t = 0; t < c.shape.termSlots; t++) {
    w.write('for (let n = 0; n < N; n++)').block(() => {
      w.write(`if (n >= cnt${t})`).block(() => w.writeLine('break;'));
      w.writeLine('const p = prob[z][i][base + n];');
      w.write('if (p > 0)').block(() => w.writeLine(`o = o + p * v[kb + (lo${t} + n) * ${D} + x];`));
    });
    w.writeLine(`base = base + cnt${t};`);
  }
  w.writeLine('return o;');
}

function writeRuntime(w: CodeBlockWriter, c: Ctx): void {
  const { heads: H, kvHeads: KV, headDim: D } = c.layout;
  const { termSlots: TS, fieldsPerTerm: F } = c.shape;
  w.writeLine('const batch = options.batch ?? 1;');
  w.writeLine(`const scale = options.scale ?? ${1 / Math.sqrt(D)};`);
  w.write("if (!Number.isInteger(batch) || batch < 1)").block(() => w.writeLine("throw new RangeError(`spc: batch must be a positive integer, got ${batch}`);"));
  w.writeLine('const settings = { precision: \'single\', tactic: \'precision\' };');
  w.writeLine('const cache = new Map();');
  w.write('function kernelsFor(N)').block(() => {
    w.writeLine('let e = cache.get(N);');
    w.write('if (e === undefined)').block(() => {
      w.writeLine('const table = headTable(N);');
      w.writeLine('const kmax = maxRowKeys(table, N);');
      w.writeLine('const constants = { N, scale };');
      w.writeLine('const loopMaxIterations = N + 1;');
      w.writeLine(`const rows = batch * ${H};`);
      w.writeLine('e = {');
      w.writeLine('  kmax,');
      w.writeLine('  table: Float32Array.from(table),');
      w.writeLine('  lse: gpu.createKernel(lseKernel, { ...settings, constants, loopMaxIterations, output: [N, rows], pipeline: true, immutable: true }),');
      w.writeLine('  prob: gpu.createKernel(probKernel, { ...settings, constants, loopMaxIterations, output: [kmax, N, rows], pipeline: true, immutable: true }),');
      w.writeLine('  out: gpu.createKernel(outKernel, { ...settings, constants, loopMaxIterations, output: [' + D + ', N, rows], pipeline: false }),');
      w.writeLine('};');
      w.writeLine('cache.set(N, e);');
    });
    w.writeLine('return e;');
  });
  w.write('async function run(q, k, v)').block(() => {
    w.writeLine(`const N = q.length / (batch * ${H * D});`);
    w.write('if (!Number.isInteger(N) || N < 1)').block(() =>
      w.writeLine(`throw new RangeError(\`spc: q has \${q.length} elements, not batch * ${H} * N * ${D} for a whole N >= 1\`);`),
    );
    w.write(`if (k.length !== batch * ${KV} * N * ${D} || v.length !== batch * ${KV} * N * ${D})`).block(() =>
      w.writeLine(`throw new RangeError(\`spc: k and v must have batch * ${KV} * N * ${D} = \${batch * ${KV * D} * N} elements\`);`),
    );
    w.writeLine('const e = kernelsFor(N);');
    w.writeLine('// gpu.js does index arithmetic in f32: exact below 2^24 elements per array.');
    w.write(`if (q.length > 16777216 || k.length > 16777216 || batch * ${H} * N * e.kmax > 16777216)`).block(() =>
      w.writeLine(`throw new RangeError(\`spc: arrays of more than 2^24 elements (q \${q.length}, k \${k.length}, probabilities \${batch * ${H} * N * e.kmax}) are beyond exact f32 indexing in gpu.js; split the batch\`);`),
    );
    w.writeLine('const qf = f32(q), kf = f32(k), vf = f32(v);');
    w.writeLine('const lseT = await e.lse(qf, kf, e.table);');
    w.writeLine('const probT = await e.prob(qf, kf, e.table, lseT);');
    w.writeLine('const outA = await e.out(vf, e.table, probT);');
    w.writeLine('const lseA = typeof lseT.toArray === \'function\' ? await lseT.toArray() : lseT;');
    w.writeLine(`const out = flatten(outA, batch * ${H} * N * ${D});`);
    w.writeLine(`const lse = flatten(lseA, batch * ${H} * N);`);
    w.writeLine(`for (let r = 0; r < lse.length; r++) if (lse[r] < -1e38) lse[r] = -Infinity;`);
    w.writeLine('for (const t of [lseT, probT]) if (t && typeof t.delete === \'function\') t.delete();');
    w.writeLine('return { out, lse };');
  });
  w.writeLine('run.destroy = () => {');
  w.writeLine('  for (const e of cache.values()) for (const kk of [e.lse, e.prob, e.out]) kk.destroy();');
  w.writeLine('  cache.clear();');
  w.writeLine('};');
  w.writeLine('return run;');
  void TS;
  void F;
}

export function emitModule(layout: LayoutIR, version: string): string {
  const shape = tableShape(layout);
  const c: Ctx = { layout, shape, group: layout.heads / layout.kvHeads };
  const { termSlots: TS, fieldsPerTerm: F } = shape;
  const sf: SourceFile = project().createSourceFile(`${layout.name}.js`, '', { overwrite: true });
  sf.addStatements([
    `// Generated by spc ${version} (--target gpujs) for layout ${layout.name}. Do not edit.`,
    `// Attention with the layout's band pattern on gpu.js: three kernels per call (row lse, key`,
    `// probabilities, output), kept on the device between stages. H = ${layout.heads}, KV = ${layout.kvHeads}, D = ${layout.headDim}`,
    `// and the pattern's term and mod slots are baked into the kernels; band boundaries come from`,
    `// headTable(N) at run time. A row with no allowed key gives out = 0 and lse = -Infinity.`,
    jsHostTable(layout).trimEnd(),
  ]);
  const consts: [string, string][] = [
    ['LAYOUT', `'${layout.name}'`],
    ['HEADS', String(layout.heads)],
    ['KV_HEADS', String(layout.kvHeads)],
    ['HEAD_DIM', String(layout.headDim)],
  ];
  for (const [name, init] of consts) {
    sf.addVariableStatement({ isExported: true, declarationKind: VariableDeclarationKind.Const, declarations: [{ name, initializer: init }] });
  }
  sf.addFunction({
    name: 'maxRowKeys',
    isExported: true,
    docs: ['The most candidate key slots any row has: per head, the sum over term slots of min(kHi - kLo, dHi - dLo, N) (at least 1).'],
    parameters: [{ name: 'table' }, { name: 'N' }],
    statements: (w) => {
      w.writeLine('let best = 1;');
      w.write(`for (let h = 0; h < ${layout.heads}; h++)`).block(() => {
        w.writeLine('let sum = 0;');
        w.write(`for (let t = 0; t < ${TS}; t++)`).block(() => {
          w.writeLine(`const o = (h * ${TS} + t) * ${F};`);
          w.write('if (table[o + 4] < table[o + 5])').block(() =>
            w.writeLine('sum += Math.max(0, Math.min(table[o + 3] - table[o + 2], table[o + 1] - table[o], N));'),
          );
        });
        w.writeLine('best = Math.max(best, sum);');
      });
      w.writeLine('return best;');
    },
  });
  const kernel = (name: string, params: string[], doc: string, body: (w: CodeBlockWriter, c: Ctx) => void) =>
    sf.addFunction({ name, docs: [doc], parameters: params.map((p) => ({ name: p })), statements: (w) => body(w, c) });
  kernel('lseKernel', ['q', 'k', 'tbl'], 'Stage 1, output [N, B*H]: the row\'s lse by online softmax over its key ranges.', lseKernel);
  kernel('probKernel', ['q', 'k', 'tbl', 'lse'], 'Stage 2, output [KMAX, N, B*H]: probability of the row\'s key slot, 0 for a filtered slot.', probKernel);
  kernel('outKernel', ['v', 'tbl', 'prob'], 'Stage 3, output [D, N, B*H]: sum over the row\'s key slots of p * V[key][x].', outKernel);
  sf.addFunction({
    name: 'f32',
    parameters: [{ name: 'a' }],
    statements: ['return a instanceof Float32Array ? a : Float32Array.from(a);'],
  });
  sf.addFunction({
    name: 'flatten',
    docs: ['Nested gpu.js results (arrays of Float32Array rows) to one row-major Float32Array.'],
    parameters: [{ name: 'a' }, { name: 'size' }],
    statements: (w) => {
      w.writeLine('const out = new Float32Array(size).fill(NaN); // poisoned: an element gpu.js did not return stays NaN');
      w.writeLine('let n = 0;');
      w.write('const walk = (x) =>').block(() => {
        w.write('if (typeof x === \'number\')').block(() => w.writeLine('out[n++] = x;'));
        w.write('else if (ArrayBuffer.isView(x))').block(() => {
          w.writeLine('out.set(x, n);');
          w.writeLine('n += x.length;');
        });
        w.write('else').block(() => w.writeLine('for (const y of x) walk(y);'));
      });
      w.writeLine('walk(a);');
      w.write('if (n !== size)').block(() => w.writeLine('throw new Error(`spc: internal: gpu.js returned ${n} values, expected ${size}`);'));
      w.writeLine('return out;');
    },
  });
  sf.addFunction({
    name: 'createAttention',
    isExported: true,
    docs: [
      'Attention for this layout on a gpu.js instance. options.batch (default 1), options.scale',
      `(default 1/sqrt(${layout.headDim})). Returns async run(q, k, v) with q (B, ${layout.heads}, N, ${layout.headDim}),`,
      `k and v (B, ${layout.kvHeads}, N, ${layout.headDim}) row-major, resolving to { out (B, H, N, D), lse (B, H, N) }.`,
      'Kernels are compiled once per N and cached; run.destroy() frees them.',
    ],
    parameters: [{ name: 'gpu' }, { name: 'options', initializer: '{}' }],
    statements: (w) => writeRuntime(w, c),
  });
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true });
  return sf.getFullText();
}

export function emitDeclarations(layout: LayoutIR, version: string): string {
  const sf = project().createSourceFile(`${layout.name}.d.ts`, '', { overwrite: true });
  sf.addImportDeclaration({ isTypeOnly: true, moduleSpecifier: 'gpu.js', namedImports: ['GPU'] });
  sf.insertStatements(0, `// Generated by spc ${version} (--target gpujs) for layout ${layout.name}. Do not edit.`);
  for (const [name, type] of [
    ['TERM_SLOTS', 'number'],
    ['MOD_SLOTS', 'number'],
    ['FIELDS_PER_TERM', 'number'],
    ['LAYOUT', `'${layout.name}'`],
    ['HEADS', String(layout.heads)],
    ['KV_HEADS', String(layout.kvHeads)],
    ['HEAD_DIM', String(layout.headDim)],
  ] as const) {
    sf.addVariableStatement({ isExported: true, hasDeclareKeyword: true, declarationKind: VariableDeclarationKind.Const, declarations: [{ name, type }] });
  }
  const fn = (name: string, params: [string, string][], returnType: string, doc?: string) =>
    sf.addFunction({ name, isExported: true, hasDeclareKeyword: true, docs: doc ? [doc] : [], parameters: params.map(([n, t]) => ({ name: n, type: t })), returnType });
  fn('equalWidthBounds', [['N', 'number'], ['H', 'number']], 'number[]');
  fn('equalPairsBounds', [['N', 'number'], ['H', 'number']], 'number[]');
  fn('partitionBounds', [['N', 'number']], 'number[] | null', 'Band boundaries at length N (null when the layout has no partition).');
  fn('headTable', [['N', 'number']], 'Int32Array', 'The head table at length N: [HEADS][TERM_SLOTS][FIELDS_PER_TERM].');
  fn('maxRowKeys', [['table', 'ArrayLike<number>'], ['N', 'number']], 'number', 'The most candidate key slots any row has (the prob stage\'s width).');
  sf.addInterface({
    name: 'AttentionOptions',
    isExported: true,
    properties: [
      { name: 'batch', hasQuestionToken: true, type: 'number', docs: ['Batch size B (default 1).'] },
      { name: 'scale', hasQuestionToken: true, type: 'number', docs: [`Softmax scale (default 1/sqrt(${layout.headDim})).`] },
    ],
  });
  sf.addInterface({
    name: 'AttentionResult',
    isExported: true,
    properties: [
      { name: 'out', type: 'Float32Array', docs: [`(B, ${layout.heads}, N, ${layout.headDim}) row-major; 0 for a row with no allowed key.`] },
      { name: 'lse', type: 'Float32Array', docs: [`(B, ${layout.heads}, N): natural-log sum of exp(scaled scores); -Infinity for a row with no allowed key.`] },
    ],
  });
  sf.addInterface({
    name: 'AttentionRun',
    isExported: true,
    callSignatures: [{ parameters: [{ name: 'q', type: 'ArrayLike<number>' }, { name: 'k', type: 'ArrayLike<number>' }, { name: 'v', type: 'ArrayLike<number>' }], returnType: 'Promise<AttentionResult>' }],
    methods: [{ name: 'destroy', returnType: 'void', docs: ['Destroys the cached kernels.'] }],
  });
  fn('createAttention', [['gpu', 'GPU'], ['options', 'AttentionOptions']], 'AttentionRun', 'Attention for this layout on a gpu.js instance; kernels are compiled once per N and cached.');
  const last = sf.getFunctionOrThrow('createAttention');
  last.getParameters()[1]!.setHasQuestionToken(true);
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true });
  return sf.getFullText();
}

export const gpujsTarget: Target = {
  name: 'gpujs',
  description: 'gpu.js kernels (cpu, webasm, webgl2, webgpu) with a JS host module and .d.ts',
  emit(layouts: LayoutIR[], options: EmitOptions): EmittedFile[] {
    return layouts.flatMap((layout) => {
      if (!Number.isInteger(layout.heads / layout.kvHeads)) throw new Error(`internal: heads ${layout.heads} not a multiple of kv_heads ${layout.kvHeads}`);
      return [
        { path: `${layout.name}.js`, contents: emitModule(layout, options.version) },
        { path: `${layout.name}.d.ts`, contents: emitDeclarations(layout, options.version) },
      ];
    });
  },
};
