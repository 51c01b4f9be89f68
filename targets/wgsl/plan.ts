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
}

export function planLayout(layout: LayoutIR): WgslPlan {
  const shape = tableShape(layout);
  const kvHeads = layout.kvHeads > 0 ? layout.kvHeads : layout.heads;
  const D = layout.headDim;
  const blockM = 64;
  // K and V tiles of blockN x D f32 each must fit the compatibility-mode workgroup memory.
  let blockN = 32;
  while (blockN > 1 && 2 * blockN * D * 4 > COMPAT_LIMITS.maxComputeWorkgroupStorageSize) blockN /= 2;
  const tableInts = layout.heads * shape.termSlots * shape.fieldsPerTerm;
  const tableVec4 = Math.ceil(tableInts / 4);
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
    sharedBytes: 2 * blockN * D * 4,
  };
}
