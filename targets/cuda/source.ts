// The CUDA source of a layout: the kernel headers (kernels/spc/*.cuh, real CUDA files) followed
// by a short generated part: the layout's constants and kernel config as constexpr traits, and
// extern "C" kernels and launchers that instantiate the templates. The emitted .cu is one
// self-contained file (the headers concatenated in include order, with #line markers so that
// compiler messages name the header and line).
import { readRuntimeSource } from '../../codegen/runtime-source.js';
import { tableShape, type LayoutIR } from '../../src/ir/index.js';
import { blockM, blockMSm90, sm90Id, type CudaConfig, type Sm90Config } from './config.js';

export type Dtype = 'bf16' | 'fp16';
export type Family = 'sm80' | 'sm90';
export const DTYPES: readonly Dtype[] = ['bf16', 'fp16'];
export const FAMILIES: readonly Family[] = ['sm90', 'sm80'];
const ELEM: Record<Dtype, string> = { bf16: '__nv_bfloat16', fp16: '__half' };

/** The folder of the kernel headers, from spc's package root (read from the source tree, also from dist/). */
export const KERNEL_DIR = 'targets/cuda/kernels/';

/** The headers a layout's .cu starts with: the forward kernels' includes, each header once, dependencies first. */
export const ENTRY_HEADERS = ['spc/fwd_sm80.cuh', 'spc/fwd_sm90.cuh', 'spc/bwd_sm80.cuh', 'spc/bwd_sm90.cuh'];

function normalise(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') out.pop();
    else if (part !== '.' && part !== '') out.push(part);
  }
  return out.join('/');
}

/** The headers concatenated in include order (each once; #pragma once and local #includes dropped). */
export function amalgamate(entries: readonly string[] = ENTRY_HEADERS): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = readRuntimeSource(`${KERNEL_DIR}${path}`);
    const dir = path.split('/').slice(0, -1).join('/');
    const body: string[] = [];
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    lines.forEach((line) => {
      const inc = /^#include "([^"]+)"\s*$/.exec(line);
      if (inc) {
        visit(normalise(`${dir}/${inc[1]!}`));
        body.push(`// (${path}, continued)`);
      } else body.push(line === '#pragma once' ? '' : line);
    });
    out.push(`// ==== ${path} ====`, ...body);
  };
  entries.forEach(visit);
  return out.join('\n') + '\n';
}

/**
 * Kernel and launcher names: the mma.sync kernel (sm_80 and newer) and the wgmma one (sm_90a);
 * variant v > 0: the wgmma kernel of the package's v-th other sm90 config (chosen at run time).
 */
/** The name of sm90 forward config variant k (0: the package config) in kernel names, the manifest's kernels and _layout.py's KERNELS: "sm90", "sm90v1", ... */
export function sm90Key(variant: number): string {
  return variant === 0 ? 'sm90' : `sm90v${variant}`;
}

export function kernelNames(layout: LayoutIR, dtype: Dtype, family: Family = 'sm80', variant = 0) {
  const tag = family === 'sm90' ? `${sm90Key(variant)}_${dtype}` : dtype;
  return { kernel: `spc_${layout.name}_fwd_${tag}`, launcher: `spc_${layout.name}_launch_${tag}` };
}

/** The mma.sync backward's kernels (preprocess, dK/dV with dQ accumulation, dQ convert; the deterministic dK/dV and dq pass) and launcher (every GPU). */
export function bwdNames(layout: LayoutIR, dtype: Dtype) {
  const p = `spc_${layout.name}_bwd`;
  return {
    pre: `${p}_pre_${dtype}`,
    dkdv: `${p}_dkdv_${dtype}`,
    convert: `${p}_convert_${dtype}`,
    dkdv_det: `${p}_dkdv_det_${dtype}`,
    dq: `${p}_dq_${dtype}`,
    launcher: `${p}_launch_${dtype}`,
  };
}

/** The wgmma backward's kernels (dK/dV with dQ atomics; the deterministic dK/dV and dq pass; the preprocess and convert are the mma.sync backward's) and launcher (sm_90a). */
export function bwd90Names(layout: LayoutIR, dtype: Dtype) {
  const p = `spc_${layout.name}_bwd90`;
  return { dkdv: `${p}_dkdv_${dtype}`, dkdv_det: `${p}_dkdv_det_${dtype}`, dq: `${p}_dq_${dtype}`, launcher: `${p}_launch_${dtype}` };
}

/** The tensor maps the wgmma dK/dV kernels take after their strides (BwdSm90::launch encodes them: Q and dO in boxes of kBMq rows (bwd90.rows), K and V of 128). */
const BWD90_MAPS =
  'const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK, const __grid_constant__ CUtensorMap tmV, const __grid_constant__ CUtensorMap tmDO, const __grid_constant__ CUtensorMap tmDQ';

/** The backward launchers' C signature (the Python binding declares it once). */
export const BWD_LAUNCHER_PARAMS =
  'const void* q, const void* k, const void* v, const void* o, const void* dout, const float* lse, const float* dlse, void* dq, void* dk, void* dv, float* lse2, float* delta, float* dqacc, const int* table, const int* order, int items, const int* order_dq, int items_dq, int batch, int n, int heads, float scale, int deterministic, const int64_t* strides, cudaStream_t stream';
const BWD_LAUNCHER_ARGS =
  'q, k, v, o, dout, lse, dlse, dq, dk, dv, lse2, delta, dqacc, table, order, items, order_dq, items_dq, batch, n, heads, scale, deterministic, strides, stream';

/** The launchers' C signature, the same for every kernel (the Python binding declares it once). */
export const LAUNCHER_PARAMS =
  'const void* q, const void* k, const void* v, void* o, float* lse, const int* table, const int* order, int items, int grid, int n, int heads, float scale, const int64_t* strides, cudaStream_t stream';
const LAUNCHER_ARGS = 'q, k, v, o, lse, table, order, items, grid, n, heads, scale, strides, stream';

/** The traits struct of an sm90 forward config. */
const sm90Tiles = (name: string, s: Sm90Config): string[] => [
  `struct ${name} {`,
  `  static constexpr bool kPersistent = ${s.kernel === 'persistent'}, kOverlap = ${s.overlap}, kWgSkip = ${s.wgSkip};`,
  `  static constexpr int kWG = ${s.warpgroups}, kBN = ${s.blockN}, kStages = ${s.stages}, kQBufs = ${s.qBuffers}, kMinBlocks = ${s.minBlocks};`,
  '};',
];

/**
 * The generated part of a layout's .cu: traits from the layout and config, and the extern "C"
 * entry points. `extra`: other sm90 forward configs compiled in beside cfg.sm90 (variants 1, 2, ...:
 * a tuning record's choices, picked per GPU and N at run time), each its own traits and kernels.
 */
export function layoutSource(layout: LayoutIR, cfg: CudaConfig, version: string, extra: readonly Sm90Config[] = []): string {
  const shape = tableShape(layout);
  const ns = `spc_${layout.name}`;
  const a = cfg.sm80;
  const s = cfg.sm90;
  const lines = [
    `// ---- Generated by spc ${version} from layout ${layout.name}: ${layout.heads} heads, ${layout.kvHeads} KV heads, head_dim ${layout.headDim}. Do not edit. ----`,
    `// Inputs (B, heads, N, D) and (B, heads / ${layout.heads / layout.kvHeads}, N, D) with D contiguous and any other strides (the launchers' strides: b, h, n per tensor); out likewise; lse (B, heads, N) float32 (natural log), contiguous.`,
    `// table: int32 [heads][${shape.termSlots}][${shape.fieldsPerTerm}], the rows of head_table(N) for the heads of the call; order: int32 work items, longest first.`,
    `// Kernel config (${layout.name}.manifest.json "config"): ${JSON.stringify(cfg)}`,
    `namespace ${ns} {`,
    'struct Layout {',
    `  static constexpr int kD = ${layout.headDim}, kGroup = ${layout.heads / layout.kvHeads}, kTermSlots = ${shape.termSlots}, kModSlots = ${shape.modSlots};`,
    '};',
    `// mma.sync: block_m = ${blockM(a)}, block_n = ${a.blockN}.`,
    'struct Sm80Tiles {',
    `  static constexpr int kWarps = ${a.warps}, kMTiles = ${a.mTiles}, kBN = ${a.blockN}, kMinBlocks = ${a.minBlocks};`,
    `  static constexpr bool kSkipRescale = ${a.skipRescale};`,
    '};',
    `// wgmma (${s.kernel}): block_m = ${blockMSm90(s)}, block_n = ${s.blockN}, ${s.stages} K/V stages.`,
    ...sm90Tiles('Sm90Tiles', s),
    `// Backward (mma.sync): ${16 * cfg.bwd.warps} keys per block, ${cfg.bwd.blockM} query rows per step.`,
    'struct BwdTiles {',
    `  static constexpr int kWarps = ${cfg.bwd.warps}, kBM = ${cfg.bwd.blockM}, kMinBlocks = ${cfg.bwd.minBlocks};`,
    '};',
    // (Bwd90Tiles derives from BwdTiles: BwdSm90::launch takes the preprocess constants from BwdSm80<T, L, C>.)
    // A config without a bwd90 part (the D = 128 heuristic) instantiates BwdSm90 with BwdTiles, which
    // has no kBMq: 64 rows (bwd_sm90.cuh Bwd90Rows), and the generated part as before the part existed.
    ...(cfg.bwd90 === undefined
      ? []
      : [
          `// Backward (wgmma): 128 keys per block, ${cfg.bwd90.rows} query rows per step, dQ added by ${cfg.bwd90.dq === 'writer' ? "a producer warp's tensor reduce" : 'atomics'}.`,
          'struct Bwd90Tiles : BwdTiles {',
          `  static constexpr int kBMq = ${cfg.bwd90.rows};`,
          ...(cfg.bwd90.dq === 'writer' ? ['  static constexpr bool kDqWriter = true;'] : []),
          '};',
        ]),
    'template <class T>',
    'using Sm80 = spc::FwdSm80<T, Layout, Sm80Tiles>;',
    'template <class T>',
    'using Bwd = spc::BwdSm80<T, Layout, BwdTiles>;',
    'template <class T>',
    `using Bwd90 = spc::BwdSm90<T, Layout, ${cfg.bwd90 === undefined ? 'BwdTiles' : 'Bwd90Tiles'}>;`,
    'template <class T>',
    'using Sm90 = spc::FwdSm90<T, Layout, Sm90Tiles>;',
    ...extra.flatMap((x, k) => [
      `// Variant ${k + 1} (${sm90Id(x)}), chosen at run time by GPU and N: block_m = ${blockMSm90(x)}, block_n = ${x.blockN}.`,
      ...sm90Tiles(`Sm90TilesV${k + 1}`, x),
      'template <class T>',
      `using Sm90V${k + 1} = spc::FwdSm90<T, Layout, Sm90TilesV${k + 1}>;`,
    ]),
    `}  // namespace ${ns}`,
  ];
  for (const dt of DTYPES) {
    const e = ELEM[dt];
    const k80 = kernelNames(layout, dt, 'sm80');
    const t80 = `${ns}::Sm80<${e}>`;
    const io = `const ${e}* __restrict__ Q, const ${e}* __restrict__ K, const ${e}* __restrict__ V, ${e}* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table, const int* __restrict__ order`;
    lines.push(
      '',
      `extern "C" __global__ void __launch_bounds__(${t80}::kThreads, ${t80}::kMinBlocks)`,
      `${k80.kernel}(${io}, int n, int heads, float scale_log2, const spc::FwdStrides st) {`,
      `  ${t80}::run(Q, K, V, O, LSE, table, order, n, heads, scale_log2, st);`,
      '}',
      `extern "C" cudaError_t ${k80.launcher}(${LAUNCHER_PARAMS}) {`,
      `  return ${t80}::launch(${k80.kernel}, ${LAUNCHER_ARGS});`,
      '}',
      ...[0, ...extra.map((_, k) => k + 1)].flatMap((v) => {
        const k90 = kernelNames(layout, dt, 'sm90', v);
        const t90 = `${ns}::Sm90${v > 0 ? `V${v}` : ''}<${e}>`;
        return [
          `extern "C" __global__ void __launch_bounds__(${t90}::kThreads, ${t90}::kMinBlocks)`,
          `${k90.kernel}(${io}, int items, int n, int heads, float scale_log2, const spc::FwdStrides st, const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK, const __grid_constant__ CUtensorMap tmV) {`,
          `  ${t90}::run({Q, K, V, O, LSE, table, order, items, n, heads, scale_log2, st}, tmQ, tmK, tmV);`,
          '}',
          `extern "C" cudaError_t ${k90.launcher}(${LAUNCHER_PARAMS}) {`,
          `  return ${t90}::launch(${k90.kernel}, ${LAUNCHER_ARGS});`,
          '}',
        ];
      }),
    );
    const bn = bwdNames(layout, dt);
    const tb = `${ns}::Bwd<${e}>`;
    const rp = (x: string) => `const ${e}* __restrict__ ${x}`;
    lines.push(
      `extern "C" __global__ void __launch_bounds__(${tb}::kPreThreads)`,
      `${bn.pre}(${rp('O')}, ${rp('dO')}, const float* __restrict__ LSE, const float* __restrict__ dLSE, float* __restrict__ LSE2, float* __restrict__ Delta, float* __restrict__ dQacc, int64_t rows, int n, int heads, const spc::Strides so, const spc::Strides sdo) {`,
      `  ${tb}::preprocess(O, dO, LSE, dLSE, LSE2, Delta, dQacc, rows, n, heads, so, sdo);`,
      '}',
      ...[
        [bn.dkdv, 'true'],
        [bn.dkdv_det, 'false'],
      ].flatMap(([name, dq]) => [
        `extern "C" __global__ void __launch_bounds__(${tb}::kThreads, ${tb}::kMinBlocks)`,
        `${name}(${rp('Q')}, ${rp('K')}, ${rp('V')}, ${rp('dO')}, const float* __restrict__ LSE2, const float* __restrict__ Delta, ${e}* __restrict__ dK, ${e}* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table, const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const spc::BwdStrides st) {`,
        `  ${tb}::template dkdv<${dq}>(Q, K, V, dO, LSE2, Delta, dK, dV, dQacc, table, order, n, heads, scale, scale_log2, st);`,
        '}',
      ]),
      `extern "C" __global__ void __launch_bounds__(${tb}::kThreads, ${tb}::kMinBlocks)`,
      `${bn.dq}(${rp('Q')}, ${rp('K')}, ${rp('V')}, ${rp('dO')}, const float* __restrict__ LSE2, const float* __restrict__ Delta, ${e}* __restrict__ dQ, const int* __restrict__ table, const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const spc::BwdStrides st) {`,
      `  ${tb}::dq(Q, K, V, dO, LSE2, Delta, dQ, table, order, n, heads, scale, scale_log2, st);`,
      '}',
      `extern "C" __global__ void __launch_bounds__(${tb}::kConvThreads)`,
      `${bn.convert}(const float* __restrict__ dQacc, ${e}* __restrict__ dQ, int64_t rows, float scale, int n, int heads, const spc::Strides sdq) {`,
      `  ${tb}::convert(dQacc, dQ, rows, scale, n, heads, sdq);`,
      '}',
      `extern "C" cudaError_t ${bn.launcher}(${BWD_LAUNCHER_PARAMS}) {`,
      `  return ${tb}::launch(${bn.pre}, ${bn.dkdv}, ${bn.convert}, ${bn.dkdv_det}, ${bn.dq}, ${BWD_LAUNCHER_ARGS});`,
      '}',
    );
    const b9 = bwd90Names(layout, dt);
    const t9 = `${ns}::Bwd90<${e}>`;
    lines.push(
      ...[
        [b9.dkdv, 'true'],
        [b9.dkdv_det, 'false'],
      ].flatMap(([name, dq]) => [
        `extern "C" __global__ void __launch_bounds__(${t9}::${dq === 'true' ? 'kDkdvThreads' : 'kThreads'}, 1)`,
        `${name}(${rp('Q')}, ${rp('K')}, ${rp('V')}, ${rp('dO')}, const float* __restrict__ LSE2, const float* __restrict__ Delta, ${e}* __restrict__ dK, ${e}* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table, const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const spc::BwdStrides st, ${BWD90_MAPS}) {`,
        `  ${t9}::template dkdv<${dq}>(Q, K, V, dO, LSE2, Delta, dK, dV, dQacc, table, order, n, heads, scale, scale_log2, st, tmQ, tmK, tmV, tmDO, tmDQ);`,
        '}',
      ]),
      `extern "C" __global__ void __launch_bounds__(${t9}::kThreads, 1)`,
      `${b9.dq}(${rp('Q')}, ${rp('K')}, ${rp('V')}, ${rp('dO')}, const float* __restrict__ LSE2, const float* __restrict__ Delta, ${e}* __restrict__ dQ, const int* __restrict__ table, const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const spc::BwdStrides st) {`,
      `  ${t9}::dq(Q, K, V, dO, LSE2, Delta, dQ, table, order, n, heads, scale, scale_log2, st);`,
      '}',
      `extern "C" cudaError_t ${b9.launcher}(${BWD_LAUNCHER_PARAMS}) {`,
      `  return ${t9}::launch(${bn.pre}, ${b9.dkdv}, ${bn.convert}, ${b9.dkdv_det}, ${b9.dq}, ${BWD_LAUNCHER_ARGS});`,
      '}',
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * launchers.h of a layout's Python package: the launchers' C declarations, written from the same
 * LAUNCHER_PARAMS and BWD_LAUNCHER_PARAMS as their definitions in the .cu (so the binding cannot
 * disagree with them; test/cuda-target.test.ts compiles the two together), and the names the
 * static binding.cpp uses for them.
 */
export function launcherHeader(layout: LayoutIR, version: string, variants = 1): string {
  const lines = [
    `// spc ${version}: the C launchers of layout ${layout.name} (defined in kernel.cu). Generated: do not edit.`,
    '#ifndef SPC_LAUNCHERS_H',
    '#define SPC_LAUNCHERS_H',
    '#include <cuda_runtime_api.h>',
    '#include <stdint.h>',
    `typedef cudaError_t (*spc_fwd_launcher_t)(${LAUNCHER_PARAMS});`,
    `typedef cudaError_t (*spc_bwd_launcher_t)(${BWD_LAUNCHER_PARAMS});`,
  ];
  const pick = (bf16: string, fp16: string) => `bf16 ? ${bf16} : ${fp16}`;
  const [fb, ff] = DTYPES.map((dt) => kernelNames(layout, dt, 'sm80').launcher);
  const sm90 = Array.from({ length: variants }, (_, v) => DTYPES.map((dt) => kernelNames(layout, dt, 'sm90', v).launcher));
  const [bb, bf] = DTYPES.map((dt) => bwdNames(layout, dt).launcher);
  const [b9b, b9f] = DTYPES.map((dt) => bwd90Names(layout, dt).launcher);
  for (const name of [fb, ff, ...sm90.flat()]) lines.push(`extern "C" cudaError_t ${name}(${LAUNCHER_PARAMS});`);
  for (const name of [bb, bf, b9b, b9f]) lines.push(`extern "C" cudaError_t ${name}(${BWD_LAUNCHER_PARAMS});`);
  lines.push(
    '// The forward launcher binding.cpp calls: the wgmma (sm90) or mma.sync family, bf16 or fp16, and',
    '// for sm90 the config variant (0: the package config; others: _layout.SM90_VARIANTS); null for none.',
    'inline spc_fwd_launcher_t spc_fwd_launcher(bool sm90, bool bf16, int variant) {',
    `  if (!sm90) return variant == 0 ? (${pick(fb!, ff!)}) : nullptr;`,
    '  switch (variant) {',
    ...sm90.map(([b, f], v) => `    case ${v}: return ${pick(b!, f!)};`),
    '    default: return nullptr;',
    '  }',
    '}',
    `inline spc_bwd_launcher_t spc_bwd_launcher(bool sm90, bool bf16) { return sm90 ? (${pick(b9b!, b9f!)}) : (${pick(bb!, bf!)}); }`,
    '#endif',
  );
  return lines.join('\n') + '\n';
}

/** The whole .cu of a layout: the headers, then its generated part. */
export function cudaSource(layout: LayoutIR, cfg: CudaConfig, version: string, extra: readonly Sm90Config[] = []): string {
  return `// spc ${version}: CUDA kernels of layout ${layout.name}. The kernel headers (targets/cuda/kernels in the spc repository) come first; the generated part is at the end.\n${amalgamate()}\n${layoutSource(layout, cfg, version, extra)}`;
}
