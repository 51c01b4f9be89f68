// The CUDA kernel config: one JSON-serialisable object that says how the kernels of a layout are
// tiled. The heuristic (defaultConfig) gives one per layout; `spc compile --config` overrides any
// part of it; the manifest records it; the Python package reads it (_layout.CONFIG); the generated
// header turns it into the constexpr traits the kernel templates take (source.ts).
import { TargetError, type TunedChoice } from '../../codegen/target.js';
import { tableShape, type LayoutIR } from '../../src/ir/index.js';

/** The mma.sync kernel (sm_80 and newer): one block per work item. */
export interface Sm80Config {
  /** Warps per block; each owns 16 * mTiles query rows, so block_m = 16 * mTiles * warps. */
  warps: number;
  /** 16-row MMA tiles per warp (1 or 2): two share every K/V fragment load. */
  mTiles: number;
  /** Keys per tile (block_n). */
  blockN: number;
  /** Blocks per SM the register allocation must allow (__launch_bounds__); 1 leaves it to the compiler. */
  minBlocks: number;
  /** Skip rescaling O when no row's running maximum changed (fewer multiplies, more registers). */
  skipRescale: boolean;
}

/** The wgmma kernel (sm_90a): warpgroups of 64 query rows. */
export interface Sm90Config {
  /** 'persistent': one block per SM, items dealt by the host, a TMA producer warpgroup; 'blockwise': one block per item. */
  kernel: 'persistent' | 'blockwise';
  /** Consumer warpgroups per block (persistent: 2 or 3). */
  warpgroups: number;
  /** Keys per tile (the N of the S wgmma). */
  blockN: number;
  /** K/V tiles in flight (a shared-memory ring; block-wise with overlap needs 3). */
  stages: number;
  /** Block-wise: overlap each tile's softmax with the tensor cores (the persistent kernel always does). */
  overlap: boolean;
  /** Persistent: Q tiles in flight, 1 or 2 (2: the next work item's Q loads during this one). */
  qBuffers: number;
  /** Persistent: a warpgroup passes over key tiles with no allowed pair for its 64 rows (more registers). */
  wgSkip: boolean;
  /** Blocks per SM (__launch_bounds__); the persistent kernel needs 1. */
  minBlocks: number;
}

/** The backward (mma.sync, sm_80 and newer; bwd_sm80.cuh): one block per (KV head, key tile). */
export interface BwdConfig {
  /** Warps per block; each owns 16 keys, so a block's key tile is 16 * warps keys. */
  warps: number;
  /** Query rows per step over the key tile (a multiple of 32). */
  blockM: number;
  /** Blocks per SM the register allocation must allow (__launch_bounds__). */
  minBlocks: number;
}

/** The wgmma backward (bwd_sm90.cuh, sm_90a): its dK/dV kernel, one block of two warpgroups per 128 keys. */
export interface Bwd90Config {
  /** Query rows per step (64; 128 at head_dim 64: each warpgroup's wgmma is 64 keys x 128 rows, dQ split by rows; BWD_SM90_PIPE.md). */
  rows: number;
  /**
   * How the dK/dV kernel adds dQ (the default, non-deterministic mode) and who loads: `atomic`, two
   * warpgroups that compute (warp 0 also loads) and add dQ with float2 atomics; `writer`, a producer
   * warpgroup (loads, and a warp that adds each staged dQ tile by the tensor copy engine's reduce)
   * and two consumer warpgroups at 240 registers (FlashAttention-3's layout; two Q/dO stages at
   * D = 128 and at 128 rows). BWD_SM90_PIPE.md.
   */
  dq: 'atomic' | 'writer';
}

export interface CudaConfig {
  sm80: Sm80Config;
  sm90: Sm90Config;
  bwd: BwdConfig;
  /** Head_dim 64 layouts only in the heuristic (so that the D = 128 configs, and their generated code, stay as they were); `--config` may set it for any layout (BWD90_DEFAULT where it has none). */
  bwd90?: Bwd90Config;
}
/** The parts of a config. */
export const CONFIG_PARTS = ['sm80', 'sm90', 'bwd', 'bwd90'] as const;
/** What a config without a bwd90 part means: 64 rows, dQ by atomics (the kernel before the part had the dq field). */
const BWD90_DEFAULT: Bwd90Config = { rows: 64, dq: 'atomic' };

/**
 * Whether the wgmma dK/dV kernel with 128 query rows per step compiles without spills for a
 * layout: head_dim 64, one query head per KV head, at most two term and mod slots together. ptxas
 * (nvcc 13, sm_90a) puts it at 252-255 registers there and spills 8-40 bytes in the others
 * (query-head groups, three table slots; BWD_SM90_PIPE.md).
 */
export function bwd90WideFits(layout: LayoutIR): boolean {
  const shape = tableShape(layout);
  return layout.headDim === 64 && layout.heads === layout.kvHeads && shape.termSlots + shape.modSlots <= 2;
}

export const SUPPORTED_HEAD_DIMS = [64, 128];
/** Shared memory a block may have on sm_90 (227 KiB), less room for tables and barriers. */
const SM90_SMEM = 227 * 1024 - 2048;
/** wgmma N values the kernels have instructions for (kernels/spc/sm90/wgmma.cuh). */
const WGMMA_N = [64, 96, 128, 192, 256];

/**
 * The heuristic, from H100 and H200 measurements (bench/results/cuda-*.md). mma.sync: D = 128:
 * 64 x 32 tiles, 3 blocks per SM (168 registers, no spills); D = 64: 64 x 64 with the rescale skip.
 * wgmma: the persistent kernel, 128 x 128 tiles; 3 stages for D = 128, 4 for D = 64; D = 64
 * layouts with larger tables (more than two terms, or mods) spill at 168 registers in it and keep
 * the block-wise 128 x 64 kernel.
 */
export function defaultConfig(layout: LayoutIR): CudaConfig {
  const bwd: BwdConfig = { warps: 4, blockM: layout.headDim === 128 ? 32 : 64, minBlocks: 1 };
  if (layout.headDim !== 64) return { ...forwardConfig(layout), bwd };
  // 128 query rows per step where they fit: the kernel passed its GPU check on the H200
  // (bench/cuda/d64-check.sh, bench/results/cuda-2026-12-01-bwd-d64.md: 156 of 156 rows, dK/dV
  // 522 -> 469 us at paper H16 D64 16k).
  // Not yet the default: bwd90.dq = 'writer' (the warp-specialised dK/dV kernel), measured faster
  // on an H100 (bench/results/cuda-2026-12-07-dq-overlap.md: dK/dV -15% at D = 128, -8% at D = 64
  // with 64 rows) and checked there, but its final form (the heads' setup before the warpgroups
  // part, after synccheck) has not run on a GPU yet.
  return { ...forwardConfig(layout), bwd, bwd90: { rows: bwd90WideFits(layout) ? 128 : 64, dq: 'atomic' } };
}

/**
 * The backward's heuristic: 64 keys per block (4 warps of 16); D = 128 steps over 32 query rows
 * (64 spills: dK and dV of 16 keys x 128 take 128 registers a thread), D = 64 over 64.
 */
function forwardConfig(layout: LayoutIR): Omit<CudaConfig, 'bwd'> {
  const sm90: Sm90Config = { kernel: 'persistent', warpgroups: 2, blockN: 128, stages: 3, overlap: true, qBuffers: 1, wgSkip: false, minBlocks: 1 };
  if (layout.headDim === 128) return { sm80: { warps: 4, mTiles: 1, blockN: 32, minBlocks: 3, skipRescale: false }, sm90 };
  const shape = tableShape(layout);
  const small = shape.termSlots <= 2 && shape.modSlots === 0;
  return {
    sm80: { warps: 4, mTiles: 1, blockN: 64, minBlocks: 1, skipRescale: true },
    sm90: small ? { ...sm90, stages: 4 } : { ...sm90, kernel: 'blockwise', blockN: 64, stages: 2, overlap: false },
  };
}

export const blockM = (c: Sm80Config): number => 16 * c.mTiles * c.warps;
export const blockMSm90 = (c: Sm90Config): number => 64 * c.warpgroups;
export const threadsSm80 = (c: Sm80Config): number => 32 * c.warps;
export const threadsSm90 = (c: Sm90Config): number => 128 * (c.warpgroups + (c.kernel === 'persistent' ? 1 : 0));

type FieldSpec = { kind: 'int'; values: readonly number[] } | { kind: 'bool' } | { kind: 'enum'; values: readonly string[] };
const FIELDS: {
  sm80: Record<keyof Sm80Config, FieldSpec>;
  sm90: Record<keyof Sm90Config, FieldSpec>;
  bwd: Record<keyof BwdConfig, FieldSpec>;
  bwd90: Record<keyof Bwd90Config, FieldSpec>;
} = {
  sm80: {
    warps: { kind: 'int', values: [2, 4, 8] },
    mTiles: { kind: 'int', values: [1, 2] },
    blockN: { kind: 'int', values: [16, 32, 48, 64, 96, 128] },
    minBlocks: { kind: 'int', values: [1, 2, 3, 4] },
    skipRescale: { kind: 'bool' },
  },
  sm90: {
    kernel: { kind: 'enum', values: ['persistent', 'blockwise'] },
    warpgroups: { kind: 'int', values: [1, 2, 3] },
    blockN: { kind: 'int', values: WGMMA_N },
    stages: { kind: 'int', values: [2, 3, 4, 5, 6] },
    overlap: { kind: 'bool' },
    qBuffers: { kind: 'int', values: [1, 2] },
    wgSkip: { kind: 'bool' },
    minBlocks: { kind: 'int', values: [1, 2, 3, 4] },
  },
  bwd: {
    warps: { kind: 'int', values: [2, 4, 8] },
    blockM: { kind: 'int', values: [32, 64, 96, 128] },
    minBlocks: { kind: 'int', values: [1, 2, 3, 4] },
  },
  bwd90: {
    rows: { kind: 'int', values: [64, 128] },
    dq: { kind: 'enum', values: ['atomic', 'writer'] },
  },
};

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A config from JSON (`raw`, any part of a CudaConfig) over `base`: unknown fields (E104) and
 * values of the wrong type or out of range (E105) are diagnostics.
 */
export function mergeConfig(base: CudaConfig, raw: unknown): CudaConfig {
  if (!isObject(raw)) throw new TargetError('E105', ['(the config)', 'an object such as {"sm90": {"stages": 4}}', JSON.stringify(raw) ?? String(raw)]);
  const out: CudaConfig = { sm80: { ...base.sm80 }, sm90: { ...base.sm90 }, bwd: { ...base.bwd } };
  if (base.bwd90 !== undefined || 'bwd90' in raw) out.bwd90 = { ...(base.bwd90 ?? BWD90_DEFAULT) };
  for (const [fam, part] of Object.entries(raw)) {
    if (!(CONFIG_PARTS as readonly string[]).includes(fam)) throw new TargetError('E104', [fam, ` (a config has the parts ${CONFIG_PARTS.join(', ')})`]);
    if (!isObject(part)) throw new TargetError('E105', [fam, 'an object', JSON.stringify(part)]);
    const specs = FIELDS[fam as (typeof CONFIG_PARTS)[number]] as Record<string, FieldSpec>;
    for (const [key, value] of Object.entries(part)) {
      const spec = Object.hasOwn(specs, key) ? specs[key] : undefined; // not inherited: "toString", "__proto__" are unknown fields
      if (spec === undefined) throw new TargetError('E104', [`${fam}.${key}`, ` (fields of ${fam}: ${Object.keys(specs).join(', ')})`]);
      const ok =
        spec.kind === 'bool'
          ? typeof value === 'boolean'
          : spec.kind === 'enum'
            ? spec.values.includes(value as string)
            : Number.isInteger(value) && spec.values.includes(value as number);
      if (!ok) {
        const want = spec.kind === 'bool' ? 'true or false' : `one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
        throw new TargetError('E105', [`${fam}.${key}`, want, JSON.stringify(value)]);
      }
      (out[fam as (typeof CONFIG_PARTS)[number]] as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

/** Refuses a config the kernels cannot run for this layout (E102 shared memory, E103 combinations). */
export function checkConfig(layout: LayoutIR, cfg: CudaConfig): void {
  const s = cfg.sm90;
  const bad = (why: string) => new TargetError('E103', ['CUDA', layout.name, why]);
  if (s.kernel === 'persistent') {
    if (s.stages < 2 || s.minBlocks !== 1 || (s.warpgroups !== 2 && s.warpgroups !== 3))
      throw bad(`the persistent sm90 kernel needs 2 or more stages, 1 block per SM and 2 or 3 warpgroups (got ${s.stages}, ${s.minBlocks}, ${s.warpgroups})`);
  } else {
    if (s.overlap && s.stages < 3) throw bad(`the block-wise sm90 kernel with overlap needs 3 or more stages (got ${s.stages})`);
    if (s.qBuffers !== 1 || s.wgSkip) throw bad('qBuffers and wgSkip are settings of the persistent sm90 kernel');
    // Each thread holds its share of a warpgroup's 64-row O (64 x D fp32 over 128 threads: D / 2)
    // and S (blockN / 2) accumulators. __launch_bounds__(threads, minBlocks) caps a thread at
    // 65536 / (threads x minBlocks) registers, rounded down to 8; below the accumulators, ptxas
    // refuses to compile the wgmma (C7602). Seen on the H200 (bench/results/tune-2026-12-01): D = 128,
    // blockN 64 needs 94 and failed at 80, 64 and 40; 128 compiled.
    const threads = 128 * s.warpgroups;
    const regs = Math.min(255, Math.floor(65536 / (threads * s.minBlocks) / 8) * 8);
    const need = layout.headDim / 2 + s.blockN / 2;
    if (regs < need)
      throw bad(
        `the block-wise sm90 kernel with ${s.warpgroups} warpgroups and ${s.minBlocks} blocks per SM leaves ${regs} registers a thread, fewer than its accumulators need at head_dim ${layout.headDim} and blockN ${s.blockN} (${need})`,
      );
  }
  const d = layout.headDim;
  const a = cfg.sm80;
  const rowsPerPass = threadsSm80(a) / (d / 8); // one 16-byte chunk a thread (fwd_sm80.cuh load_tile)
  if (rowsPerPass % 8 !== 0 || blockM(a) % rowsPerPass !== 0 || a.blockN % rowsPerPass !== 0)
    throw bad(`the sm80 tiles ${blockM(a)} x ${a.blockN} cannot be loaded by ${threadsSm80(a)} threads in whole 8-row passes at head_dim ${d}`);
  const qBufs = s.kernel === 'persistent' ? s.qBuffers : 1;
  const sm90Bytes = 2 * d * (qBufs * blockMSm90(s) + 2 * s.stages * s.blockN);
  if (sm90Bytes > SM90_SMEM) throw new TargetError('E102', ['CUDA sm90', layout.name, sm90Bytes, SM90_SMEM]);
  const sm80Bytes = 2 * d * (blockM(a) + 4 * a.blockN);
  if (sm80Bytes > SM90_SMEM) throw new TargetError('E102', ['CUDA sm80', layout.name, sm80Bytes, SM90_SMEM]);
  const b = cfg.bwd;
  const bwdRows = (32 * b.warps) / (d / 8);
  if (bwdRows % 8 !== 0 || b.blockM % bwdRows !== 0 || (16 * b.warps) % bwdRows !== 0)
    throw bad(`the backward tiles ${b.blockM} x ${16 * b.warps} cannot be loaded by ${32 * b.warps} threads in whole 8-row passes at head_dim ${d}`);
  const bwdBytes = 2 * d * (2 * 16 * b.warps + 2 * b.blockM) + 2 * 16 * b.warps * b.blockM + 8 * b.blockM;
  if (bwdBytes > SM90_SMEM) throw new TargetError('E102', ['CUDA backward', layout.name, bwdBytes, SM90_SMEM]);
  // The wgmma dK/dV kernel at 128 rows: S^T and dP^T of 64 keys x 128 rows (64 + 64 fp32 registers
  // a thread) beside dK and dV (D / 2 each) fit only at D = 64 (bwd_sm90.cuh static_asserts it).
  if (cfg.bwd90 !== undefined && cfg.bwd90.rows === 128 && !bwd90WideFits(layout))
    throw bad(
      `the sm90 backward with 128 query rows per step (bwd90.rows) needs head_dim 64, one query head per KV head and at most two term and mod slots together (registers; got head_dim ${d}, ${layout.heads / layout.kvHeads} query heads per KV head, ${tableShape(layout).termSlots + tableShape(layout).modSlots} slots)`,
    );
}

/**
 * The config for a layout: the heuristic, overridden by `under` (a tuning record's choice) and then
 * by `raw` (from --config), each field by field when given; checked.
 */
export function configFor(layout: LayoutIR, raw?: unknown, under?: unknown): CudaConfig {
  if (!SUPPORTED_HEAD_DIMS.includes(layout.headDim))
    throw new TargetError('E100', ['CUDA', SUPPORTED_HEAD_DIMS.join(' and '), layout.name, layout.headDim], layout.locs?.headDim);
  if (layout.dtype === 'fp32') throw new TargetError('E101', ['CUDA', 'bf16 or fp16 (tensor cores)', layout.name, 'fp32'], layout.locs?.dtype);
  let cfg = defaultConfig(layout);
  for (const part of [under, raw]) if (part !== undefined) cfg = mergeConfig(cfg, part);
  checkConfig(layout, cfg);
  return cfg;
}

/** The values each config field may take (what mergeConfig accepts), for enumerating the config space (targets/cuda/tune.ts). */
export const CONFIG_FIELDS: { readonly sm80: Readonly<Record<keyof Sm80Config, FieldSpec>>; readonly sm90: Readonly<Record<keyof Sm90Config, FieldSpec>> } =
  FIELDS;
export type { FieldSpec };

/** A short stable name of an sm90 config: the fields that vary, e.g. "sm90 persistent wg2 n128 s3 q1". */
export function sm90Id(s: Sm90Config): string {
  const common = `sm90 ${s.kernel} wg${s.warpgroups} n${s.blockN} s${s.stages}`;
  return s.kernel === 'persistent' ? `${common} q${s.qBuffers}${s.wgSkip ? ' wgskip' : ''}` : `${common}${s.overlap ? ' overlap' : ''} b${s.minBlocks}`;
}

/**
 * What a package compiles in: its config (the heuristic under --config), the sm90 forward configs
 * (variant 0 is config.sm90; then each other distinct one a tuning record chose, in the record's
 * order), and which variant the record chose per GPU and N. Only the sm90 forward varies: the
 * sm80 forward and the backward are one config per package.
 */
export interface CudaConfigs {
  config: CudaConfig;
  /** The --config object as given ({} without one): the package's run-time pick applies it over a cache record's choice as spc compile does. */
  overrides: Record<string, unknown>;
  variants: Sm90Config[];
  /** Sorted by device, then N. */
  tuned: { device: string; n: number; variant: number }[];
}

/** One config and nothing to choose at run time. */
export const single = (config: CudaConfig): CudaConfigs => ({ config, overrides: {}, variants: [config.sm90], tuned: [] });

/**
 * The configs of a package: configFor(layout, raw) and, per tuning-record choice, configFor(layout,
 * raw, choice.config) (the choice over the heuristic, --config over both), each checked. A choice
 * that changes more than the sm90 forward is E103 (those parts are not chosen at run time).
 */
export function configsFor(layout: LayoutIR, raw?: unknown, tuned: readonly TunedChoice[] = []): CudaConfigs {
  const config = configFor(layout, raw);
  const variants: Sm90Config[] = [config.sm90];
  const key = (x: unknown) => JSON.stringify(x);
  const out: CudaConfigs['tuned'] = [];
  for (const t of tuned) {
    const c = configFor(layout, raw, t.config);
    for (const part of ['sm80', 'bwd', 'bwd90'] as const)
      if (key(c[part]) !== key(config[part]))
        throw new TargetError('E103', [
          'CUDA',
          layout.name,
          `the tuning record's config for ${t.device} at N = ${t.n} (${t.id}) sets the ${part} part; only the sm90 forward config is chosen at run time`,
        ]);
    let v = variants.findIndex((s) => key(s) === key(c.sm90));
    if (v < 0) v = variants.push(c.sm90) - 1;
    out.push({ device: t.device, n: t.n, variant: v });
  }
  out.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.n - b.n));
  const overrides = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return { config, overrides, variants, tuned: out };
}
