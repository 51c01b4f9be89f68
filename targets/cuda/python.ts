// The Python package of the CUDA target. Its code is static (targets/cuda/python/*.py and
// binding.cpp, copied as they are; _schema.py is the head-table schema rendered for Python,
// kept equal to codegen/schema.ts's rendering by test/cuda-target.test.ts); what a layout adds is _layout.py (names, sizes, the kernel
// config), _table.py (the head table's formulas, codegen/host.ts) and launchers.h (the launchers'
// declarations, from the signatures that define them in source.ts).
import { readRuntimeSource } from '../../codegen/runtime-source.js';
import { pyHostTable } from '../../codegen/host.js';
import type { EmittedFile } from '../../codegen/target.js';
import { specHash, type LayoutIR } from '../../src/ir/index.js';
import { sm90Id, type CudaConfigs } from './config.js';
import { bwd90Names, bwdNames, DTYPES, FAMILIES, kernelNames, launcherHeader, sm90Key } from './source.js';

/** The package's static files, in the repository next to the kernel headers. */
export const STATIC_PY = ['__init__.py', '_op.py', '_plan.py', '_schema.py', '_tuning.py', 'binding.cpp'];
const staticFile = (f: string): string => readRuntimeSource(`targets/cuda/python/${f}`);

/** A Python literal of a JSON value (objects, arrays, strings, numbers, booleans). */
function pyLiteral(x: unknown, indent = ''): string {
  if (x === true) return 'True';
  if (x === false) return 'False';
  if (x === null) return 'None';
  if (Array.isArray(x)) return `[${x.map((y) => pyLiteral(y, indent)).join(', ')}]`;
  if (typeof x === 'object') {
    const entries = Object.entries(x as Record<string, unknown>);
    // An object of plain values fits one line; nested ones get a line per entry.
    if (entries.every(([, v]) => typeof v !== 'object' || v === null))
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(', ')}}`;
    const inner = `${indent}    `;
    return `{\n${Object.entries(x as Record<string, unknown>)
      .map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(v, inner)},`)
      .join('\n')}\n${indent}}`;
  }
  return JSON.stringify(x);
}

/** A Python list, one item a line (empty: []). */
const pyList = (xs: readonly unknown[]): string => (xs.length ? `[\n${xs.map((x) => `    ${pyLiteral(x, '    ')},\n`).join('')}]` : '[]');

/** _layout.py: what the static package code needs to know of one layout. */
export function layoutModule(layout: LayoutIR, cfgs: CudaConfigs, version: string): string {
  const cfg = cfgs.config;
  const kernels = {
    ...Object.fromEntries(FAMILIES.map((f) => [f, Object.fromEntries(DTYPES.map((d) => [d, kernelNames(layout, d, f)]))])),
    ...Object.fromEntries(
      cfgs.variants.slice(1).map((_, k) => [sm90Key(k + 1), Object.fromEntries(DTYPES.map((d) => [d, kernelNames(layout, d, 'sm90', k + 1)]))]),
    ),
    bwd: Object.fromEntries(DTYPES.map((d) => [d, bwdNames(layout, d)])),
    bwd90: Object.fromEntries(DTYPES.map((d) => [d, bwd90Names(layout, d)])),
  };
  return [
    `"""spc ${version}: layout ${layout.name} (${layout.heads} heads, ${layout.kvHeads} KV heads, head_dim ${layout.headDim}). Generated: do not edit."""`,
    `VERSION = ${JSON.stringify(version)}`,
    `LAYOUT = ${JSON.stringify(layout.name)}`,
    `HEADS = ${layout.heads}`,
    `KV_HEADS = ${layout.kvHeads}`,
    `HEAD_DIM = ${layout.headDim}`,
    `SEQ = ${layout.seq === null ? 'None' : layout.seq}`,
    `GROUP = ${layout.heads / layout.kvHeads}  # query heads per KV head`,
    '# The kernel config: the same object as "config" in the manifest (targets/cuda/config.ts).',
    `CONFIG = ${pyLiteral(cfg)}`,
    '# The --config the package was compiled with (part of CONFIG): a run-time cache choice gets it on top, as spc compile does.',
    `CONFIG_OVERRIDES = ${pyLiteral(cfgs.overrides)}`,
    '# The spec hash (spc tune records): a run-time cache record applies to this layout only with this hash.',
    `SPEC_HASH = ${JSON.stringify(specHash(layout))}`,
    '# The sm90 (wgmma) forward configs compiled into kernel.cu, by variant: 0 is CONFIG["sm90"], the',
    '# others a tuning record chose (kernels "sm90v1", ...). _tuning.py picks one per GPU and N.',
    `SM90_VARIANTS = ${pyList(cfgs.variants)}`,
    `SM90_IDS = ${pyList(cfgs.variants.map(sm90Id))}`,
    '# Their names in KERNELS and in the manifest (targets/cuda/source.ts sm90Key), by variant.',
    `SM90_KEYS = ${pyLiteral(cfgs.variants.map((_, v) => sm90Key(v)))}`,
    '# The tuning record compiled in (spc compile --tuning): the variant chosen by measured time per GPU and N.',
    `TUNED = ${pyList(cfgs.tuned)}`,
    '# The extern "C" kernels and launchers of kernel.cu.',
    `KERNELS = ${pyLiteral(kernels)}`,
    '',
  ].join('\n');
}

export function pythonPackage(layout: LayoutIR, cfgs: CudaConfigs, version: string): EmittedFile[] {
  return [
    { path: `${layout.name}/_layout.py`, contents: layoutModule(layout, cfgs, version) },
    { path: `${layout.name}/_table.py`, contents: pyHostTable(layout) },
    { path: `${layout.name}/launchers.h`, contents: launcherHeader(layout, version, cfgs.variants.length) },
    ...STATIC_PY.map((f) => ({ path: `${layout.name}/${f}`, contents: staticFile(f) })),
  ];
}
