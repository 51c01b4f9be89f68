// Compile-time choices for one layout's WGSL kernel: tile shape, table packing, limits.
import { tableShape, type LayoutIR, type TableShape } from '../../src/ir/index.js';

/** WebGPU compatibility-mode defaults (what a device gets without requiredLimits). */
export const COMPAT_LIMITS = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 128,
  maxStorageBuffersPerShaderStage: 4,
  maxUniformBufferBindingSize: 16384,
} as const;

export interface WgslPlan {
  layout: LayoutIR;
  shape: TableShape;
  kvHeads: number;
  /** Query heads per kv head. */
  group: number;
  /** Query rows per workgroup (one invocation per row). */
  blockM: number;
  /** Keys per staged K/V tile. */
  blockN: number;
  /** int32 fields of the head table, and vec4<i32> slots that hold them in the uniform buffer. */
  tableInts: number;
  tableVec4: number;
  /** Bytes of the uniform buffer: 16 bytes of scalars, then the table. */
  paramsBytes: number;
  /** Bytes of workgroup memory the kernel declares. */
  sharedBytes: number;
  /** Key tiles one dispatch (pass) visits at most; the host dispatches ceil(ceil(N / blockN) / tilesPerPass) passes. */
  tilesPerPass: number;
}

/**
 * Mesa's software drivers (llvmpipe under Dawn's OpenGL backend, lavapipe under Vulkan) give each
 * shader invocation group one loop counter shared by all its loops (gallivm's
 * LP_MAX_TGSI_LOOP_ITERATIONS = 65535): once 65535 loop iterations have run, every loop exits
 * after its current iteration and the shader goes on, writing wrong or no results, with no error.
 * Every iteration counts, the one that leaves the loop too, and a loop inside a branch that some
 * lanes skip still runs for the others (both sides of an if run when the lanes diverge).
 */
export const MESA_LOOP_LIMIT = 65535;
/** The kernel keeps each pass within half of that limit (margin for loops the compilers add). */
export const LOOP_BUDGET = 32768;

/**
 * An upper bound on the loop iterations one invocation of the shader (shader.ts) runs in a pass
 * that visits `tiles` key tiles: every loop is counted with its most iterations plus the exit
 * iteration, every branch as taken. (The loops over D are unrolled in the shader.)
 */
export function loopIterations(p: Pick<WgslPlan, 'blockM' | 'blockN' | 'shape'> & { layout: { headDim: number } }, tiles: number): number {
  const D = p.layout.headDim;
  const TS = p.shape.termSlots;
  const MS = p.shape.modSlots;
  const BN = p.blockN;
  const loads = Math.ceil((BN * Math.ceil(D / 4)) / p.blockM) + 1;
  const fixed =
    2 * loads + // Tint's zero-initialisation of the two workgroup arrays
    (TS + 1) + // the pass's tile range per term
    (D + 1) + // empty rows (the workgroup returns after it)
    (TS + 1) + // the term loop
    (D + 1); // the output of a row with no allowed key
  const perTerm = (tiles + 1) * (1 + TS); // the tile loop of one term, each iteration testing the earlier terms
  const perKey = TS + 1; // allowed()
  const tileFull = TS + 1 + TS * (MS + 1); // tile_full(): its term loop, and full_key_span()'s loop over the mod slots per term
  const perTile = loads + tileFull + (BN + 1) + BN * perKey; // stage K/V; tile_full(); the keys
  return fixed + TS * perTerm + tiles * perTile;
}

/** Choices a caller may force (tests: fewer key tiles per pass, to exercise the resume between passes). */
export interface WgslPlanOverrides {
  tilesPerPass?: number;
}

export function planLayout(layout: LayoutIR, overrides: WgslPlanOverrides = {}): WgslPlan {
  const shape = tableShape(layout);
  const kvHeads = layout.kvHeads > 0 ? layout.kvHeads : layout.heads;
  const D = layout.headDim;
  // Rows are staged as ceil(D / 4) vec4s.
  const D4x4 = 4 * Math.ceil(D / 4);
  const blockM = 64;
  // K and V tiles of blockN x D f32 each must fit the compatibility-mode workgroup memory.
  let blockN = 32;
  while (blockN > 1 && 2 * blockN * D4x4 * 4 > COMPAT_LIMITS.maxComputeWorkgroupStorageSize) blockN /= 2;
  const tableInts = layout.heads * shape.termSlots * shape.fieldsPerTerm;
  const tableVec4 = Math.ceil(tableInts / 4);
  let tilesPerPass = 1;
  const bound = { blockM, blockN, shape, layout: { headDim: D } };
  while (loopIterations(bound, tilesPerPass + 1) <= LOOP_BUDGET) tilesPerPass++;
  if (loopIterations(bound, tilesPerPass) > LOOP_BUDGET)
    throw new Error(`internal: one key tile of layout ${layout.name} needs ${loopIterations(bound, 1)} loop iterations, over the budget of ${LOOP_BUDGET}`);
  if (overrides.tilesPerPass !== undefined) {
    if (!Number.isInteger(overrides.tilesPerPass) || overrides.tilesPerPass < 1 || overrides.tilesPerPass > tilesPerPass)
      throw new RangeError(`tilesPerPass must be an integer in 1..${tilesPerPass} for layout ${layout.name}, got ${overrides.tilesPerPass}`);
    tilesPerPass = overrides.tilesPerPass;
  }
  return {
    layout,
    shape,
    kvHeads,
    group: layout.heads / kvHeads,
    blockM,
    blockN,
    tableInts,
    tableVec4,
    paramsBytes: 16 + 16 * tableVec4,
    sharedBytes: 2 * blockN * D4x4 * 4,
    tilesPerPass,
  };
}
