// The tiled WGSL forward kernel ("built like a GPU matmul"), the variant the runtime prefers
// where the device's limits allow it (the row kernel in shader.ts is the fallback).
//
// A workgroup of WG = (BM / TM) * TPR invocations owns BM query rows of one (batch, head). The
// scaled Q tile sits in workgroup memory for the whole pass; each visited key tile of BN keys is
// staged into workgroup memory twice, K then V, through one buffer. Invocation (rg, tc) (row
// group rg = lid / TPR, lane tc = lid % TPR) computes a register micro-tile of scores, rows
// rg * TM + a (a < TM) x keys b * TPR + tc (b < TN = BN / TPR), then of the output, the same rows
// x vec4 columns tc + t * TPR (t < TD = D4 / TPR). Online softmax per row with workgroup-memory
// reductions: each invocation writes its partial row maxima, BM invocations reduce them to the
// new running max and the rescale factor, then the same for the probability sums. The key tiles
// visited, the full-tile test and the per-pair masks are those of the row kernel (the schema's
// key_span and full_key_span, and allowed()); masks are evaluated only on tiles that no single
// term covers. Passes and the resume from (out, lse) are as in the row kernel. The reductions run
// in a fixed order, so results are deterministic. A row with no allowed key gets O = 0 and
// lse = -inf.
//
// The shader is a per-layout head (constants) and a body that depends only on the tile
// configuration (TM, TN, TD are unrolled), so layouts of the same head_dim share the body.
import { CodeWriter } from '../../codegen/writer.js';
import { COMPAT_LIMITS, LOOP_BUDGET, type WgslPlan } from './plan.js';
import { writeParams, writePassTiles, writeTableFunctions } from './shader.js';

export type TiledReduce = 'workgroup' | 'subgroup';

export interface TiledConfig {
  /** Query rows per workgroup. */
  blockM: number;
  /** Keys per staged tile. */
  blockN: number;
  /** Rows per invocation (TM). */
  rowsPerThread: number;
  /** Invocations per row group (TPR). */
  threadsPerRow: number;
  /** K and V in two workgroup buffers (both loaded at once, one barrier fewer per tile) instead of one, K then V. */
  splitKV: boolean;
  /** Pad the K tile's rows by one vec4 (no bank conflicts when the TPR lanes of a row group read TPR different key rows). */
  padK: boolean;
  /** Row max / sum reductions: through workgroup memory, or subgroup shuffles (the TPR lanes of a row group in one subgroup; feature 'subgroups'). */
  reduce: TiledReduce;
}

export interface TiledPlan extends TiledConfig {
  /** The variant's name, e.g. sg-32x32-t4x8-kv2-pad: what createAttention's options.variant and the benchmark accept. */
  name: string;
  invocations: number;
  /** Keys per invocation in a tile (TN) and vec4 output columns per invocation (TD). */
  keysPerThread: number;
  vecsPerThread: number;
  sharedBytes: number;
  /** Key tiles per pass within Mesa's loop budget (software adapters); one pass on other adapters. */
  tilesPerPass: number;
  /** Device features the shader needs. */
  features: string[];
  /** The least subgroup size the variant needs (its TPR for subgroup reductions, else 0). */
  subgroupMinSize: number;
  /** Whether createAttention may pick it when no variant is named (SUBGROUP_AUTO_MAX_HEAD_DIM, AUTO_TIERS). */
  auto: boolean;
}

/**
 * The largest head_dim at which subgroup variants take part in createAttention's automatic choice
 * (0: never). They take part since they passed the float64 oracle on hardware subgroups (the H200
 * through Vulkan, D = 64 and 128, dense and bands: bench/results/wgsl-2026-12-01-h200-run2.md;
 * before that they had run only with the subgroup operations emulated, test/wgsl-variants.test.ts).
 * At head_dim 128 the compatibility tier's workgroup-reduction variant (wg-16x8-t2x8-pad) was 1.16x
 * faster than its subgroup twin (sg-16x8-t2x8-pad) on the H200 in two calls at N = 16384 (dense
 * causal 134.2 against 156.1 ms, the paper's bands 8.84 against 10.22 ms:
 * bench/results/wgsl-2026-12-01-h200-run3/wgsl-h200-variants.md; again 134.1 / 156.1 and 8.80 /
 * 10.18 ms in bench/results/wgsl-tune-2026-12-02-h200/wb-iso.md). At head_dim 64 the subgroup
 * variant is the faster one (54.3 against 75.3 ms dense).
 */
export const SUBGROUP_AUTO_MAX_HEAD_DIM = 64;

/**
 * The limit tiers whose variants createAttention picks when no variant is named; the others run
 * only when named. On the H200 (NVIDIA driver through Vulkan, the one GPU measured so far:
 * bench/results/wgsl-2026-12-01-h200-run2.md) the compatibility tier's smaller tiles were the
 * faster ones at N = 16384: 15.1% of the fp32 peak (subgroups) against 7.8% for the 32 KiB tier's
 * best at D = 64, 12.2% (workgroup reductions) against 8.0% at D = 128.
 */
export const AUTO_TIERS: readonly string[] = ['compat'];

/** Tile shapes, most preferred first. */
const SHAPES: readonly Omit<TiledConfig, 'reduce' | 'splitKV' | 'padK'>[] = [
  { blockM: 64, rowsPerThread: 4, threadsPerRow: 8, blockN: 32 },
  { blockM: 32, rowsPerThread: 4, threadsPerRow: 8, blockN: 32 },
  { blockM: 64, rowsPerThread: 4, threadsPerRow: 8, blockN: 16 },
  { blockM: 32, rowsPerThread: 4, threadsPerRow: 8, blockN: 16 },
  { blockM: 32, rowsPerThread: 2, threadsPerRow: 8, blockN: 16 },
  { blockM: 16, rowsPerThread: 2, threadsPerRow: 8, blockN: 16 },
  { blockM: 16, rowsPerThread: 2, threadsPerRow: 8, blockN: 8 },
  { blockM: 16, rowsPerThread: 2, threadsPerRow: 4, blockN: 8 },
  { blockM: 8, rowsPerThread: 1, threadsPerRow: 2, blockN: 4 },
  { blockM: 4, rowsPerThread: 1, threadsPerRow: 1, blockN: 2 },
];

/**
 * Limit tiers a variant is built for: WebGPU compatibility-mode defaults (every device, the
 * tests' software adapters) and 32 KiB of workgroup memory with 256 invocations (core WebGPU
 * devices that grant the adapter's limits; Mesa's llvmpipe adapter too, so the tests run it).
 */
export const TIERS: readonly { name: string; maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }[] = [
  { name: 'core32k', maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256 },
  {
    name: 'compat',
    maxComputeWorkgroupStorageSize: COMPAT_LIMITS.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: COMPAT_LIMITS.maxComputeInvocationsPerWorkgroup,
  },
];

/** Every configuration in preference order: each shape with split K/V and padding where they fit, then without. */
export function tiledCandidates(reduce: TiledReduce): TiledConfig[] {
  return SHAPES.flatMap((s) => [
    { ...s, splitKV: true, padK: true, reduce },
    { ...s, splitKV: false, padK: true, reduce },
    { ...s, splitKV: false, padK: false, reduce },
  ]);
}

export function tiledName(c: TiledConfig): string {
  return `${c.reduce === 'subgroup' ? 'sg' : 'wg'}-${c.blockM}x${c.blockN}-t${c.rowsPerThread}x${c.threadsPerRow}${c.splitKV ? '-kv2' : ''}${c.padK ? '-pad' : ''}`;
}

/** Bytes of workgroup memory: Q tile, K tile (padded), V tile (when split), probabilities, reduction partials (workgroup reductions), subgroup counter. */
export function tiledSharedBytes(c: TiledConfig, D: number): number {
  const D4 = Math.ceil(D / 4);
  const KS = D4 + (c.padK ? 1 : 0);
  const red = c.reduce === 'workgroup' ? 2 * 4 * c.blockM * c.threadsPerRow : 4;
  return 16 * c.blockM * D4 + 16 * c.blockN * KS + (c.splitKV ? 16 * c.blockN * D4 : 0) + 4 * c.blockM * c.blockN + red;
}

/**
 * An upper bound on the loop iterations of one invocation of the tiled shader in a pass that
 * visits `tiles` key tiles (see plan.ts, MESA_LOOP_LIMIT): every loop at its most plus its exit
 * iteration, both sides of every branch. The micro-tile loops and the reductions are unrolled in the shader.
 */
export function tiledLoopIterations(c: TiledConfig, D: number, termSlots: number, modSlots: number, tiles: number): number {
  const D4 = Math.ceil(D / 4);
  const KS = D4 + (c.padK ? 1 : 0);
  const WG = (c.blockM / c.rowsPerThread) * c.threadsPerRow;
  const TN = c.blockN / c.threadsPerRow;
  const strided = (len: number) => Math.ceil(len / WG) + 1;
  const TS = termSlots;
  const MS = modSlots;
  // Tint's zero-initialisation of every workgroup array.
  const arrays = [c.blockM * D4, c.blockN * KS, c.splitKV ? c.blockN * D4 : 0, c.blockM * c.blockN];
  if (c.reduce === 'workgroup') arrays.push(c.blockM * c.threadsPerRow, c.blockM * c.threadsPerRow);
  const zeroInit = arrays.filter((n) => n > 0).reduce((s, n) => s + strided(n), 0);
  const fixed = zeroInit + (TS + 1) + strided(c.blockM * D4) + (TS + 1);
  const perTerm = (tiles + 1) * (1 + TS);
  const allowed = TS + 1 + TS * (MS + 1);
  const tileFull = TS + 1 + TS * (MS + 1);
  const perTile = 2 * strided(c.blockN * D4) + tileFull + (D4 + 1) + c.rowsPerThread * TN * allowed + (c.blockN + 1);
  return fixed + TS * perTerm + tiles * perTile;
}

/** Limits a tiled configuration is planned against: a tier's, or an adapter's (spc tune --target wgsl). */
export interface TiledLimits {
  name?: string;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

/**
 * Configuration c planned for this layout within the limits, or why it does not fit (a string, the
 * details in parentheses at its end):
 * TPR must divide D / 4 and BN (and be a power of two, at least 2, for subgroup reductions), the
 * invocations and workgroup memory must be within the limits (null: no limits, the tuner's injected
 * candidates), and one key tile must fit Mesa's loop budget. `auto`: whether createAttention may
 * pick it unnamed (also SUBGROUP_AUTO_MAX_HEAD_DIM, and the limits must be a tier of AUTO_TIERS).
 */
export function fitTiledConfig(
  p: WgslPlan,
  c: TiledConfig,
  limits: TiledLimits | null,
  overrides: { tilesPerPass?: number } = {},
  auto = true,
): TiledPlan | string {
  const D = p.layout.headDim;
  const D4 = Math.ceil(D / 4);
  const { termSlots, modSlots } = p.shape;
  const invocations = (c.blockM / c.rowsPerThread) * c.threadsPerRow;
  if (D4 % c.threadsPerRow !== 0 || c.blockN % c.threadsPerRow !== 0)
    return `TPR does not divide D / 4 and BN (TPR ${c.threadsPerRow}, D / 4 = ${D4}, BN ${c.blockN})`;
  // The shuffle butterflies halve TPR down to 1: a power of two, at least 2.
  if (c.reduce === 'subgroup' && (c.threadsPerRow < 2 || (c.threadsPerRow & (c.threadsPerRow - 1)) !== 0))
    return `subgroup reductions need TPR a power of two >= 2 (TPR ${c.threadsPerRow})`;
  if (limits && invocations > limits.maxComputeInvocationsPerWorkgroup)
    return `over maxComputeInvocationsPerWorkgroup (${invocations} invocations, the limit is ${limits.maxComputeInvocationsPerWorkgroup})`;
  const sharedBytes = tiledSharedBytes(c, D);
  if (limits && sharedBytes > limits.maxComputeWorkgroupStorageSize)
    return `over maxComputeWorkgroupStorageSize (${sharedBytes} bytes of workgroup memory, the limit is ${limits.maxComputeWorkgroupStorageSize})`;
  let tilesPerPass = 1;
  while (tiledLoopIterations(c, D, termSlots, modSlots, tilesPerPass + 1) <= LOOP_BUDGET) tilesPerPass++;
  if (tiledLoopIterations(c, D, termSlots, modSlots, tilesPerPass) > LOOP_BUDGET) return `one key tile is over Mesa's loop budget (${LOOP_BUDGET} iterations)`;
  if (overrides.tilesPerPass !== undefined) tilesPerPass = Math.min(tilesPerPass, overrides.tilesPerPass);
  return {
    ...c,
    name: tiledName(c),
    invocations,
    keysPerThread: c.blockN / c.threadsPerRow,
    vecsPerThread: D4 / c.threadsPerRow,
    sharedBytes,
    tilesPerPass,
    features: c.reduce === 'subgroup' ? ['subgroups'] : [],
    subgroupMinSize: c.reduce === 'subgroup' ? c.threadsPerRow : 0,
    auto: auto && (c.reduce !== 'subgroup' || D <= SUBGROUP_AUTO_MAX_HEAD_DIM) && limits !== null && AUTO_TIERS.includes(limits.name ?? ''),
  };
}

/** The first configuration of candidates that fits the tier at this head_dim, planned, or null. */
function planConfig(p: WgslPlan, cands: TiledConfig[], tier: (typeof TIERS)[number], overrides: { tilesPerPass?: number }): TiledPlan | null {
  for (const c of cands) {
    const t = fitTiledConfig(p, c, tier, overrides);
    if (typeof t !== 'string') return t;
  }
  return null;
}

/**
 * Every tiled configuration (both reductions, every shape, split K/V and padding) that fits the
 * limits (null: any) at this layout's head_dim, in preference order (tiledCandidates', subgroup ones first), and
 * how many were refused, by reason: the WGSL tuner's space (targets/wgsl/tune.ts).
 */
export function tiledConfigSpace(
  p: WgslPlan,
  limits: TiledLimits | null,
  reductions: readonly TiledReduce[] = ['subgroup', 'workgroup'],
): { fits: TiledPlan[]; rejected: Record<string, number> } {
  const fits: TiledPlan[] = [];
  const rejected: Record<string, number> = {};
  for (const reduce of reductions)
    for (const c of tiledCandidates(reduce)) {
      const t = fitTiledConfig(p, c, limits, {}, false);
      if (typeof t === 'string') {
        const why = t.replace(/ \(.*\)$/, ''); // grouped without the details
        rejected[why] = (rejected[why] ?? 0) + 1;
      } else fits.push(t);
    }
  return { fits, rejected };
}

/**
 * The tiled variants of a layout, in the order the runtime tries them (the first whose features
 * and limits the device has wins): per limit tier (largest first), subgroup reductions then
 * workgroup-memory reductions. The last is always the workgroup variant of the compatibility
 * tier when one fits (every device runs it). Empty when no configuration fits at this head_dim.
 */
export function planTiledVariants(p: WgslPlan, overrides: { tilesPerPass?: number } = {}): TiledPlan[] {
  const out: TiledPlan[] = [];
  for (const tier of TIERS)
    for (const reduce of ['subgroup', 'workgroup'] as const) {
      const t = planConfig(p, tiledCandidates(reduce), tier, overrides);
      if (t && !out.some((x) => x.name === t.name)) out.push(t);
    }
  // The compatibility-tier workgroup variant last, so that it is the fallback after every other.
  const compat = planConfig(p, tiledCandidates('workgroup'), TIERS[TIERS.length - 1]!, overrides);
  if (compat) {
    const i = out.findIndex((x) => x.name === compat.name);
    if (i >= 0) out.splice(i, 1);
    out.push(compat);
  }
  return out;
}

/** The compatibility-tier workgroup variant (what every device runs), or null when no configuration fits at this head_dim. */
export function planTiled(p: WgslPlan, overrides: { tilesPerPass?: number } = {}): TiledPlan | null {
  return planConfig(p, tiledCandidates('workgroup'), TIERS[TIERS.length - 1]!, overrides);
}

/** The line in the tiled shader after which the text depends only on the tile configuration (golden tests split there). */
export const TILED_BODY_MARK = '// ---- tiled kernel body (the same for every layout with this tile configuration) ----';

/**
 * The tiled shader of variant t. emulateSubgroups (tests only): for a subgroup variant, the
 * subgroup operations done through workgroup memory with subgroups of that many consecutive
 * invocations, so that a device without 'subgroups' (Mesa) runs the variant's lane numbering and
 * butterflies against the oracle. Not a variant the module exports.
 */
export function tiledShader(p: WgslPlan, t: TiledPlan, version: string, { emulateSubgroups }: { emulateSubgroups?: number } = {}): string {
  const L = p.layout;
  const D = L.headDim;
  const D4 = Math.ceil(D / 4);
  const { blockM: BM, blockN: BN, rowsPerThread: TM, threadsPerRow: TPR, keysPerThread: TN, vecsPerThread: TD } = t;
  const sg = t.reduce === 'subgroup';
  const emu = sg ? (emulateSubgroups ?? 0) : 0;
  const shuffleXor = (x: string, m: number) => (emu ? `sg_shuffle_xor(lid, ${x}, ${m}u)` : `subgroupShuffleXor(${x}, ${m}u)`);
  const rows = Array.from({ length: TM }, (_, a) => a);
  const keys = Array.from({ length: TN }, (_, b) => b);
  const cols = Array.from({ length: TD }, (_, c) => c);
  const lanes = Array.from({ length: TPR }, (_, x) => x);
  const masks: number[] = [];
  for (let m = TPR >> 1; m >= 1; m >>= 1) masks.push(m);
  const w = new CodeWriter();
  if (sg && !emu) w.line('enable subgroups;');
  w.line(`// Generated by spc ${version} for layout ${L.name}. Do not edit.`);
  if (emu) w.line(`// TEST ONLY: subgroups of ${emu} invocations emulated through workgroup memory.`);
  w.line(`// Forward banded attention, f32, tiled variant ${t.name}. Q (B, H, N, D); K, V (B, KV, N, D); row-major.`);
  w.line('// Output buffer: O (B, H, N, D) then lse (B, H, N), f32 values stored as their bits.');
  w.line('// Dispatch: (ceil(N / BM), H, B) workgroups of WG invocations.');
  w.line();
  w.line(`const H: u32 = ${L.heads}u;`);
  w.line(`const KV: u32 = ${p.kvHeads}u;`);
  w.line(`const GROUP: u32 = ${p.group}u;`);
  w.line(`const D: u32 = ${D}u;`);
  w.line(`const TERM_SLOTS: u32 = ${p.shape.termSlots}u;`);
  w.line(`const MOD_SLOTS: u32 = ${p.shape.modSlots}u;`);
  w.line(`const FIELDS: u32 = ${p.shape.fieldsPerTerm}u;`);
  w.line(`const TABLE_VEC4: u32 = ${p.tableVec4}u;`);
  w.line("// Key tiles per pass: the default keeps a pass within Mesa's loop budget; the runtime sets it (one pass) on other adapters.");
  w.line(`override CHUNK_TILES: u32 = ${t.tilesPerPass}u;`);
  w.line(TILED_BODY_MARK);
  w.line(`const D4: u32 = ${D4}u;`);
  w.line(`const KS: u32 = ${D4 + (t.padK ? 1 : 0)}u; // row stride of the K tile, in vec4s`);
  w.line(`const BM: u32 = ${BM}u;`);
  w.line(`const BN: u32 = ${BN}u;`);
  w.line(`const TM: u32 = ${TM}u;`);
  w.line(`const TPR: u32 = ${TPR}u;`);
  w.line(`const WG: u32 = ${t.invocations}u;`);
  w.line('const NEG_INF_BITS: u32 = 0xff800000u;');
  w.line('const LOWEST: f32 = -3.0e38;');
  w.line();
  // With D a multiple of 4, q, k and v are read as vec4s (one load each instead of four).
  const vec4In = D % 4 === 0;
  writeParams(w, 'TABLE_VEC4', 'H x TERM_SLOTS x FIELDS int32', vec4In);
  w.line('// Row r of the Q tile is vec4s [r * D4, (r + 1) * D4), of the K tile [r * KS, r * KS + D4); zero past D.');
  w.line('var<workgroup> qs: array<vec4<f32>, BM * D4>; // the scaled Q tile');
  w.line(`var<workgroup> ks: array<vec4<f32>, BN * KS>; // the K tile${t.splitKV ? '' : ', then the V tile'}`);
  if (t.splitKV) w.line('var<workgroup> vs: array<vec4<f32>, BN * D4>; // the V tile');
  w.line('var<workgroup> ps: array<f32, BM * BN>; // probabilities of the current tile');
  if (sg) w.line('var<workgroup> sg_next: atomic<u32>; // hands out lane numbers, a subgroup at a time');
  else {
    w.line('var<workgroup> redm: array<f32, BM * TPR>; // per-row partial maxima');
    w.line('var<workgroup> reds: array<f32, BM * TPR>; // per-row partial sums');
  }
  if (emu) {
    w.line('var<workgroup> sg_f: array<f32, WG>; // emulated subgroup exchange');
    w.line('var<workgroup> sg_u: array<u32, WG>;');
  }
  w.line();
  writeTableFunctions(w, null);
  if (emu) {
    w.block('fn sg_shuffle_xor(lid: u32, x: f32, m: u32) -> f32 {', () => {
      w.line('workgroupBarrier();');
      w.line('sg_f[lid] = x;');
      w.line('workgroupBarrier();');
      w.line('return sg_f[lid ^ m];');
    });
    w.block('fn sg_broadcast0(lid: u32, x: u32) -> u32 {', () => {
      w.line('workgroupBarrier();');
      w.line('sg_u[lid] = x;');
      w.line('workgroupBarrier();');
      w.line(`return sg_u[lid - lid % ${emu}u];`);
    });
  }
  const load = (buf: string, g: string, c: string) =>
    vec4In
      ? `${buf}[${g} / 4u]`
      : `vec4<f32>(${[0, 1, 2, 3].map((e) => (D % 4 === 0 || e === 0 ? `${buf}[${g}${e ? ` + ${e}u` : ''}]` : `select(0.0, ${buf}[${g} + ${e}u], ${c} + ${e}u < D)`)).join(', ')})`;
  w.line('// Loads vec4 c4 of row r (an element index of the row start) of a tensor, zero past D.');
  w.block('fn load_q(g: u32, c: u32) -> vec4<f32> {', () => w.line(`return ${load('q', 'g', 'c')};`));
  w.block('fn load_k(g: u32, c: u32) -> vec4<f32> {', () => w.line(`return ${load('k', 'g', 'c')};`));
  w.block('fn load_v(g: u32, c: u32) -> vec4<f32> {', () => w.line(`return ${load('v', 'g', 'c')};`));
  w.line('// Writes vec4 x at element g (column c) of the output, only the elements before D.');
  w.block('fn store_o(g: u32, c: u32, x: vec4<f32>) {', () => {
    for (let e = 0; e < 4; e++) {
      const st = `o[g + ${e}u] = bitcast<u32>(x[${e}]);`;
      if (D % 4 === 0) w.line(st);
      else w.block(`if (c + ${e}u < D) {`, () => w.line(st));
    }
  });
  w.block('fn resume_o(g: u32, c: u32) -> vec4<f32> {', () => {
    w.line(
      `return vec4<f32>(${[0, 1, 2, 3].map((e) => (D % 4 === 0 || e === 0 ? `bitcast<f32>(o[g + ${e}u])` : `select(0.0, bitcast<f32>(o[g + ${e}u]), c + ${e}u < D)`)).join(', ')});`,
    );
  });
  const stage = (dst: string, stride: string, fn: string) =>
    w.block('for (var x = lid; x < BN * D4; x += WG) {', () => {
      w.line('let j = j0 + i32(x / D4);');
      w.line('let c = (x % D4) * 4u;');
      w.line('var val = vec4<f32>(0.0);');
      w.block('if (j < n) {', () => w.line(`val = ${fn}(kv_base + u32(j) * D + c, c);`));
      w.line(`${dst}[(x / D4) * ${stride} + x % D4] = val;`);
    });
  w.line();
  w.line('@compute @workgroup_size(WG)');
  const sgArgs = sg && !emu ? ', @builtin(subgroup_invocation_id) sg_id: u32, @builtin(subgroup_size) sg_size: u32' : '';
  w.block(`fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${sgArgs}) {`, () => {
    w.line('let n = i32(params.n);');
    w.line('let h = wid.y;');
    w.line('let b = wid.z;');
    w.line('let i0 = i32(wid.x * BM);');
    w.line('let i1 = min(n, i0 + i32(BM));');
    w.line('// This invocation: rows rg * TM + a of the tile, keys b * TPR + tc, output vec4s tc + t * TPR.');
    if (sg) {
      w.line('// Lane numbers a subgroup at a time (the runtime picks this variant only when every subgroup is full and');
      w.line('// TPR divides its size), so that the TPR lanes of a row group are lanes of one subgroup, TPR-aligned.');
      if (emu) {
        w.line(`let sg_id = lid % ${emu}u;`);
        w.line(`let sg_size = ${emu}u;`);
      }
      w.line('var sg_base = 0u;');
      w.block('if (sg_id == 0u) {', () => w.line('sg_base = atomicAdd(&sg_next, sg_size);'));
      w.line(`let vid = ${emu ? 'sg_broadcast0(lid, sg_base)' : 'subgroupBroadcast(sg_base, 0u)'} + sg_id;`);
      w.line('let rg = vid / TPR;');
      w.line('let tc = vid % TPR;');
    } else {
      w.line('let rg = lid / TPR;');
      w.line('let tc = lid % TPR;');
    }
    w.line('let row0 = (b * H + h) * params.n;');
    w.line('let kv_base = (b * KV + h / GROUP) * params.n * D;');
    w.line('let lse_base = params.batch * H * params.n * D + row0;');
    writePassTiles(w);
    w.block('if (first == 0x7fffffff) {', () => {
      w.line('// No key tile at all: pass 0 writes the empty rows.');
      w.block('if (params.chunk == 0u) {', () => {
        for (const a of rows) {
          w.line(`let e${a} = i0 + i32(rg * TM + ${a}u);`);
          w.block(`if (e${a} < n) {`, () => {
            for (const c of cols) w.line(`store_o((row0 + u32(e${a})) * D + (tc + ${c}u * TPR) * 4u, (tc + ${c}u * TPR) * 4u, vec4<f32>(0.0));`);
            w.block('if (tc == 0u) {', () => w.line(`o[lse_base + u32(e${a})] = NEG_INF_BITS;`));
          });
        }
      });
      w.line('return;');
    });
    w.block('if (!in_pass) {', () => w.line('return;'));
    w.line('// The scaled Q tile, zero past N.');
    w.block('for (var x = lid; x < BM * D4; x += WG) {', () => {
      w.line('let r = i0 + i32(x / D4);');
      w.line('let c = (x % D4) * 4u;');
      w.line('var val = vec4<f32>(0.0);');
      w.block('if (r < n) {', () => w.line('val = load_q((row0 + u32(r)) * D + c, c);'));
      w.line('qs[x] = val * params.scale;');
    });
    w.line('// Softmax state per row, in registers (every lane of a row group holds the same values): resumed from the');
    w.line('// previous passes when the workgroup had tiles before this one.');
    w.line('let resume = first < c0;');
    for (const a of rows) {
      w.line(`let ri${a} = i0 + i32(rg * TM + ${a}u);`);
      w.line(`var m${a} = LOWEST;`);
      w.line(`var l${a} = 0.0;`);
      for (const c of cols) w.line(`var acc${a}_${c} = vec4<f32>(0.0);`);
      w.block(`if (resume && ri${a} < n) {`, () => {
        w.line(`let prev = o[lse_base + u32(ri${a})];`);
        w.block('if (prev != NEG_INF_BITS) {', () => {
          w.line(`m${a} = bitcast<f32>(prev);`);
          w.line(`l${a} = 1.0;`);
          for (const c of cols) w.line(`acc${a}_${c} = resume_o((row0 + u32(ri${a})) * D + (tc + ${c}u * TPR) * 4u, (tc + ${c}u * TPR) * 4u);`);
        });
      });
    }
    w.block('for (var s = 0u; s < TERM_SLOTS; s++) {', () => {
      w.line('let span = term_tiles(h, s, i0, i1, n);');
      w.block('for (var kt = max(span.x, c0); kt < min(span.y, c1); kt++) {', () => {
        w.line('// Skip a tile that an earlier term already visited.');
        w.line('var seen = false;');
        w.block('for (var e = 0u; e < s; e++) {', () => {
          w.line('let other = term_tiles(h, e, i0, i1, n);');
          w.line('seen = seen || (other.x <= kt && kt < other.y);');
        });
        w.block('if (seen) {', () => w.line('continue;'));
        w.line('let j0 = kt * i32(BN);');
        w.line('let jn = min(n, j0 + i32(BN)) - j0;');
        w.line('workgroupBarrier();');
        stage('ks', 'KS', 'load_k');
        if (t.splitKV) stage('vs', 'D4', 'load_v');
        w.line('workgroupBarrier();');
        w.line('// Scores of the micro-tile.');
        for (const a of rows) for (const b of keys) w.line(`var s${a}_${b} = 0.0;`);
        w.block('for (var d = 0u; d < D4; d++) {', () => {
          for (const a of rows) w.line(`let q${a} = qs[(rg * TM + ${a}u) * D4 + d];`);
          for (const b of keys) {
            w.line(`let k${b} = ks[(${b}u * TPR + tc) * KS + d];`);
            for (const a of rows) w.line(`s${a}_${b} += dot(q${a}, k${b});`);
          }
        });
        w.line('// Masks: keys past N always; the per-pair test only on tiles no single term covers.');
        w.line('let full = tile_full(h, i0, i1, j0, j0 + jn, n);');
        for (const a of rows)
          for (const b of keys) {
            w.line(`var ok${a}_${b} = i32(${b}u * TPR + tc) < jn;`);
            w.block('if (!full) {', () => w.line(`ok${a}_${b} = ok${a}_${b} && allowed(h, ri${a}, j0 + i32(${b}u * TPR + tc));`));
            w.line(`s${a}_${b} = select(LOWEST, s${a}_${b}, ok${a}_${b});`);
          }
        w.line('// Row maxima of the tile over the TPR lanes of the row group.');
        for (const a of rows) w.line(`var mt${a} = ${keys.slice(1).reduce((e, b) => `max(${e}, s${a}_${b})`, `s${a}_0`)};`);
        if (sg) {
          for (const m of masks) for (const a of rows) w.line(`mt${a} = max(mt${a}, ${shuffleXor(`mt${a}`, m)});`);
          if (!t.splitKV) w.line('workgroupBarrier();');
        } else {
          for (const a of rows) w.line(`redm[(rg * TM + ${a}u) * TPR + tc] = mt${a};`);
          w.line('workgroupBarrier();');
          for (const a of rows)
            w.line(`mt${a} = ${lanes.slice(1).reduce((e, x) => `max(${e}, redm[(rg * TM + ${a}u) * TPR + ${x}u])`, `redm[(rg * TM + ${a}u) * TPR]`)};`);
        }
        if (!t.splitKV) {
          w.line('// The K tile is no longer read: stage V into the same buffer.');
          stage('ks', 'KS', 'load_v');
        }
        w.line('// New running maxima, rescale factors, probabilities (0 where masked) and their partial row sums.');
        for (const a of rows) {
          w.line(`let mn${a} = max(m${a}, mt${a});`);
          w.line(`let cr${a} = exp(m${a} - mn${a});`);
          w.line(`m${a} = mn${a};`);
          w.line(`var sum${a} = 0.0;`);
          for (const b of keys) {
            w.line(`let p${a}_${b} = select(0.0, exp(s${a}_${b} - mn${a}), ok${a}_${b});`);
            w.line(`ps[(rg * TM + ${a}u) * BN + ${b}u * TPR + tc] = p${a}_${b};`);
            w.line(`sum${a} += p${a}_${b};`);
          }
        }
        if (sg) {
          for (const m of masks) for (const a of rows) w.line(`sum${a} += ${shuffleXor(`sum${a}`, m)};`);
          w.line('workgroupBarrier();');
        } else {
          for (const a of rows) w.line(`reds[(rg * TM + ${a}u) * TPR + tc] = sum${a};`);
          w.line('workgroupBarrier();');
          for (const a of rows)
            w.line(`sum${a} = ${lanes.slice(1).reduce((e, x) => `${e} + reds[(rg * TM + ${a}u) * TPR + ${x}u]`, `reds[(rg * TM + ${a}u) * TPR]`)};`);
        }
        w.line('// The output micro-tile: rescale, then add P V.');
        for (const a of rows) {
          w.line(`l${a} = l${a} * cr${a} + sum${a};`);
          for (const c of cols) w.line(`acc${a}_${c} *= cr${a};`);
        }
        w.block('for (var c = 0u; c < BN; c++) {', () => {
          for (const c of cols) w.line(t.splitKV ? `let v${c} = vs[c * D4 + tc + ${c}u * TPR];` : `let v${c} = ks[c * KS + tc + ${c}u * TPR];`);
          for (const a of rows) {
            w.line(`let pa${a} = ps[(rg * TM + ${a}u) * BN + c];`);
            for (const c of cols) w.line(`acc${a}_${c} += pa${a} * v${c};`);
          }
        });
      });
    });
    w.line('workgroupBarrier();');
    for (const a of rows) {
      w.block(`if (ri${a} < n) {`, () => {
        w.line(`let inv = select(0.0, 1.0 / l${a}, l${a} > 0.0);`);
        for (const c of cols) w.line(`store_o((row0 + u32(ri${a})) * D + (tc + ${c}u * TPR) * 4u, (tc + ${c}u * TPR) * 4u, acc${a}_${c} * inv);`);
        w.block('if (tc == 0u) {', () => {
          w.line(`o[lse_base + u32(ri${a})] = select(NEG_INF_BITS, bitcast<u32>(m${a} + log(select(1.0, l${a}, l${a} > 0.0))), l${a} > 0.0);`);
        });
      });
    }
  });
  return w.toString();
}
