// The CUDA target: per layout, <name>.cu (extern "C" kernels for bf16 and fp16 and plain C
// launchers), a Python package <name>/ (a PyTorch op built with load_inline) and
// <name>.manifest.json (launch configuration, tiles, per-head work).
import { pyHostTable } from '../../codegen/host.js';
import { TargetError, type EmittedFile, type EmitOptions, type Target } from '../../codegen/target.js';
import { instantiate, layoutStats, tableShape, type LayoutIR } from '../../src/ir/index.js';
import { planModule, pythonPackage } from './python.js';
import { KERNEL_TEMPLATE } from './template.js';
import { KERNEL_TEMPLATE_SM90, wgmmaWrappers } from './template_sm90.js';

export interface CudaConfig {
  /** Warps per block; each owns 16 * mTiles query rows, so BLOCK_M = 16 * mTiles * warps. */
  warps: number;
  /** 16-row MMA tiles per warp (1 or 2): two share every K/V fragment load. */
  mTiles: number;
  /** Keys per tile (BLOCK_N). */
  blockN: number;
  /** Blocks per SM the register allocation must allow (__launch_bounds__); 1 leaves it to the compiler. */
  minBlocks: number;
  /** Skip rescaling O when no row's running maximum changed (fewer multiplies, more registers). */
  skipRescale: boolean;
  /** The Hopper (sm_90a, wgmma) kernel's tiles. */
  sm90: Sm90Config;
}

/** The Hopper kernel: warpgroups of 64 query rows per block, keys per tile, blocks per SM. */
export interface Sm90Config {
  warpgroups: number;
  blockN: number;
  /** K/V tiles in flight (shared-memory ring of this many buffers, at least 2; 3 with overlap). */
  stages: number;
  /** Overlap each tile's softmax with the tensor cores (FlashAttention-3's intra-warpgroup pipelining). */
  overlap?: boolean;
  /** Warp specialisation: one more warpgroup streams K/V with TMA and mbarriers (implies overlap). */
  ws?: boolean;
  /** Warp-specialised: Q tiles in flight, 1 or 2 (2: the next work item's Q loads during this one). */
  qBuffers?: 1 | 2;
  /** Warp-specialised: a warpgroup passes over key tiles with no allowed pair for its 64 rows (more registers). */
  wgSkip?: boolean;
  minBlocks: number;
}

export const SUPPORTED_HEAD_DIMS = [64, 128];

/**
 * Tile configuration for a layout, chosen from H100 measurements (bench/results/cuda-*.md).
 * mma.sync kernel (sm_80 and newer): D = 128: 64 x 32 tiles, 3 blocks per SM (168 registers, no
 * spills); D = 64: 64 x 64 tiles with the rescale skip. wgmma kernel (sm_90a): the persistent
 * warp-specialised kernel (a TMA producer warpgroup, two consumer warpgroups in ping-pong, one
 * block per SM), 128 x 128 tiles; 3 stages for D = 128, 4 for D = 64
 * (bench/results/cuda-2026-11-23-persistent.md). Against the same tiles without warp
 * specialisation, D = 128 balanced at N = 16384: 0.230 against 0.298 ms. For D = 64 the block-wise
 * 128 x 64 kernel at two blocks per SM stays faster on balanced bands (0.164 against 0.183 ms at
 * 16k) but loses to FlexAttention on the paper and released patterns; one kernel for all patterns,
 * except D = 64 layouts with larger tables (see smallTable): 128 x 64 block-wise, 1 block per SM.
 */
export function cudaConfig(layout: LayoutIR): CudaConfig {
  return layout.headDim === 128
    ? { warps: 4, mTiles: 1, blockN: 32, minBlocks: 3, skipRescale: false, sm90: { warpgroups: 2, blockN: 128, stages: 3, minBlocks: 1, ws: true } }
    : {
        warps: 4, mTiles: 1, blockN: 64, minBlocks: 1, skipRescale: true,
        sm90: smallTable(layout) ? { warpgroups: 2, blockN: 128, stages: 4, minBlocks: 1, ws: true } : { warpgroups: 2, blockN: 64, stages: 2, minBlocks: 1 },
      };
}

/**
 * At most two terms per head and no mods. The warp-specialised kernel is compiled for 384
 * threads (168 registers a thread); with D = 64 and more masking state (band_mix: 3 terms and a
 * mod; mixed_gqa: 3 terms) it spills 12 to 40 bytes, so those layouts keep the block-wise kernel.
 */
function smallTable(layout: LayoutIR): boolean {
  const shape = tableShape(layout);
  return shape.termSlots <= 2 && shape.modSlots === 0;
}

export const blockM = (cfg: CudaConfig): number => 16 * cfg.mTiles * cfg.warps;
export const blockMSm90 = (cfg: Sm90Config): number => 64 * cfg.warpgroups;

const ELEMS = {
  bf16: { elem: '__nv_bfloat16', pair: '__nv_bfloat162', pack: '__floats2bfloat162_rn', mma: 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32', wgmma: 'bf16' },
  fp16: { elem: '__half', pair: '__half2', pack: '__floats2half2_rn', mma: 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32', wgmma: 'f16' },
} as const;

/** Kernel and launcher names: the mma.sync kernel (sm_80 and newer) and the wgmma one (sm_90a). */
export function kernelNames(layout: LayoutIR, dtype: 'bf16' | 'fp16', arch: 'sm80' | 'sm90' = 'sm80') {
  const tag = arch === 'sm90' ? `sm90_${dtype}` : dtype;
  return { kernel: `spc_${layout.name}_fwd_${tag}`, launcher: `spc_${layout.name}_launch_${tag}` };
}

function fill(template: string, subst: Record<string, string>): string {
  return template.replace(/\bSPC_[A-Z0-9_]+\b/g, (m) => {
    const r = subst[m];
    if (r === undefined) throw new Error(`internal: no value for ${m}`);
    return r;
  });
}

export function cudaSource(layout: LayoutIR, cfg: CudaConfig, version: string): string {
  const ws = cfg.sm90;
  if (ws.ws === true && (ws.stages < 2 || ws.minBlocks !== 1 || (ws.warpgroups !== 2 && ws.warpgroups !== 3)))
    throw new TargetError('E103', ['CUDA', layout.name, `the warp-specialised kernel needs 2 or more stages, 1 block per SM and 2 or 3 warpgroups (got ${ws.stages}, ${ws.minBlocks}, ${ws.warpgroups})`]);
  // The sm90 kernel's tiles must fit the 227 KiB of shared memory a block may have (less a
  // little for the tables and barriers, and the 1 KiB alignment slack).
  const tileBytes = 2 * layout.headDim * ((ws.ws === true ? ws.qBuffers ?? 1 : 1) * blockMSm90(ws) + 2 * ws.stages * ws.blockN);
  if (tileBytes > 227 * 1024 - 2048)
    throw new TargetError('E102', ['CUDA sm90', layout.name, tileBytes, 227 * 1024 - 2048]);
  if (!SUPPORTED_HEAD_DIMS.includes(layout.headDim)) throw new TargetError('E100', ['CUDA', SUPPORTED_HEAD_DIMS.join(' and '), layout.name, layout.headDim], layout.locs?.headDim);
  if (layout.dtype === 'fp32') throw new TargetError('E101', ['CUDA', 'bf16 or fp16 (tensor cores)', layout.name, 'fp32'], layout.locs?.dtype);
  const shape = tableShape(layout);
  const h = cfg.sm90;
  const header = [
    `// Generated by spc ${version} from layout ${layout.name}: ${layout.heads} heads, ${layout.kvHeads} KV heads, head_dim ${layout.headDim}.`,
    `// Do not edit. Kernels: ${(['bf16', 'fp16'] as const).flatMap((d) => [kernelNames(layout, d).kernel, kernelNames(layout, d, 'sm90').kernel]).join(', ')}.`,
    `// Inputs (B, heads, N, D) and (B, heads / ${layout.heads / layout.kvHeads}, N, D) contiguous; out (B, heads, N, D); lse (B, heads, N) float32 (natural log).`,
    `// table: int32 [heads][${shape.termSlots}][${shape.fieldsPerTerm}], the rows of head_table(N) for the heads of the call; order: int32 work items, longest first.`,
    `// mma.sync kernels (sm_80+): BLOCK_M = ${blockM(cfg)} (${cfg.warps} warps), BLOCK_N = ${cfg.blockN}.`,
    `// wgmma kernels (sm_90a): BLOCK_M = ${blockMSm90(h)} (${h.warpgroups} warpgroups), BLOCK_N = ${h.blockN}, ${h.stages} K/V stages.`,
  ].join('\n');
  const parts = (['bf16', 'fp16'] as const).flatMap((dt) => {
    const e = ELEMS[dt];
    const common: Record<string, string> = {
      SPC_D: String(layout.headDim),
      SPC_GROUP: String(layout.heads / layout.kvHeads),
      SPC_TERM_SLOTS: String(shape.termSlots),
      SPC_MOD_SLOTS: String(shape.modSlots),
      SPC_ELEM: e.elem,
      SPC_PAIR: e.pair,
      SPC_PACK: e.pack,
    };
    const mma = kernelNames(layout, dt);
    const wg = kernelNames(layout, dt, 'sm90');
    return [
      fill(KERNEL_TEMPLATE, {
        ...common,
        SPC_NS: `spc_${layout.name}_${dt}`,
        SPC_WARPS: String(cfg.warps),
        SPC_MTILES: String(cfg.mTiles),
        SPC_MIN_BLOCKS: String(cfg.minBlocks),
        SPC_SKIP_RESCALE: String(cfg.skipRescale),
        SPC_BN: String(cfg.blockN),
        SPC_MMA: JSON.stringify(e.mma),
        SPC_KERNEL_NAME: mma.kernel,
        SPC_LAUNCHER_NAME: mma.launcher,
      }),
      fill(KERNEL_TEMPLATE_SM90, {
        ...common,
        SPC_NS: `spc_${layout.name}_sm90_${dt}`,
        SPC_WG: String(h.warpgroups),
        SPC_BN: String(h.blockN),
        SPC_STAGES: String(h.stages),
        SPC_QBUFS: String(h.ws === true ? h.qBuffers ?? 1 : 1),
        SPC_WG_SKIP: String(h.ws === true && h.wgSkip === true),
        SPC_OVERLAP: String(h.overlap === true || h.ws === true),
        SPC_WS: String(h.ws === true),
        SPC_IS_BF16: String(dt === 'bf16'),
        SPC_MIN_BLOCKS: String(h.minBlocks),
        SPC_WGMMA_WRAPPERS: wgmmaWrappers(h.blockN, layout.headDim, e.wgmma),
        SPC_WGMMA_SS: `wgmma_ss_n${h.blockN}`,
        SPC_WGMMA_RS: `wgmma_rs_n${layout.headDim}`,
        SPC_KERNEL_NAME: wg.kernel,
        SPC_LAUNCHER_NAME: wg.launcher,
      }),
    ];
  });
  return `${header}\n${parts.join('\n')}`;
}

function manifest(layout: LayoutIR, cfg: CudaConfig, options: EmitOptions): string {
  const n = layout.seq ?? options.seq;
  const shape = tableShape(layout);
  const doc: Record<string, unknown> = {
    spc: options.version,
    layout: layout.name,
    heads: layout.heads,
    kv_heads: layout.kvHeads,
    head_dim: layout.headDim,
    dtypes: ['bf16', 'fp16'],
    // Two kernel families: wgmma for sm_90a (the H100 path) and mma.sync for sm_80 and newer.
    kernels: {
      sm90: { ...Object.fromEntries((['bf16', 'fp16'] as const).map((d) => [d, kernelNames(layout, d, 'sm90')])), block_m: blockMSm90(cfg.sm90), block_n: cfg.sm90.blockN, threads: 128 * (cfg.sm90.warpgroups + (cfg.sm90.ws ? 1 : 0)), stages: cfg.sm90.stages, blocks_per_sm: cfg.sm90.minBlocks },
      sm80: { ...Object.fromEntries((['bf16', 'fp16'] as const).map((d) => [d, kernelNames(layout, d)])), block_m: blockM(cfg), block_n: cfg.blockN, threads: 32 * cfg.warps },
    },
    launch: {
      // items = B * heads * ceil(N / block_m) work items.
      grid: cfg.sm90.ws
        ? 'sm90: grid persistent blocks (one per SM, at most items), order = the items grouped by block (longest first, each to the least loaded block) then grid + 1 offsets; sm80: one block per item, order = the items longest first'
        : 'one block per item, order = the items longest first (grid unused)',
      persistent_sm90: cfg.sm90.ws,
      shared_memory: 'dynamic, set by the launcher',
      // The C launchers' signature (the same for every kernel); heads is the number of heads of the call.
      launcher: 'cudaError_t (const void* q, const void* k, const void* v, void* o, float* lse, const int* table, const int* order, int items, int grid, int n, int heads, float scale, cudaStream_t stream)',
      abi: 3,
    },
    table: { term_slots: shape.termSlots, mod_slots: shape.modSlots, fields_per_term: shape.fieldsPerTerm },
    seq: layout.seq,
  };
  if (n !== undefined) {
    // Per-head work in the sm90 kernel's tiles.
    const st = layoutStats(instantiate(layout, n), blockMSm90(cfg.sm90), cfg.sm90.blockN);
    doc.stats = { n, block_m: st.blockM, block_n: st.blockN, total_pairs: st.totalPairs, imbalance: st.imbalance, tile_imbalance: st.tileImbalance, heads: st.heads };
  }
  return JSON.stringify(doc, null, 2) + '\n';
}

/** The CUDA target; `configFor` overrides the tile configuration (the autotuner and benches use it). */
export function makeCudaTarget(configFor: (layout: LayoutIR) => CudaConfig = cudaConfig): Target {
  return {
  name: 'cuda',
  description: 'CUDA C++ kernels (sm_80+, tuned for H100) with a PyTorch op',
  emit(layouts: LayoutIR[], options: EmitOptions): EmittedFile[] {
    return layouts.flatMap((layout) => {
      const cfg = configFor(layout);
      const cu = cudaSource(layout, cfg, options.version);
      return [
        { path: `${layout.name}.cu`, contents: cu },
        { path: `${layout.name}.manifest.json`, contents: manifest(layout, cfg, options) },
        { path: `${layout.name}/kernel.cu`, contents: cu },
        { path: `${layout.name}/_table.py`, contents: pyHostTable(layout) },
        { path: `${layout.name}/_plan.py`, contents: planModule(layout, cfg, options.version) },
        { path: `${layout.name}/__init__.py`, contents: pythonPackage(layout, cfg, options.version) },
      ];
    });
  },
  };
}

export const cudaTarget: Target = makeCudaTarget();
