// The JavaScript ES module for one layout: the shader source, the head table builder (from
// codegen/host.ts), bind group layout entries, and createAttention / dispatch host code.
import { jsHostTable } from '../../codegen/host.js';
import { CodeWriter } from '../../codegen/writer.js';
import type { WgslPlan } from './plan.js';

/** Host code shared by every layout; it reads the constants the module defines above it. */
const RUNTIME = String.raw`
// WebGPU flag values, spelled out so the module needs no globals at load time.
const STORAGE = 0x80, UNIFORM = 0x40, COPY_DST = 0x08, COPY_SRC = 0x04, MAP_READ = 0x01, COMPUTE = 0x4;

/** Bindings: 0 params (uniform: N, batch, scale, head table), 1 q, 2 k, 3 v (read-only storage), 4 out + lse (storage). */
export const bindGroupLayoutEntries = Object.freeze([
  { binding: 0, visibility: COMPUTE, buffer: { type: 'uniform', minBindingSize: PARAMS_BYTES } },
  { binding: 1, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
  { binding: 2, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
  { binding: 3, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
  { binding: 4, visibility: COMPUTE, buffer: { type: 'storage' } },
]);

/** Limits the kernel needs beyond none at all; all are within WebGPU compatibility-mode defaults. */
export const REQUIRED_LIMITS = Object.freeze({
  maxStorageBuffersPerShaderStage: 4,
  maxUniformBufferBindingSize: PARAMS_BYTES,
  maxComputeWorkgroupStorageSize: SHARED_BYTES,
  maxComputeInvocationsPerWorkgroup: BLOCK_M,
  maxComputeWorkgroupSizeX: BLOCK_M,
});

function fail(msg) {
  return new Error('spc wgsl (layout ' + LAYOUT.name + '): ' + msg);
}

function checkCount(name, x) {
  if (!Number.isSafeInteger(x) || x < 1) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): ' + name + ' must be a positive integer, got ' + x);
}

/** Element counts and byte sizes of every tensor at length N and batch B. */
export function sizes(N, batch = 1) {
  checkCount('N', N);
  checkCount('batch', batch);
  const q = batch * LAYOUT.heads * N * LAYOUT.headDim;
  const kv = batch * LAYOUT.kvHeads * N * LAYOUT.headDim;
  const lse = batch * LAYOUT.heads * N;
  return { q, k: kv, v: kv, out: q, lse, outBytes: 4 * (q + lse) };
}

/**
 * Compute passes (dispatches) per attention call at length N: each visits at most TILES_PER_PASS
 * key tiles per workgroup, so that no invocation runs past the loop-iteration limit of Mesa's
 * software drivers (llvmpipe, lavapipe), which otherwise end the shader's loops early and return
 * wrong results without an error.
 */
export function passes(N) {
  checkCount('N', N);
  return Math.max(1, Math.ceil(Math.ceil(N / BLOCK_N) / TILES_PER_PASS));
}

/** The uniform buffer's contents: N, batch, scale, chunk 0, then the head table for N. */
export function paramsData(N, batch = 1, scale = 1 / Math.sqrt(LAYOUT.headDim)) {
  checkCount('N', N);
  checkCount('batch', batch);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): scale must be a finite number, got ' + scale);
  const table = headTable(N);
  const buf = new ArrayBuffer(PARAMS_BYTES);
  const u = new Uint32Array(buf);
  u[0] = N;
  u[1] = batch;
  new Float32Array(buf)[2] = scale;
  u[3] = 0;
  new Int32Array(buf, 16).set(table);
  return buf;
}

/** Throws a useful error when the device cannot run the kernel at this size. */
export function checkDevice(device, N = 1, batch = 1) {
  if (!device || typeof device.createShaderModule !== 'function' || !device.limits) throw new TypeError('spc wgsl (layout ' + LAYOUT.name + '): expected a GPUDevice, got ' + device);
  const need = { ...REQUIRED_LIMITS, maxComputeWorkgroupsPerDimension: Math.max(Math.ceil(N / BLOCK_M), LAYOUT.heads, batch) };
  const s = sizes(N, batch);
  need.maxStorageBufferBindingSize = Math.max(4 * s.q, s.outBytes);
  need.maxBufferSize = need.maxStorageBufferBindingSize;
  for (const [name, value] of Object.entries(need)) {
    const have = device.limits[name];
    if (have !== undefined && have < value)
      throw fail('the device allows ' + name + ' = ' + have + ' but this kernel needs ' + value + ' (N = ' + N + ', batch = ' + batch + '); request it with adapter.requestDevice({ requiredLimits: { ' + name + ': ' + value + ' } }) if the adapter allows it');
  }
}

/** Compiles the shader and builds the pipeline; shader errors are thrown with their WGSL line. */
export async function createPipeline(device) {
  checkDevice(device);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: 'spc ' + LAYOUT.name, code: WGSL });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    await device.popErrorScope();
    const lines = WGSL.split('\n');
    throw fail('the WGSL shader does not compile:\n' + errors.map((m) => '  line ' + m.lineNum + ':' + m.linePos + ': ' + m.message + '\n    ' + (lines[m.lineNum - 1] ?? '').trim()).join('\n'));
  }
  const bindGroupLayout = device.createBindGroupLayout({ label: 'spc ' + LAYOUT.name, entries: bindGroupLayoutEntries });
  const layout = device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
  let pipeline;
  try {
    pipeline = await device.createComputePipelineAsync({ label: 'spc ' + LAYOUT.name, layout, compute: { module, entryPoint: 'main' } });
  } catch (e) {
    await device.popErrorScope();
    throw fail('the compute pipeline could not be created: ' + (e && e.message ? e.message : e));
  }
  const err = await device.popErrorScope();
  if (err) throw fail('WebGPU validation error while building the pipeline: ' + err.message);
  return { module, bindGroupLayout, pipeline };
}

function checkBuffer(name, buf, bytes, usage) {
  if (!buf || typeof buf.size !== 'number') throw new TypeError('spc wgsl (layout ' + LAYOUT.name + '): buffers.' + name + ' must be a GPUBuffer');
  if (buf.size < bytes) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): buffers.' + name + ' has ' + buf.size + ' bytes but needs ' + bytes);
  if (typeof buf.usage === 'number' && (buf.usage & usage) !== usage) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): buffers.' + name + ' lacks usage flags 0x' + usage.toString(16) + ' (has 0x' + buf.usage.toString(16) + ')');
}

/**
 * Allocates (or accepts) the buffers for length n and batch size, and returns run(q, k, v)
 * (upload, compute, read back) and dispatch(encoder) (record the compute pass only).
 */
export async function createAttention(device, options = {}) {
  const N = options.n ?? LAYOUT.seq;
  if (N === null || N === undefined) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): options.n (the sequence length) is required');
  const batch = options.batch ?? 1;
  checkCount('n', N);
  checkCount('batch', batch);
  const params = paramsData(N, batch, options.scale ?? 1 / Math.sqrt(LAYOUT.headDim));
  checkDevice(device, N, batch);
  const { pipeline, bindGroupLayout } = await createPipeline(device);
  const s = sizes(N, batch);
  const given = options.buffers ?? {};
  const owned = [];
  const make = (name, bytes, usage) => {
    if (given[name]) {
      checkBuffer(name, given[name], bytes, STORAGE);
      return given[name];
    }
    const b = device.createBuffer({ label: 'spc ' + LAYOUT.name + ' ' + name, size: bytes, usage });
    owned.push(b);
    return b;
  };
  const buffers = {
    q: make('q', 4 * s.q, STORAGE | COPY_DST),
    k: make('k', 4 * s.k, STORAGE | COPY_DST),
    v: make('v', 4 * s.v, STORAGE | COPY_DST),
    out: make('out', s.outBytes, STORAGE | COPY_SRC | COPY_DST),
  };
  const paramsBuffer = device.createBuffer({ label: 'spc ' + LAYOUT.name + ' params', size: PARAMS_BYTES, usage: UNIFORM | COPY_DST });
  owned.push(paramsBuffer);
  device.queue.writeBuffer(paramsBuffer, 0, params);
  const bindGroup = device.createBindGroup({
    label: 'spc ' + LAYOUT.name,
    layout: bindGroupLayout,
    entries: [
      { binding: 0, resource: { buffer: paramsBuffer } },
      { binding: 1, resource: { buffer: buffers.q, size: 4 * s.q } },
      { binding: 2, resource: { buffer: buffers.k, size: 4 * s.k } },
      { binding: 3, resource: { buffer: buffers.v, size: 4 * s.v } },
      { binding: 4, resource: { buffer: buffers.out, size: s.outBytes } },
    ],
  });
  const grid = [Math.ceil(N / BLOCK_M), LAYOUT.heads, batch];
  // One compute pass per chunk of TILES_PER_PASS key tiles (see passes()); before each, a copy
  // sets the uniform's chunk field (bytes 12..16) from a buffer holding 0, 1, 2, ...
  const nPasses = passes(N);
  const chunkBuffer = device.createBuffer({ label: 'spc ' + LAYOUT.name + ' chunks', size: 4 * nPasses, usage: COPY_SRC | COPY_DST });
  owned.push(chunkBuffer);
  device.queue.writeBuffer(chunkBuffer, 0, Uint32Array.from({ length: nPasses }, (_, c) => c));
  function dispatch(encoder) {
    for (let c = 0; c < nPasses; c++) {
      encoder.copyBufferToBuffer(chunkBuffer, 4 * c, paramsBuffer, 12, 4);
      const pass = encoder.beginComputePass({ label: 'spc ' + LAYOUT.name + ' pass ' + c });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
      pass.end();
    }
  }
  let readback = null;
  let queue = Promise.resolve();
  async function run1(q, k, v) {
    for (const [name, arr, n] of [['q', q, s.q], ['k', k, s.k], ['v', v, s.v]]) {
      if (!(arr instanceof Float32Array)) throw new TypeError('spc wgsl (layout ' + LAYOUT.name + '): ' + name + ' must be a Float32Array');
      if (arr.length !== n) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): ' + name + ' has ' + arr.length + ' elements, expected ' + n + ' = ' + [batch, name === 'q' ? LAYOUT.heads : LAYOUT.kvHeads, N, LAYOUT.headDim].join(' x '));
    }
    if (given.out && typeof buffers.out.usage === 'number' && (buffers.out.usage & COPY_SRC) === 0) throw new RangeError('spc wgsl (layout ' + LAYOUT.name + '): run() reads buffers.out back, so it needs COPY_SRC usage');
    if (!readback) {
      readback = device.createBuffer({ label: 'spc ' + LAYOUT.name + ' readback', size: s.outBytes, usage: MAP_READ | COPY_DST });
      owned.push(readback);
    }
    device.pushErrorScope('validation');
    device.queue.writeBuffer(buffers.q, 0, q);
    device.queue.writeBuffer(buffers.k, 0, k);
    device.queue.writeBuffer(buffers.v, 0, v);
    const encoder = device.createCommandEncoder();
    dispatch(encoder);
    encoder.copyBufferToBuffer(buffers.out, 0, readback, 0, s.outBytes);
    device.queue.submit([encoder.finish()]);
    const err = await device.popErrorScope();
    if (err) throw fail('WebGPU validation error: ' + err.message);
    await readback.mapAsync(1);
    const all = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return { out: all.subarray(0, s.out), lse: all.subarray(s.out) };
  }
  /** Uploads q, k, v (Float32Array), computes, and resolves to { out, lse } (Float32Array). */
  function run(q, k, v) {
    const r = queue.then(() => run1(q, k, v));
    queue = r.catch(() => undefined);
    return r;
  }
  function destroy() {
    for (const b of owned) b.destroy();
  }
  return { n: N, batch, grid, passes: nPasses, buffers, pipeline, bindGroup, run, dispatch, destroy };
}

/** Records the attention's compute pass into encoder (for callers who manage buffers and submission). */
export function dispatch(encoder, attention) {
  attention.dispatch(encoder);
}
`;

export function jsModule(p: WgslPlan, shader: string, version: string): string {
  const L = p.layout;
  const w = new CodeWriter();
  w.line(`// Generated by spc ${version} for layout ${L.name}. Do not edit.`);
  w.line(`// WebGPU forward attention (f32) for this layout; see ${L.name}.d.ts for the API.`);
  w.line();
  w.lines_(jsHostTable(L).trimEnd().split('\n'));
  w.line();
  const layout = { name: L.name, heads: L.heads, kvHeads: p.kvHeads, headDim: L.headDim, dtype: L.dtype, seq: L.seq, causal: L.causal };
  w.line(`export const LAYOUT = Object.freeze(${JSON.stringify(layout)});`);
  w.line(`export const BLOCK_M = ${p.blockM};`);
  w.line(`export const BLOCK_N = ${p.blockN};`);
  w.line(`export const WORKGROUP_SIZE = Object.freeze([${p.blockM}, 1, 1]);`);
  w.line(`export const TILES_PER_PASS = ${p.tilesPerPass};`);
  w.line(`export const PARAMS_BYTES = ${p.paramsBytes};`);
  w.line(`export const SHARED_BYTES = ${p.sharedBytes};`);
  w.line('/** The compute shader (entry point main). */');
  w.line(`export const WGSL = ${JSON.stringify(shader)};`);
  w.lines_(RUNTIME.trimEnd().split('\n'));
  return w.toString();
}
