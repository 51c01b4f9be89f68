// The gpu.js target: per layout, an ES module (plus its .d.ts) that exports
// `createAttention(gpu, options)`; once per output directory, the host runtime
// spc-gpujs-runtime.js (and its .d.ts), copied from targets/gpujs/runtime/. The module holds
// what is generated per layout: constants, the head table code from codegen/host.ts
// (jsHostTable, embedded as is) and the three kernels gpu.js compiles; it is built with ts-morph
// (structure: imports, constants, functions, the .d.ts declarations), kernel bodies written
// through ts-morph's CodeBlockWriter. The runtime does the rest (checks, kernel cache, calls).
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
import { readRuntimeSource } from '../../codegen/runtime-source.js';
import { renderInlineJs } from '../../codegen/schema.js';
import type { EmitOptions, EmittedFile, Target } from '../../codegen/target.js';
import { tableShape, type LayoutIR, type TableShape } from '../../src/ir/index.js';
import { KEY_SPAN, MOD_ON_D, MOD_ON_J, modOffset } from '../../src/ir/schema.js';

/** The runtime's file names in the output directory; layout modules import `./${RUNTIME_JS}`. */
export const RUNTIME_JS = 'spc-gpujs-runtime.js';
export const RUNTIME_DTS = 'spc-gpujs-runtime.d.ts';

/** The contract version between layout modules and runtime/spc-gpujs-runtime.js (its ABI export). */
const RUNTIME_ABI = 1;

/** The runtime files, read from the repository (targets/gpujs/runtime/) and copied unchanged. */
export function runtimeFiles(): EmittedFile[] {
  return [RUNTIME_JS, RUNTIME_DTS].map((path) => ({ path, contents: readRuntimeSource(`targets/gpujs/runtime/${path}`) }));
}

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
    const span = renderInlineJs(KEY_SPAN, { field: (f) => `tbl[tb + ${o + f}]`, args: ['i', 'i + 1', 'N'], suffix: `_s${t}` });
    w.writeLine(`// term slot ${t}: row i's keys [lo${t}, lo${t} + cnt${t}) are the schema's key_span(i, i + 1, N)`);
    for (const line of span.lines) w.writeLine(line);
    w.writeLine(`const lo${t} = ${span.lo};`);
    w.writeLine(`const cnt${t} = ${span.hi} - lo${t};`);
    for (let m = 0; m < MS; m++) {
      w.writeLine(`const on${t}_${m} = tbl[tb + ${o + modOffset(m, 'on')}];`);
      w.writeLine(`const m${t}_${m} = tbl[tb + ${o + modOffset(m, 'm')}];`);
      w.writeLine(`const mlo${t}_${m} = tbl[tb + ${o + modOffset(m, 'lo')}];`);
      w.writeLine(`const mhi${t}_${m} = tbl[tb + ${o + modOffset(m, 'hi')}];`);
    }
  }
}

/** Sets `ok` to whether key j counts for term t: its mods hold and no earlier term already has j. */
function keyFilter(w: CodeBlockWriter, c: Ctx, t: number): void {
  const MS = c.shape.modSlots;
  // The residue of on * j + (1 - on) * (i - j): j when on is MOD_ON_J, d when MOD_ON_D.
  if (MOD_ON_J !== 1 || MOD_ON_D !== 0) throw new Error('internal: the gpu.js kernels assume MOD_ON_D = 0, MOD_ON_J = 1');
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

export function emitModule(layout: LayoutIR, version: string): string {
  const shape = tableShape(layout);
  const c: Ctx = { layout, shape, group: layout.heads / layout.kvHeads };
  const sf: SourceFile = project().createSourceFile(`${layout.name}.js`, '', { overwrite: true });
  const header = [
    `// Generated by spc ${version} (--target gpujs) for layout ${layout.name}. Do not edit.`,
    `// Attention with the layout's band pattern on gpu.js: three kernels per call (row lse, key`,
    `// probabilities, output), kept on the device between stages. H = ${layout.heads}, KV = ${layout.kvHeads}, D = ${layout.headDim}`,
    `// and the pattern's term and mod slots are baked into the kernels; band boundaries come from`,
    `// headTable(N) at run time. A row with no allowed key gives out = 0 and lse = -Infinity.`,
    `// The host code is in ./${RUNTIME_JS}, which spc writes next to this file.`,
  ];
  sf.addStatements(header);
  sf.insertImportDeclaration(header.length, { moduleSpecifier: `./${RUNTIME_JS}`, namespaceImport: 'runtime' });
  sf.addStatements([jsHostTable(layout).trimEnd()]);
  const consts: [string, string][] = [
    ['LAYOUT', `'${layout.name}'`],
    ['HEADS', String(layout.heads)],
    ['KV_HEADS', String(layout.kvHeads)],
    ['HEAD_DIM', String(layout.headDim)],
  ];
  for (const [name, init] of consts) {
    sf.addVariableStatement({ isExported: true, declarationKind: VariableDeclarationKind.Const, declarations: [{ name, initializer: init }] });
  }
  const kernel = (name: string, params: string[], doc: string, body: (w: CodeBlockWriter, c: Ctx) => void) =>
    sf.addFunction({ name, docs: [doc], parameters: params.map((p) => ({ name: p })), statements: (w) => body(w, c) });
  kernel('lseKernel', ['q', 'k', 'tbl'], "Stage 1, output [N, B*H]: the row's lse by online softmax over its key ranges.", lseKernel);
  kernel('probKernel', ['q', 'k', 'tbl', 'lse'], "Stage 2, output [KMAX, N, B*H]: probability of the row's key slot, 0 for a filtered slot.", probKernel);
  kernel('outKernel', ['v', 'tbl', 'prob'], "Stage 3, output [D, N, B*H]: sum over the row's key slots of p * V[key][x].", outKernel);
  sf.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    docs: ['What the runtime needs to know: sizes, the head table and the kernels.'],
    declarations: [
      {
        name: 'KERNELS',
        initializer: (w) =>
          w
            .write('runtime.defineKernels(')
            .inlineBlock(() => {
              for (const [k, v] of [
                ['abi', String(RUNTIME_ABI)],
                ['layout', 'LAYOUT'],
                ['heads', 'HEADS'],
                ['kvHeads', 'KV_HEADS'],
                ['headDim', 'HEAD_DIM'],
                ['termSlots', 'TERM_SLOTS'],
                ['fieldsPerTerm', 'FIELDS_PER_TERM'],
              ])
                w.writeLine(`${k}: ${v},`);
              w.writeLine('headTable,');
              w.writeLine('lseKernel,');
              w.writeLine('probKernel,');
              w.writeLine('outKernel,');
            })
            .write(')'),
      },
    ],
  });
  sf.addFunction({
    name: 'maxRowKeys',
    isExported: true,
    docs: ['The most candidate key slots any row has: per head, the sum over term slots of min(kHi - kLo, dHi - dLo, N) (at least 1).'],
    parameters: [{ name: 'table' }, { name: 'N' }],
    statements: ['return runtime.maxRowKeys(KERNELS, table, N);'],
  });
  sf.addFunction({
    name: 'createAttention',
    isExported: true,
    docs: [
      [
        'Attention for this layout on a gpu.js instance. options.batch (default 1), options.scale',
        `(default 1/sqrt(${layout.headDim})). Returns async run(q, k, v) with q (B, ${layout.heads}, N, ${layout.headDim}),`,
        `k and v (B, ${layout.kvHeads}, N, ${layout.headDim}) row-major, resolving to { out (B, H, N, D), lse (B, H, N) }.`,
        'Kernels are compiled once per N and cached; run.destroy() frees them.',
      ].join('\n'),
    ],
    parameters: [{ name: 'gpu' }, { name: 'options', initializer: '{}' }],
    statements: ['return runtime.createAttention(KERNELS, gpu, options);'],
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
    sf.addFunction({
      name,
      isExported: true,
      hasDeclareKeyword: true,
      docs: doc ? [doc] : [],
      parameters: params.map(([n, t]) => ({ name: n, type: t })),
      returnType,
    });
  fn(
    'equalWidthBounds',
    [
      ['N', 'number'],
      ['H', 'number'],
    ],
    'number[]',
  );
  fn(
    'equalPairsBounds',
    [
      ['N', 'number'],
      ['H', 'number'],
    ],
    'number[]',
  );
  fn('partitionBounds', [['N', 'number']], 'number[] | null', 'Band boundaries at length N (null when the layout has no partition).');
  fn('headTable', [['N', 'number']], 'Int32Array', 'The head table at length N: [HEADS][TERM_SLOTS][FIELDS_PER_TERM].');
  fn(
    'maxRowKeys',
    [
      ['table', 'ArrayLike<number>'],
      ['N', 'number'],
    ],
    'number',
    "The most candidate key slots any row has (the prob stage's width).",
  );
  // The interfaces are the runtime's (spc-gpujs-runtime.d.ts, written next to this file).
  sf.addExportDeclaration({
    isTypeOnly: true,
    moduleSpecifier: './spc-gpujs-runtime.js',
    namedExports: ['AttentionOptions', 'AttentionResult', 'AttentionRun'],
  });
  sf.addImportDeclaration({ isTypeOnly: true, moduleSpecifier: './spc-gpujs-runtime.js', namedImports: ['AttentionOptions', 'AttentionRun'] });
  fn(
    'createAttention',
    [
      ['gpu', 'GPU'],
      ['options', 'AttentionOptions'],
    ],
    'AttentionRun',
    `Attention for this layout on a gpu.js instance: run(q, k, v) with q (B, ${layout.heads}, N, ${layout.headDim}), k and v (B, ${layout.kvHeads}, N, ${layout.headDim}) resolves to { out (B, ${layout.heads}, N, ${layout.headDim}), lse (B, ${layout.heads}, N) }; kernels are compiled once per N and cached.`,
  );
  const last = sf.getFunctionOrThrow('createAttention');
  last.getParameters()[1]!.setHasQuestionToken(true);
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true });
  return sf.getFullText();
}

export const gpujsTarget: Target = {
  name: 'gpujs',
  description: 'gpu.js kernels (cpu, webasm, webgl2, webgpu) with a JS host module and .d.ts',
  emit(layouts: LayoutIR[], options: EmitOptions): EmittedFile[] {
    const perLayout = layouts.flatMap((layout) => {
      if (!Number.isInteger(layout.heads / layout.kvHeads)) throw new Error(`internal: heads ${layout.heads} not a multiple of kv_heads ${layout.kvHeads}`);
      return [
        { path: `${layout.name}.js`, contents: emitModule(layout, options.version) },
        { path: `${layout.name}.d.ts`, contents: emitDeclarations(layout, options.version) },
      ];
    });
    return [...perLayout, ...runtimeFiles()];
  },
};
