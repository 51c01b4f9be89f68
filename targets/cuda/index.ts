// The CUDA target: per layout, <name>.cu (the kernel headers of kernels/spc and the layout's
// generated part: extern "C" kernels for bf16 and fp16 and plain C launchers), a Python package
// <name>/ (a PyTorch op built with load_inline) and <name>.manifest.json (the kernel config,
// launch, tiles, per-head work).
import type { EmittedFile, EmitOptions, Target } from '../../codegen/target.js';
import { instantiate, layoutStats, specHash, tableShape, type LayoutIR } from '../../src/ir/index.js';
import { blockM, blockMSm90, configsFor, sm90Id, threadsSm80, threadsSm90, type CudaConfigs } from './config.js';
import { pythonPackage } from './python.js';
import { BWD_LAUNCHER_PARAMS, bwd90Names, bwdNames, cudaSource, DTYPES, FAMILIES, kernelNames, LAUNCHER_PARAMS, sm90Key } from './source.js';

export {
  blockM,
  blockMSm90,
  configFor,
  configsFor,
  defaultConfig,
  mergeConfig,
  single,
  sm90Id,
  SUPPORTED_HEAD_DIMS,
  type BwdConfig,
  type CudaConfigs,
  type CudaConfig,
  type Sm80Config,
  type Sm90Config,
} from './config.js';
export { kernelNames } from './source.js';

function manifest(layout: LayoutIR, cfgs: CudaConfigs, options: EmitOptions): string {
  const cfg = cfgs.config;
  const n = layout.seq ?? options.seq;
  const shape = tableShape(layout);
  const names = (f: (typeof FAMILIES)[number]) => Object.fromEntries(DTYPES.map((d) => [d, kernelNames(layout, d, f)]));
  const persistent = cfg.sm90.kernel === 'persistent';
  const doc: Record<string, unknown> = {
    spc: options.version,
    layout: layout.name,
    heads: layout.heads,
    kv_heads: layout.kvHeads,
    head_dim: layout.headDim,
    dtypes: DTYPES,
    config: cfg,
    // Two kernel families: wgmma for sm_90a (the H100 path) and mma.sync for sm_80 and newer.
    kernels: {
      sm90: { ...names('sm90'), block_m: blockMSm90(cfg.sm90), block_n: cfg.sm90.blockN, threads: threadsSm90(cfg.sm90) },
      // The other sm90 configs compiled in (a tuning record's choices; runtime_configs), one entry each.
      ...Object.fromEntries(
        cfgs.variants.slice(1).map((s, k) => [
          sm90Key(k + 1),
          {
            ...Object.fromEntries(DTYPES.map((d) => [d, kernelNames(layout, d, 'sm90', k + 1)])),
            block_m: blockMSm90(s),
            block_n: s.blockN,
            threads: threadsSm90(s),
          },
        ]),
      ),
      sm80: { ...names('sm80'), block_m: blockM(cfg.sm80), block_n: cfg.sm80.blockN, threads: threadsSm80(cfg.sm80) },
      // The backward (mma.sync, every GPU): preprocess, dK/dV per (KV head, key tile) with dQ accumulated in fp32, convert.
      bwd: {
        ...Object.fromEntries(DTYPES.map((d) => [d, bwdNames(layout, d)])),
        block_m: cfg.bwd.blockM,
        block_n: 16 * cfg.bwd.warps,
        threads: 32 * cfg.bwd.warps,
      },
      // The wgmma backward (sm_90a): dK/dV per (KV head, 128 keys) over query tiles of bwd90.rows (64 or 128), adding dQ (dkdv: by atomics, or with bwd90.dq = writer by a producer warp's tensor reduce) or not (dkdv_det, then the dq pass per 128 query rows: deterministic mode); the preprocess and convert are bwd's.
      // threads: the default mode's dK/dV kernel (384 with the producer warpgroup); dkdv_det and the dq pass have dq_threads (256).
      bwd90: {
        ...Object.fromEntries(DTYPES.map((d) => [d, bwd90Names(layout, d)])),
        block_n: 128,
        block_m: cfg.bwd90?.rows ?? 64,
        dq_block_m: 128,
        dq_block_n: layout.headDim >= 128 ? 64 : 128,
        threads: cfg.bwd90?.dq === 'writer' ? 384 : 256,
        dq_threads: 256,
        dq_add: cfg.bwd90?.dq ?? 'atomic',
      },
    },
    launch: {
      // items = B * heads * ceil(N / block_m) work items.
      grid: persistent
        ? 'sm90: grid persistent blocks (one per SM, at most items), order = the items grouped by block (longest first, each to the least loaded block) then grid + 1 offsets; sm80: one block per item, order = the items longest first'
        : 'one block per item, order = the items longest first (grid unused)',
      persistent_sm90: persistent,
      shared_memory: 'dynamic, set by the launcher',
      // The C launchers' signature (the same for every kernel); heads is the number of heads of the call.
      launcher: `cudaError_t (${LAUNCHER_PARAMS})`,
      // The backward launcher: items = B * kv_heads * ceil(N / block_n) key tiles, order = longest first; lse2, delta (B * heads * N) and dqacc (B * heads * N * D) float32 scratch.
      bwd_launcher: `cudaError_t (${BWD_LAUNCHER_PARAMS})`,
      abi: 4,
    },
    table: { term_slots: shape.termSlots, mod_slots: shape.modSlots, fields_per_term: shape.fieldsPerTerm },
    seq: layout.seq,
    // Which sm90 forward config a call uses (_tuning.py): the record's choice for the GPU and the
    // nearest length at or above N, or a run-time cache record's (SPC_TUNING_CACHE), else variant 0.
    runtime_configs: {
      spec_hash: specHash(layout),
      variants: cfgs.variants.map((s, v) => ({ variant: v, kernels: sm90Key(v), id: sm90Id(s), sm90: s })),
      tuned: cfgs.tuned,
    },
  };
  if (n !== undefined) {
    // Per-head work in the sm90 kernel's tiles.
    const st = layoutStats(instantiate(layout, n), blockMSm90(cfg.sm90), cfg.sm90.blockN);
    doc.stats = {
      n,
      block_m: st.blockM,
      block_n: st.blockN,
      total_pairs: st.totalPairs,
      imbalance: st.imbalance,
      tile_imbalance: st.tileImbalance,
      heads: st.heads,
    };
  }
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * The CUDA target; `configOf` picks each layout's kernel configs (default: the heuristic under
 * `--config`, plus each sm90 config a tuning record chose per GPU and N, under `--config` too).
 */
export function makeCudaTarget(
  configOf: (layout: LayoutIR, options: EmitOptions) => CudaConfigs = (l, o) => configsFor(l, o.config, o.tuned?.[l.name]),
): Target {
  return {
    name: 'cuda',
    description: 'CUDA C++ kernels (sm_80+, tuned for H100) with a PyTorch op',
    acceptsConfig: true,
    emit(layouts: LayoutIR[], options: EmitOptions): EmittedFile[] {
      return layouts.flatMap((layout) => {
        const cfgs = configOf(layout, options);
        const cu = cudaSource(layout, cfgs.config, options.version, cfgs.variants.slice(1));
        return [
          { path: `${layout.name}.cu`, contents: cu },
          { path: `${layout.name}.manifest.json`, contents: manifest(layout, cfgs, options) },
          { path: `${layout.name}/kernel.cu`, contents: cu },
          ...pythonPackage(layout, cfgs, options.version),
        ];
      });
    },
  };
}

export const cudaTarget: Target = makeCudaTarget();
