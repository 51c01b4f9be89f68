// @ts-check
// spc's WebGPU host runtime: buffer sizes, the uniform buffer, device checks, pipeline
// building, createAttention and dispatch, shared by every layout that `spc compile --target
// wgsl` emits. spc copies this file unchanged next to the layout modules as
// `spc-wgsl-runtime.js`; each layout module (`<name>.js`) imports it with a relative path and
// passes it a kernel description: its layout constants, its WGSL shader and its head table.
// The source is targets/wgsl/runtime/spc-wgsl-runtime.js in the spc repository; its types are
// in spc-wgsl-runtime.d.ts beside it.

/** @import { Attention, AttentionBuffers, AttentionOptions, AttentionResult, AttentionSizes, Pipeline, WgslKernel } from './spc-wgsl-runtime.js' */

/** Version of the contract between layout modules and this runtime; a mismatch means the files come from different spc versions. */
export const ABI = 3;

// WebGPU flag values, spelled out so the runtime needs no globals at load time.
const STORAGE = 0x80,
  UNIFORM = 0x40,
  COPY_DST = 0x08,
  COPY_SRC = 0x04,
  MAP_READ = 0x01,
  COMPUTE = 0x4;

/**
 * @param {WgslKernel} kernel
 * @param {string} msg
 */
function fail(kernel, msg) {
  return new Error(prefix(kernel) + msg);
}

/** @param {WgslKernel} kernel */
function prefix(kernel) {
  return 'spc wgsl (layout ' + kernel.layout.name + '): ';
}

/**
 * @param {WgslKernel} kernel
 * @param {string} name
 * @param {unknown} x
 * @returns {asserts x is number}
 */
function checkCount(kernel, name, x) {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1) throw new RangeError(prefix(kernel) + name + ' must be a positive integer, got ' + x);
}

/**
 * Checks a layout module's kernel description and freezes it. Throws when the module was
 * generated for another version of this runtime.
 * @param {WgslKernel} kernel
 * @returns {Readonly<WgslKernel>}
 */
export function defineKernel(kernel) {
  if (!kernel || typeof kernel !== 'object') throw new TypeError('spc wgsl: defineKernel expects a kernel description');
  const name = kernel.layout && kernel.layout.name;
  if (kernel.abi !== ABI)
    throw new Error(
      'spc wgsl (layout ' +
        name +
        '): the module was generated for runtime ABI ' +
        kernel.abi +
        ' but spc-wgsl-runtime.js implements ABI ' +
        ABI +
        '; compile the layout again with the same spc that wrote spc-wgsl-runtime.js',
    );
  for (const key of /** @type {const} */ (['blockM', 'blockN', 'tilesPerPass', 'paramsBytes', 'sharedBytes'])) {
    if (!Number.isSafeInteger(kernel[key]) || kernel[key] < 1)
      throw new TypeError('spc wgsl (layout ' + name + '): kernel.' + key + ' must be a positive integer');
  }
  if (typeof kernel.wgsl !== 'string' || typeof kernel.headTable !== 'function')
    throw new TypeError('spc wgsl (layout ' + name + '): kernel.wgsl must be a string and kernel.headTable a function');
  const t = kernel.tiled;
  if (t !== null && t !== undefined) {
    for (const key of /** @type {const} */ (['blockM', 'blockN', 'invocations', 'tilesPerPass', 'sharedBytes'])) {
      if (!Number.isSafeInteger(t[key]) || t[key] < 1)
        throw new TypeError('spc wgsl (layout ' + name + '): kernel.tiled.' + key + ' must be a positive integer');
    }
    if (typeof t.wgsl !== 'string') throw new TypeError('spc wgsl (layout ' + name + '): kernel.tiled.wgsl must be a string');
  }
  return Object.freeze({ ...kernel, variant: 'rows', tiled: t ? Object.freeze({ ...t }) : null });
}

/**
 * The kernel description of one variant: 'rows' (one invocation per query row, the fallback)
 * or 'tiled' (a workgroup of kernel.tiled.invocations per tile of query rows). The result has
 * the same fields, with the variant's tile shape, limits and shader.
 * @param {WgslKernel} kernel
 * @param {'rows' | 'tiled'} name
 * @returns {Readonly<WgslKernel>}
 */
export function variant(kernel, name) {
  if (kernel.variant === 'tiled') throw fail(kernel, 'internal: variant() expects the kernel from defineKernel()');
  if (name === 'rows') return kernel;
  if (name !== 'tiled') throw new RangeError(prefix(kernel) + "variant must be 'auto', 'rows' or 'tiled', got " + name);
  const t = kernel.tiled;
  if (!t) throw new RangeError(prefix(kernel) + 'this layout has no tiled variant (no tile configuration fits its head_dim)');
  return Object.freeze({ ...kernel, ...t, variant: 'tiled', tiled: null });
}

/**
 * The variant createAttention uses on this device: 'tiled' when the layout has one and the
 * device's limits allow its workgroup memory and invocations, else 'rows'.
 * @param {WgslKernel} kernel
 * @param {GPUDevice} device
 * @returns {'rows' | 'tiled'}
 */
export function pickVariant(kernel, device) {
  const t = kernel.tiled;
  if (!t) return 'rows';
  const limits = /** @type {Record<string, number | undefined>} */ (/** @type {unknown} */ (device.limits));
  const ok = (/** @type {string} */ key, /** @type {number} */ need) => limits[key] === undefined || /** @type {number} */ (limits[key]) >= need;
  return ok('maxComputeWorkgroupStorageSize', t.sharedBytes) &&
    ok('maxComputeInvocationsPerWorkgroup', t.invocations) &&
    ok('maxComputeWorkgroupSizeX', t.invocations)
    ? 'tiled'
    : 'rows';
}

/**
 * Bindings: 0 params (uniform: N, batch, scale, chunk, head table), 1 q, 2 k, 3 v (read-only storage),
 * 4 out + lse (storage).
 * @param {WgslKernel} kernel
 * @returns {readonly GPUBindGroupLayoutEntry[]}
 */
export function bindGroupLayoutEntries(kernel) {
  return Object.freeze([
    { binding: 0, visibility: COMPUTE, buffer: { type: 'uniform', minBindingSize: kernel.paramsBytes } },
    { binding: 1, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 2, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 3, visibility: COMPUTE, buffer: { type: 'read-only-storage' } },
    { binding: 4, visibility: COMPUTE, buffer: { type: 'storage' } },
  ]);
}

/**
 * Limits the kernel needs beyond none at all; all are within WebGPU compatibility-mode defaults.
 * @param {WgslKernel} kernel
 * @returns {Readonly<Record<string, number>>}
 */
export function requiredLimits(kernel) {
  return Object.freeze({
    maxStorageBuffersPerShaderStage: 4,
    maxUniformBufferBindingSize: kernel.paramsBytes,
    maxComputeWorkgroupStorageSize: kernel.sharedBytes,
    maxComputeInvocationsPerWorkgroup: kernel.invocations ?? kernel.blockM,
    maxComputeWorkgroupSizeX: kernel.invocations ?? kernel.blockM,
  });
}

/**
 * Element counts and byte sizes of every tensor at length N and batch B.
 * @param {WgslKernel} kernel
 * @param {number} N
 * @param {number} [batch]
 * @returns {AttentionSizes}
 */
export function sizes(kernel, N, batch = 1) {
  checkCount(kernel, 'N', N);
  checkCount(kernel, 'batch', batch);
  const L = kernel.layout;
  const q = batch * L.heads * N * L.headDim;
  const kv = batch * L.kvHeads * N * L.headDim;
  const lse = batch * L.heads * N;
  return { q, k: kv, v: kv, out: q, lse, outBytes: 4 * (q + lse) };
}

/**
 * Compute passes (dispatches) per attention call at length N: each visits at most
 * kernel.tilesPerPass key tiles per workgroup, so that no invocation runs past the loop-iteration
 * limit of Mesa's software drivers (llvmpipe, lavapipe), which otherwise end the shader's loops
 * early and return wrong results without an error.
 * @param {WgslKernel} kernel
 * @param {number} N
 * @returns {number}
 */
export function passes(kernel, N) {
  checkCount(kernel, 'N', N);
  return Math.max(1, Math.ceil(Math.ceil(N / kernel.blockN) / kernel.tilesPerPass));
}

/**
 * The uniform buffer's contents: N, batch, scale, chunk 0, then the head table for N.
 * @param {WgslKernel} kernel
 * @param {number} N
 * @param {number} [batch]
 * @param {number} [scale] the softmax scale; default 1/sqrt(D)
 * @returns {ArrayBuffer}
 */
export function paramsData(kernel, N, batch = 1, scale = 1 / Math.sqrt(kernel.layout.headDim)) {
  checkCount(kernel, 'N', N);
  checkCount(kernel, 'batch', batch);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new RangeError(prefix(kernel) + 'scale must be a finite number, got ' + scale);
  const table = kernel.headTable(N);
  const buf = new ArrayBuffer(kernel.paramsBytes);
  const u = new Uint32Array(buf);
  u[0] = N;
  u[1] = batch;
  new Float32Array(buf)[2] = scale;
  u[3] = 0; // chunk: the pass index, which dispatch() sets before each pass
  new Int32Array(buf, 16).set(table);
  return buf;
}

/**
 * Throws a useful error when the device cannot run the kernel at this size.
 * @param {WgslKernel} kernel
 * @param {GPUDevice} device
 * @param {number} [N]
 * @param {number} [batch]
 */
export function checkDevice(kernel, device, N = 1, batch = 1) {
  if (!device || typeof device.createShaderModule !== 'function' || !device.limits) throw new TypeError(prefix(kernel) + 'expected a GPUDevice, got ' + device);
  /** @type {Record<string, number>} */
  const need = { ...requiredLimits(kernel), maxComputeWorkgroupsPerDimension: Math.max(Math.ceil(N / kernel.blockM), kernel.layout.heads, batch) };
  const s = sizes(kernel, N, batch);
  need.maxStorageBufferBindingSize = Math.max(4 * s.q, s.outBytes);
  need.maxBufferSize = need.maxStorageBufferBindingSize;
  const limits = /** @type {Record<string, number | undefined>} */ (/** @type {unknown} */ (device.limits));
  for (const [name, value] of Object.entries(need)) {
    const have = limits[name];
    if (have !== undefined && have < value)
      throw fail(
        kernel,
        'the device allows ' +
          name +
          ' = ' +
          have +
          ' but this kernel needs ' +
          value +
          ' (N = ' +
          N +
          ', batch = ' +
          batch +
          '); request it with adapter.requestDevice({ requiredLimits: { ' +
          name +
          ': ' +
          value +
          ' } }) if the adapter allows it',
      );
  }
}

/**
 * Compiles the shader and builds the pipeline; shader errors are thrown with their WGSL line.
 * @param {WgslKernel} kernel
 * @param {GPUDevice} device
 * @returns {Promise<Pipeline>}
 */
export async function createPipeline(kernel, device) {
  checkDevice(kernel, device);
  const label = 'spc ' + kernel.layout.name;
  device.pushErrorScope('validation');
  let module;
  try {
    module = device.createShaderModule({ label, code: kernel.wgsl });
  } catch (e) {
    await device.popErrorScope();
    throw e;
  }
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    await device.popErrorScope();
    const lines = kernel.wgsl.split('\n');
    throw fail(
      kernel,
      'the WGSL shader does not compile:\n' +
        errors.map((m) => '  line ' + m.lineNum + ':' + m.linePos + ': ' + m.message + '\n    ' + (lines[m.lineNum - 1] ?? '').trim()).join('\n'),
    );
  }
  let pipeline, bindGroupLayout;
  try {
    bindGroupLayout = device.createBindGroupLayout({ label, entries: bindGroupLayoutEntries(kernel) });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
    pipeline = await device.createComputePipelineAsync({ label, layout, compute: { module, entryPoint: 'main' } });
  } catch (e) {
    await device.popErrorScope();
    const why = /** @type {{ message?: string } | null | undefined} */ (e);
    throw fail(kernel, 'the compute pipeline could not be created: ' + (why && why.message ? why.message : e));
  }
  const err = await device.popErrorScope();
  if (err) throw fail(kernel, 'WebGPU validation error while building the pipeline: ' + err.message);
  return { module, bindGroupLayout, pipeline };
}

/**
 * @param {WgslKernel} kernel
 * @param {string} name
 * @param {GPUBuffer} buf
 * @param {number} bytes
 * @param {number} usage
 */
function checkBuffer(kernel, name, buf, bytes, usage) {
  if (!buf || typeof buf.size !== 'number') throw new TypeError(prefix(kernel) + 'buffers.' + name + ' must be a GPUBuffer');
  if (buf.size < bytes) throw new RangeError(prefix(kernel) + 'buffers.' + name + ' has ' + buf.size + ' bytes but needs ' + bytes);
  if (typeof buf.usage === 'number' && (buf.usage & usage) !== usage)
    throw new RangeError(prefix(kernel) + 'buffers.' + name + ' lacks usage flags 0x' + usage.toString(16) + ' (has 0x' + buf.usage.toString(16) + ')');
}

/**
 * Allocates (or accepts) the buffers for length n and batch size, and returns run(q, k, v)
 * (upload, compute, read back) and dispatch(encoder) (record the compute passes only).
 * @param {WgslKernel} base the kernel from defineKernel()
 * @param {GPUDevice} device
 * @param {AttentionOptions} [options]
 * @returns {Promise<Attention>}
 */
export async function createAttention(base, device, options = {}) {
  const L = base.layout;
  if (!device || typeof device.createShaderModule !== 'function' || !device.limits) throw new TypeError(prefix(base) + 'expected a GPUDevice, got ' + device);
  const want = options.variant ?? 'auto';
  const kernel = variant(base, want === 'auto' ? pickVariant(base, device) : want);
  const N = options.n ?? L.seq;
  if (N === null || N === undefined) throw new RangeError(prefix(kernel) + 'options.n (the sequence length) is required');
  const batch = options.batch ?? 1;
  checkCount(kernel, 'n', N);
  checkCount(kernel, 'batch', batch);
  const params = paramsData(kernel, N, batch, options.scale ?? 1 / Math.sqrt(L.headDim));
  checkDevice(kernel, device, N, batch);
  const { pipeline, bindGroupLayout } = await createPipeline(kernel, device);
  const s = sizes(kernel, N, batch);
  const given = options.buffers ?? {};
  /** @type {GPUBuffer[]} */
  const owned = [];
  /**
   * The caller's buffer `name` (checked), or a new one this object owns.
   * @param {keyof AttentionBuffers} name
   * @param {number} bytes
   * @param {number} usage
   */
  const make = (name, bytes, usage) => {
    const mine = given[name];
    if (mine) {
      checkBuffer(kernel, name, mine, bytes, STORAGE);
      return mine;
    }
    const b = device.createBuffer({ label: 'spc ' + L.name + ' ' + name, size: bytes, usage });
    owned.push(b);
    return b;
  };
  /** @type {AttentionBuffers} */
  const buffers = {
    q: make('q', 4 * s.q, STORAGE | COPY_DST),
    k: make('k', 4 * s.k, STORAGE | COPY_DST),
    v: make('v', 4 * s.v, STORAGE | COPY_DST),
    out: make('out', s.outBytes, STORAGE | COPY_SRC | COPY_DST),
  };
  const paramsBuffer = device.createBuffer({ label: 'spc ' + L.name + ' params', size: kernel.paramsBytes, usage: UNIFORM | COPY_DST });
  owned.push(paramsBuffer);
  device.queue.writeBuffer(paramsBuffer, 0, params);
  const bindGroup = device.createBindGroup({
    label: 'spc ' + L.name,
    layout: bindGroupLayout,
    entries: [
      { binding: 0, resource: { buffer: paramsBuffer } },
      { binding: 1, resource: { buffer: buffers.q, size: 4 * s.q } },
      { binding: 2, resource: { buffer: buffers.k, size: 4 * s.k } },
      { binding: 3, resource: { buffer: buffers.v, size: 4 * s.v } },
      { binding: 4, resource: { buffer: buffers.out, size: s.outBytes } },
    ],
  });
  /** @type {[number, number, number]} */
  const grid = [Math.ceil(N / kernel.blockM), L.heads, batch];
  // One compute pass per chunk of kernel.tilesPerPass key tiles (see passes()); before each, a
  // copy sets the uniform's chunk field (bytes 12..16) from a buffer holding 0, 1, 2, ...
  const nPasses = passes(kernel, N);
  const chunkBuffer = device.createBuffer({ label: 'spc ' + L.name + ' chunks', size: 4 * nPasses, usage: COPY_SRC | COPY_DST });
  owned.push(chunkBuffer);
  device.queue.writeBuffer(
    chunkBuffer,
    0,
    Uint32Array.from({ length: nPasses }, (_, c) => c),
  );
  /**
   * Records the compute passes into encoder, each after the copy that sets its chunk index.
   * With timestampWrites (a device with 'timestamp-query'), the first pass writes
   * beginningOfPassWriteIndex at its start and the last pass endOfPassWriteIndex at its end, so
   * the two timestamps bracket the whole call's GPU work.
   * @param {GPUCommandEncoder} encoder
   * @param {GPUComputePassTimestampWrites} [timestampWrites]
   */
  function dispatch(encoder, timestampWrites) {
    for (let c = 0; c < nPasses; c++) {
      encoder.copyBufferToBuffer(chunkBuffer, 4 * c, paramsBuffer, 12, 4);
      /** @type {GPUComputePassDescriptor} */
      const desc = { label: 'spc ' + L.name + ' pass ' + c };
      if (timestampWrites) {
        /** @type {GPUComputePassTimestampWrites} */
        const tw = { querySet: timestampWrites.querySet };
        if (c === 0 && timestampWrites.beginningOfPassWriteIndex !== undefined) tw.beginningOfPassWriteIndex = timestampWrites.beginningOfPassWriteIndex;
        if (c === nPasses - 1 && timestampWrites.endOfPassWriteIndex !== undefined) tw.endOfPassWriteIndex = timestampWrites.endOfPassWriteIndex;
        if (tw.beginningOfPassWriteIndex !== undefined || tw.endOfPassWriteIndex !== undefined) desc.timestampWrites = tw;
      }
      const pass = encoder.beginComputePass(desc);
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
      pass.end();
    }
  }
  /** @type {GPUBuffer | null} */
  let readback = null;
  /** @type {Promise<unknown>} */
  let queue = Promise.resolve();
  /**
   * @param {Float32Array} q
   * @param {Float32Array} k
   * @param {Float32Array} v
   * @returns {Promise<AttentionResult>}
   */
  async function run1(q, k, v) {
    for (const [name, arr, n] of /** @type {const} */ ([
      ['q', q, s.q],
      ['k', k, s.k],
      ['v', v, s.v],
    ])) {
      if (!(arr instanceof Float32Array)) throw new TypeError(prefix(kernel) + name + ' must be a Float32Array');
      if (arr.length !== n)
        throw new RangeError(
          prefix(kernel) +
            name +
            ' has ' +
            arr.length +
            ' elements, expected ' +
            n +
            ' = ' +
            [batch, name === 'q' ? L.heads : L.kvHeads, N, L.headDim].join(' x '),
        );
    }
    if (given.out && typeof buffers.out.usage === 'number' && (buffers.out.usage & COPY_SRC) === 0)
      throw new RangeError(prefix(kernel) + 'run() reads buffers.out back, so it needs COPY_SRC usage');
    if (!readback) {
      readback = device.createBuffer({ label: 'spc ' + L.name + ' readback', size: s.outBytes, usage: MAP_READ | COPY_DST });
      owned.push(readback);
    }
    device.pushErrorScope('validation');
    try {
      device.queue.writeBuffer(buffers.q, 0, /** @type {Float32Array<ArrayBuffer>} */ (q));
      device.queue.writeBuffer(buffers.k, 0, /** @type {Float32Array<ArrayBuffer>} */ (k));
      device.queue.writeBuffer(buffers.v, 0, /** @type {Float32Array<ArrayBuffer>} */ (v));
      const encoder = device.createCommandEncoder();
      dispatch(encoder);
      encoder.copyBufferToBuffer(buffers.out, 0, readback, 0, s.outBytes);
      device.queue.submit([encoder.finish()]);
    } catch (e) {
      await device.popErrorScope();
      throw e;
    }
    const err = await device.popErrorScope();
    if (err) throw fail(kernel, 'WebGPU validation error: ' + err.message);
    await readback.mapAsync(MAP_READ);
    const all = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return { out: all.subarray(0, s.out), lse: all.subarray(s.out) };
  }
  /**
   * Uploads q, k, v (Float32Array), computes, and resolves to { out, lse } (Float32Array).
   * Calls are serialised: each waits for the one before it.
   * @param {Float32Array} q
   * @param {Float32Array} k
   * @param {Float32Array} v
   */
  function run(q, k, v) {
    if (destroyed) return Promise.reject(fail(kernel, 'run() after destroy()'));
    const r = queue.then(() => run1(q, k, v));
    queue = r.catch(() => undefined);
    return r;
  }
  let destroyed = false;
  /** Destroys the buffers this object allocated (after the run in flight, if any, has finished); later calls do nothing. */
  function destroy() {
    if (destroyed) return;
    destroyed = true;
    const release = () => {
      for (const b of owned.splice(0)) b.destroy();
    };
    // A readback buffer destroyed while mapAsync is pending makes that run fail: wait for it.
    queue.then(release, release);
  }
  return {
    n: N,
    batch,
    variant: /** @type {'rows' | 'tiled'} */ (kernel.variant),
    grid,
    passes: nPasses,
    buffers,
    pipeline,
    bindGroup,
    run,
    dispatch,
    destroy,
  };
}

/**
 * Records the attention's compute passes into encoder (for callers who manage buffers and submission).
 * @param {GPUCommandEncoder} encoder
 * @param {Attention} attention
 */
export function dispatch(encoder, attention) {
  attention.dispatch(encoder);
}
