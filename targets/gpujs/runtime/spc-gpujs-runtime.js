// @ts-check
// spc's gpu.js host runtime: input checks, the per-N kernel cache, the three-stage call
// (row lse, key probabilities, output) and result flattening, shared by every layout that
// `spc compile --target gpujs` emits. spc copies this file unchanged next to the layout modules
// as `spc-gpujs-runtime.js`; each layout module (`<name>.js`) imports it with a relative path and
// passes it its kernels (the functions gpu.js compiles, generated per layout), its sizes and its
// head table. The source is targets/gpujs/runtime/spc-gpujs-runtime.js in the spc repository;
// its types are in spc-gpujs-runtime.d.ts beside it. gpu.js itself is not imported: the caller
// passes a gpu.js instance.

/** @import { AttentionOptions, AttentionResult, AttentionRun, GpuJsLike, GpuJsKernel, GpujsKernels } from './spc-gpujs-runtime.js' */

/** Version of the contract between layout modules and this runtime; a mismatch means the files come from different spc versions. */
export const ABI = 1;

/** lse values below this are the kernels' stand-in for -Infinity (-3e38: WGSL and GLSL have no portable infinity literal). */
const NO_KEY_BELOW = -1e38;

/** gpu.js does index arithmetic in f32: indices are exact below 2^24 elements per array. */
const EXACT_F32_INDEX = 16777216;

/**
 * Checks a layout module's kernel set and freezes it. Throws when the module was generated for
 * another version of this runtime.
 * @param {GpujsKernels} kernels
 * @returns {Readonly<GpujsKernels>}
 */
export function defineKernels(kernels) {
  if (!kernels || typeof kernels !== 'object') throw new TypeError('spc gpujs: defineKernels expects a kernel set');
  if (kernels.abi !== ABI)
    throw new Error(
      'spc gpujs (layout ' +
        kernels.layout +
        '): the module was generated for runtime ABI ' +
        kernels.abi +
        ' but spc-gpujs-runtime.js implements ABI ' +
        ABI +
        '; compile the layout again with the same spc that wrote spc-gpujs-runtime.js',
    );
  for (const key of /** @type {const} */ (['heads', 'kvHeads', 'headDim', 'termSlots', 'fieldsPerTerm'])) {
    if (!Number.isSafeInteger(kernels[key]) || kernels[key] < 1)
      throw new TypeError('spc gpujs (layout ' + kernels.layout + '): ' + key + ' must be a positive integer');
  }
  for (const key of /** @type {const} */ (['headTable', 'lseKernel', 'probKernel', 'outKernel'])) {
    if (typeof kernels[key] !== 'function') throw new TypeError('spc gpujs (layout ' + kernels.layout + '): ' + key + ' must be a function');
  }
  return Object.freeze({ ...kernels });
}

/**
 * The most candidate key slots any row has: per head, the sum over term slots of
 * min(kHi - kLo, dHi - dLo, N) for the term slots that some query reaches (at least 1).
 * @param {GpujsKernels} kernels
 * @param {ArrayLike<number>} table the head table: [heads][termSlots][fieldsPerTerm]
 * @param {number} N
 */
export function maxRowKeys(kernels, table, N) {
  const { heads, termSlots, fieldsPerTerm } = kernels;
  let best = 1;
  for (let h = 0; h < heads; h++) {
    let sum = 0;
    for (let t = 0; t < termSlots; t++) {
      const o = (h * termSlots + t) * fieldsPerTerm;
      if (table[o + 4] < table[o + 5]) sum += Math.max(0, Math.min(table[o + 3] - table[o + 2], table[o + 1] - table[o], N));
    }
    best = Math.max(best, sum);
  }
  return best;
}

/**
 * @param {ArrayLike<number>} a
 * @returns {Float32Array}
 */
function f32(a) {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/**
 * Nested gpu.js results (arrays of Float32Array rows) to one row-major Float32Array.
 * @param {unknown} a
 * @param {number} size the element count gpu.js must have returned
 */
function flatten(a, size) {
  const out = new Float32Array(size).fill(NaN); // poisoned: an element gpu.js did not return stays NaN
  let n = 0;
  /** @param {unknown} x */
  const walk = (x) => {
    if (typeof x === 'number') out[n++] = x;
    else if (ArrayBuffer.isView(x)) {
      const view = /** @type {Float32Array} */ (x);
      out.set(view, n);
      n += view.length;
    } else for (const y of /** @type {Iterable<unknown>} */ (x)) walk(y);
  };
  walk(a);
  if (n !== size) throw new Error(`spc: internal: gpu.js returned ${n} values, expected ${size}`);
  return out;
}

/**
 * @param {unknown} x
 * @returns {x is { toArray(): unknown }}
 */
function hasToArray(x) {
  return !!x && typeof (/** @type {{ toArray?: unknown }} */ (x).toArray) === 'function';
}

/**
 * @param {unknown} x
 * @returns {x is { delete(): void }}
 */
function hasDelete(x) {
  return !!x && typeof (/** @type {{ delete?: unknown }} */ (x).delete) === 'function';
}

/**
 * Attention for a layout on a gpu.js instance. options.batch (default 1), options.scale
 * (default 1/sqrt(D)). Returns async run(q, k, v) with q (B, H, N, D), k and v (B, KV, N, D)
 * row-major, resolving to { out (B, H, N, D), lse (B, H, N) }; N is taken from q.length at each
 * call. Kernels are compiled once per N and cached; run.destroy() frees them.
 * @param {GpujsKernels} kernels
 * @param {GpuJsLike} gpu
 * @param {AttentionOptions} [options]
 * @returns {AttentionRun}
 */
export function createAttention(kernels, gpu, options = {}) {
  const { heads: H, kvHeads: KV, headDim: D } = kernels;
  const batch = options.batch ?? 1;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`spc: batch must be a positive integer, got ${batch}`);
  const settings = { precision: 'single', tactic: 'precision' };
  /** @type {Map<number, { kmax: number, table: Float32Array, lse: GpuJsKernel, prob: GpuJsKernel, out: GpuJsKernel }>} */
  const cache = new Map();
  /** @param {number} N */
  function kernelsFor(N) {
    let e = cache.get(N);
    if (e === undefined) {
      const table = kernels.headTable(N);
      const kmax = maxRowKeys(kernels, table, N);
      const constants = { N, scale };
      const loopMaxIterations = N + 1;
      const rows = batch * H;
      e = {
        kmax,
        table: Float32Array.from(table),
        lse: gpu.createKernel(kernels.lseKernel, { ...settings, constants, loopMaxIterations, output: [N, rows], pipeline: true, immutable: true }),
        prob: gpu.createKernel(kernels.probKernel, { ...settings, constants, loopMaxIterations, output: [kmax, N, rows], pipeline: true, immutable: true }),
        out: gpu.createKernel(kernels.outKernel, { ...settings, constants, loopMaxIterations, output: [D, N, rows], pipeline: false }),
      };
      cache.set(N, e);
    }
    return e;
  }
  /**
   * @param {ArrayLike<number>} q
   * @param {ArrayLike<number>} k
   * @param {ArrayLike<number>} v
   * @returns {Promise<AttentionResult>}
   */
  async function run(q, k, v) {
    const N = q.length / (batch * H * D);
    if (!Number.isInteger(N) || N < 1) throw new RangeError(`spc: q has ${q.length} elements, not batch * ${H} * N * ${D} for a whole N >= 1`);
    if (k.length !== batch * KV * N * D || v.length !== batch * KV * N * D)
      throw new RangeError(`spc: k and v must have batch * ${KV} * N * ${D} = ${batch * KV * D * N} elements`);
    const e = kernelsFor(N);
    if (q.length > EXACT_F32_INDEX || k.length > EXACT_F32_INDEX || batch * H * N * e.kmax > EXACT_F32_INDEX)
      throw new RangeError(
        `spc: arrays of more than 2^24 elements (q ${q.length}, k ${k.length}, probabilities ${batch * H * N * e.kmax}) are beyond exact f32 indexing in gpu.js; split the batch`,
      );
    const qf = f32(q),
      kf = f32(k),
      vf = f32(v);
    // Stages 1 and 2 stay on the device (pipeline: true); webgpu kernels return promises.
    const lseT = await e.lse(qf, kf, e.table);
    const probT = await e.prob(qf, kf, e.table, lseT);
    const outA = await e.out(vf, e.table, probT);
    const lseA = hasToArray(lseT) ? await lseT.toArray() : lseT;
    const out = flatten(outA, batch * H * N * D);
    const lse = flatten(lseA, batch * H * N);
    for (let r = 0; r < lse.length; r++) if (lse[r] < NO_KEY_BELOW) lse[r] = -Infinity;
    for (const t of [lseT, probT]) if (hasDelete(t)) t.delete();
    return { out, lse };
  }
  /** Destroys the cached kernels. */
  run.destroy = () => {
    for (const e of cache.values()) for (const kk of [e.lse, e.prob, e.out]) kk.destroy();
    cache.clear();
  };
  return run;
}
