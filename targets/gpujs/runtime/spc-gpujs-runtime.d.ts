// Types of spc's gpu.js host runtime (spc-gpujs-runtime.js). Hand-written; the layout modules'
// own .d.ts files declare createAttention and maxRowKeys without the `kernels` argument, which
// each module supplies. Only the parts of gpu.js that the runtime calls are described here, so
// the runtime's types do not depend on gpu.js's.

/** A kernel as gpu.js's createKernel returns it: callable (a promise in webgpu mode), destroyable. */
export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  destroy(): unknown;
}

/** What the runtime needs of a gpu.js instance (`new GPU({ mode })`). */
export interface GpuJsLike {
  createKernel(kernel: (...args: never[]) => number, settings: object): GpuJsKernel;
}

/** What a layout module tells the runtime: its sizes, head table and the three gpu.js kernels. */
export interface GpujsKernels {
  /** Must equal the runtime's ABI. */
  readonly abi: number;
  /** The layout's name. */
  readonly layout: string;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Term slots per head, and int32 fields per term slot, in the head table. */
  readonly termSlots: number;
  readonly fieldsPerTerm: number;
  /** The head table at length N: [heads][termSlots][fieldsPerTerm]. */
  headTable(N: number): Int32Array;
  /** Stage 1, output [N, B*H]: each row's lse. */
  readonly lseKernel: (...args: never[]) => number;
  /** Stage 2, output [KMAX, N, B*H]: each key slot's probability. */
  readonly probKernel: (...args: never[]) => number;
  /** Stage 3, output [D, N, B*H]: the output. */
  readonly outKernel: (...args: never[]) => number;
}

export interface AttentionOptions {
  /** Batch size B (default 1). */
  batch?: number;
  /** Softmax scale (default 1/sqrt(D)). */
  scale?: number;
}

export interface AttentionResult {
  /** (B, H, N, D) row-major; 0 for a row with no allowed key. */
  out: Float32Array;
  /** (B, H, N): natural-log sum of exp(scaled scores); -Infinity for a row with no allowed key. */
  lse: Float32Array;
}

export interface AttentionRun {
  (q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>): Promise<AttentionResult>;
  /** Destroys the cached kernels. */
  destroy(): void;
}

/** Version of the contract between layout modules and this runtime. */
export declare const ABI: 1;
/** Checks a layout module's kernel set (its ABI first) and freezes it. */
export declare function defineKernels(kernels: GpujsKernels): Readonly<GpujsKernels>;
/** The most candidate key slots any row has (the prob stage's width). */
export declare function maxRowKeys(kernels: GpujsKernels, table: ArrayLike<number>, N: number): number;
/** Attention for the layout on a gpu.js instance; kernels are compiled once per N and cached. */
export declare function createAttention(kernels: GpujsKernels, gpu: GpuJsLike, options?: AttentionOptions): AttentionRun;
