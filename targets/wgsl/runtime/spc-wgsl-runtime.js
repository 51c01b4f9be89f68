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
export const ABI = 5;

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
  const ts = kernel.tiled ?? [];
  if (!Array.isArray(ts)) throw new TypeError('spc wgsl (layout ' + name + '): kernel.tiled must be an array of tiled variants');
  for (const t of ts) {
    for (const key of /** @type {const} */ (['blockM', 'blockN', 'invocations', 'tilesPerPass', 'sharedBytes'])) {
      if (!Number.isSafeInteger(t[key]) || t[key] < 1)
        throw new TypeError('spc wgsl (layout ' + name + '): kernel.tiled[].' + key + ' must be a positive integer');
    }
    if (
      typeof t.name !== 'string' ||
      typeof t.wgsl !== 'string' ||
      !Array.isArray(t.features) ||
      !Number.isSafeInteger(t.subgroupMinSize) ||
      typeof t.auto !== 'boolean'
    )
      throw new TypeError('spc wgsl (layout ' + name + '): kernel.tiled[] needs a name, wgsl, features, subgroupMinSize and auto');
  }
  const tuned = kernel.tuned ?? null;
  if (tuned !== null) {
    const d = tuned && tuned.device;
    if (
      typeof tuned.record !== 'string' ||
      !d ||
      !['vendor', 'architecture', 'device', 'description'].every((k) => typeof (/** @type {Record<string, unknown>} */ (d)[k]) === 'string') ||
      !Array.isArray(tuned.choices) ||
      !tuned.choices.every((c) => Number.isSafeInteger(c.n) && c.n > 0 && ts.some((t) => t.name === c.variant))
    )
      throw new TypeError(
        'spc wgsl (layout ' +
          name +
          '): kernel.tuned needs a record, a device (vendor, architecture, device, description) and choices of { n, variant } naming tiled variants',
      );
  }
  return Object.freeze({
    ...kernel,
    tuned: tuned && Object.freeze({ ...tuned, choices: Object.freeze([...tuned.choices].sort((a, b) => a.n - b.n)) }),
    variant: 'rows',
    tiledName: null,
    tiled: Object.freeze(ts.map((t) => Object.freeze({ ...t, features: Object.freeze([...t.features]) }))),
  });
}

/**
 * Why the device cannot run tiled variant t, or null when it can: a feature it lacks, a limit too
 * low, or (subgroup reductions) subgroups that may be smaller than t.subgroupMinSize or not all full
 * (the invocations must be a multiple of the adapter's largest subgroup size).
 * @param {import('./spc-wgsl-runtime.js').TiledVariant} t
 * @param {GPUDevice} device
 * @returns {string | null}
 */
export function unfit(t, device) {
  for (const f of t.features) if (!device.features || !device.features.has(f)) return 'the device lacks feature ' + f;
  const limits = /** @type {Record<string, number | undefined>} */ (/** @type {unknown} */ (device.limits));
  for (const [key, need] of /** @type {const} */ ([
    ['maxComputeWorkgroupStorageSize', t.sharedBytes],
    ['maxComputeInvocationsPerWorkgroup', t.invocations],
    ['maxComputeWorkgroupSizeX', t.invocations],
  ])) {
    const have = limits[key];
    if (have !== undefined && have < need) return 'the device allows ' + key + ' = ' + have + ', the variant needs ' + need;
  }
  if (t.subgroupMinSize > 0) {
    const info = /** @type {{ subgroupMinSize?: number, subgroupMaxSize?: number } | undefined} */ (
      /** @type {{ adapterInfo?: unknown }} */ (device).adapterInfo
    );
    const lo = info && info.subgroupMinSize;
    const hi = info && info.subgroupMaxSize;
    if (typeof lo !== 'number' || typeof hi !== 'number' || lo < 1 || hi < 1) return 'device.adapterInfo gives no subgroup sizes';
    if (lo < t.subgroupMinSize) return 'subgroups may have ' + lo + ' invocations, the variant needs ' + t.subgroupMinSize;
    if (t.invocations % hi !== 0) return "the variant's " + t.invocations + ' invocations are not a multiple of the largest subgroup size ' + hi;
  }
  return null;
}

/**
 * The kernel description of one variant: 'rows' (one invocation per query row, the fallback),
 * 'tiled' (the first tiled variant marked auto that the device can run; without a device, the last
 * of those, which fits compatibility-mode limits) or a tiled variant's name (auto or not). The result has the same fields, with the
 * variant's tile shape, limits and shader.
 * @param {WgslKernel} kernel
 * @param {string} name
 * @param {GPUDevice} [device]
 * @returns {Readonly<WgslKernel>}
 */
export function variant(kernel, name, device) {
  if (kernel.variant === 'tiled') throw fail(kernel, 'internal: variant() expects the kernel from defineKernel()');
  if (name === 'rows') return kernel;
  const ts = kernel.tiled ?? [];
  if (!ts.length) throw new RangeError(prefix(kernel) + 'this layout has no tiled variant (no tile configuration fits its head_dim)');
  let t;
  if (name === 'tiled') {
    const autos = ts.filter((x) => x.auto);
    t = device ? autos.find((x) => unfit(x, device) === null) : autos[autos.length - 1];
    if (!t)
      throw fail(
        kernel,
        'the device can run none of the tiled variants that are picked without a name (' +
          autos.map((x) => x.name + ': ' + unfit(x, /** @type {GPUDevice} */ (device))).join('; ') +
          ')',
      );
  } else {
    t = ts.find((x) => x.name === name);
    if (!t) throw new RangeError(prefix(kernel) + "variant must be 'auto', 'rows', 'tiled' or one of " + ts.map((x) => x.name).join(', ') + ', got ' + name);
    const why = device ? unfit(t, device) : null;
    if (why) throw fail(kernel, 'variant ' + name + ' cannot run on this device: ' + why);
  }
  return Object.freeze({ ...kernel, ...t, variant: 'tiled', tiledName: t.name, tiled: null });
}

/**
 * The variant createAttention uses on this device when none is named: the name of the first tiled
 * variant marked auto whose features and limits the device has, else 'rows'.
 * @param {WgslKernel} kernel
 * @param {GPUDevice} device
 * @returns {string}
 */
export function pickVariant(kernel, device) {
  const t = (kernel.tiled ?? []).find((x) => x.auto && unfit(x, device) === null);
  return t ? t.name : 'rows';
}

/** The adapterInfo fields a tuning record's device must match. */
const ADAPTER_FIELDS = /** @type {const} */ (['vendor', 'architecture', 'device', 'description']);

/**
 * The tiled variant a compiled-in tuning record (kernel.tuned, `spc compile --tuning`) chose for
 * this device at length N, or null, and why. It applies when the device's adapterInfo has the
 * record's vendor, architecture, device and description, and N has a bucket: the choice of the
 * smallest recorded N at or above N (above the largest recorded N there is none); the variant must
 * also fit the device (features, limits, subgroup sizes). Tile configurations never change results.
 * @param {WgslKernel} kernel
 * @param {GPUDevice} device
 * @param {number} N
 * @returns {{ name: string | null, reason: string }}
 */
export function tunedVariant(kernel, device, N) {
  const t = kernel.tuned;
  if (!t) return { name: null, reason: 'no tuning record was compiled in' };
  const info = /** @type {Record<string, unknown> | undefined} */ (/** @type {{ adapterInfo?: unknown }} */ (device).adapterInfo);
  // No adapter information, or all of it blank (browsers may hide it): never a match, whatever the record says.
  if (!info || ADAPTER_FIELDS.every((k) => !info[k]))
    return { name: null, reason: 'tuning record ' + t.record + ' does not apply: this device reports no adapter information' };
  for (const k of ADAPTER_FIELDS) {
    const have = info && typeof info[k] === 'string' ? info[k] : '';
    if (have !== t.device[k])
      return {
        name: null,
        reason:
          'tuning record ' + t.record + ' is for another adapter (' + k + ' ' + JSON.stringify(t.device[k]) + ', this device has ' + JSON.stringify(have) + ')',
      };
  }
  const c = t.choices.find((x) => x.n >= N);
  if (!c) return { name: null, reason: 'tuning record ' + t.record + ' has no N at or above ' + N + ' (largest ' + t.choices[t.choices.length - 1].n + ')' };
  const v = (kernel.tiled ?? []).find((x) => x.name === c.variant);
  const why = v ? unfit(v, device) : 'the module lacks it';
  if (why) return { name: null, reason: 'tuning record ' + t.record + ' chose ' + c.variant + ' for N <= ' + c.n + ', but ' + why };
  return { name: c.variant, reason: 'tuning record ' + t.record + ': measured fastest on this adapter at N = ' + c.n };
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render|warp|null-backend/i;

/**
 * Whether the device's adapter is a software one (or unknown): then each pass of a tiled variant
 * stays within Mesa's loop budget (kernel.tilesPerPass key tiles); on others one pass does all.
 * @param {GPUDevice} device
 */
export function softwareAdapter(device) {
  const info = /** @type {{ vendor?: string, architecture?: string, device?: string, description?: string, isFallbackAdapter?: boolean } | undefined} */ (
    /** @type {{ adapterInfo?: unknown }} */ (device).adapterInfo
  );
  if (!info) return true;
  if (info.isFallbackAdapter) return true;
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  return text === '' || SOFTWARE.test(text);
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
 * @param {number} [tilesPerPass] key tiles per pass (default kernel.tilesPerPass)
 * @returns {number}
 */
export function passes(kernel, N, tilesPerPass = kernel.tilesPerPass) {
  checkCount(kernel, 'N', N);
  return Math.max(1, Math.ceil(Math.ceil(N / kernel.blockN) / tilesPerPass));
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
 * @param {Record<string, number>} [constants] pipeline-overridable constants (the tiled shaders' CHUNK_TILES)
 * @returns {Promise<Pipeline>}
 */
export async function createPipeline(kernel, device, constants) {
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
    pipeline = await device.createComputePipelineAsync({
      label,
      layout,
      compute: constants ? { module, entryPoint: 'main', constants } : { module, entryPoint: 'main' },
    });
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
  const N = options.n ?? L.seq;
  if (N === null || N === undefined) throw new RangeError(prefix(base) + 'options.n (the sequence length) is required');
  checkCount(base, 'n', N);
  // Unnamed: a compiled-in tuning record's choice for this adapter and N, else the first auto variant that fits.
  const tuned = want === 'auto' ? tunedVariant(base, device, N) : { name: null, reason: 'options.variant named ' + want };
  /** @type {'record' | 'auto' | 'named'} */
  const choice = want !== 'auto' ? 'named' : tuned.name !== null ? 'record' : 'auto';
  const kernel = variant(base, want !== 'auto' ? want : (tuned.name ?? pickVariant(base, device)), device);
  const batch = options.batch ?? 1;
  checkCount(kernel, 'batch', batch);
  const params = paramsData(kernel, N, batch, options.scale ?? 1 / Math.sqrt(L.headDim));
  checkDevice(kernel, device, N, batch);
  // Passes: a tiled shader's CHUNK_TILES is a pipeline constant; 'budget' keeps each pass within
  // Mesa's loop budget (kernel.tilesPerPass), 'single' does all key tiles in one pass; 'auto' is
  // 'budget' on software adapters (softwareAdapter()) and 'single' elsewhere. The row kernel always
  // uses its budget.
  const passMode = options.passes ?? 'auto';
  if (passMode !== 'auto' && passMode !== 'budget' && passMode !== 'single')
    throw new RangeError(prefix(kernel) + "passes must be 'auto', 'budget' or 'single', got " + passMode);
  const single = kernel.variant === 'tiled' && (passMode === 'single' || (passMode === 'auto' && !softwareAdapter(device)));
  const tilesPerPass = single ? Math.max(1, Math.ceil(N / kernel.blockN)) : kernel.tilesPerPass;
  const constants = kernel.variant === 'tiled' ? { CHUNK_TILES: tilesPerPass } : undefined;
  const { pipeline, bindGroupLayout } = await createPipeline(kernel, device, constants);
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
  const nPasses = passes(kernel, N, tilesPerPass);
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
    tiledVariant: /** @type {string | null} */ (kernel.tiledName ?? null),
    choice,
    choiceReason: choice === 'auto' ? 'automatic choice (' + tuned.reason + ')' : tuned.reason,
    tilesPerPass,
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
