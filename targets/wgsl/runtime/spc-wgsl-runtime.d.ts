// Types of spc's WebGPU host runtime (spc-wgsl-runtime.js). Hand-written; the layout modules'
// own .d.ts files re-export the interfaces below and declare their functions without the
// `kernel` argument, which each module supplies.
/// <reference types="@webgpu/types" />

/** The layout a module was generated for. */
export interface LayoutInfo {
  readonly name: string;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: string;
  /** The fixed sequence length, or null for a symbolic one. */
  readonly seq: number | null;
  readonly causal: boolean;
}

/** What a layout module tells the runtime about its kernel. */
export interface WgslKernel {
  /** Must equal the runtime's ABI. */
  readonly abi: number;
  readonly layout: LayoutInfo;
  /** Query rows per workgroup. */
  readonly blockM: number;
  /** Invocations per workgroup (the shader's @workgroup_size); blockM when absent (the row kernel). */
  readonly invocations?: number;
  /** Which shader this description is: 'rows' (defineKernel's result) or 'tiled' (from variant()). */
  readonly variant?: 'rows' | 'tiled';
  /** The tiled variants (tile shape, features, limits and shader), in the order createAttention tries them; null or empty when the layout has none. */
  readonly tiled?: readonly TiledVariant[] | null;
  /** The tiled variant's name (from variant()), else null. */
  readonly tiledName?: string | null;
  /** Keys per K/V tile (the shader's BN). */
  readonly blockN: number;
  /** Key tiles one compute pass visits at most per workgroup (the shader's CHUNK_TILES); a call is passes(N) passes. */
  readonly tilesPerPass: number;
  /** Size of the uniform buffer (N, batch, scale, chunk, head table). */
  readonly paramsBytes: number;
  /** Workgroup memory the shader declares. */
  readonly sharedBytes: number;
  /** The WGSL compute shader (entry point `main`). */
  readonly wgsl: string;
  /** The head table for length N. */
  headTable(N: number): Int32Array;
  /** A tuning record's choices (spc compile --tuning): createAttention prefers them on the record's adapter. */
  readonly tuned?: TunedChoices | null;
}

/** A tuning record compiled into a module: the adapter it was measured on and, per recorded N, the fastest tiled variant. */
export interface TunedChoices {
  readonly record: string;
  readonly device: { readonly vendor: string; readonly architecture: string; readonly device: string; readonly description: string };
  /** Ascending N; the choice for N is the first with n >= N. */
  readonly choices: readonly { readonly n: number; readonly variant: string; readonly ms: number | null }[];
}

/** The tiled variant of a kernel: a workgroup of `invocations` owns `blockM` query rows. */
export interface TiledVariant {
  /** e.g. 'sg-32x32-t4x8-kv2-pad': reductions (sg subgroup, wg workgroup memory), BM x BN, TM x TPR, split K/V, padded K rows. */
  readonly name: string;
  /** Device features the shader needs ('subgroups'). */
  readonly features: readonly string[];
  /** The least subgroup size it needs (0: none). */
  readonly subgroupMinSize: number;
  /** Whether createAttention may pick it when no variant is named (false: only by name). */
  readonly auto: boolean;
  readonly blockM: number;
  readonly blockN: number;
  readonly invocations: number;
  readonly tilesPerPass: number;
  readonly sharedBytes: number;
  readonly wgsl: string;
}

/** Element counts of each tensor, and the byte size of the out + lse buffer. */
export interface AttentionSizes {
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  readonly lse: number;
  readonly outBytes: number;
}

/** Buffers the kernel binds. `out` holds O (B, H, N, D) then lse (B, H, N), f32. */
export interface AttentionBuffers {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  out: GPUBuffer;
}

export interface AttentionOptions {
  /** Sequence length N (required when the layout's length is symbolic). */
  n?: number;
  /** Batch size B (default 1). */
  batch?: number;
  /** Softmax scale (default 1/sqrt(D)). */
  scale?: number;
  /** Buffers to use instead of allocating them (STORAGE usage; out also COPY_SRC for run()). */
  buffers?: Partial<AttentionBuffers>;
  /**
   * Which shader to run: 'auto' (default: the first tiled variant whose features and limits the device has, else 'rows'),
   * 'rows', 'tiled' (the first tiled variant the device can run), or a tiled variant's name (TILED_VARIANTS).
   */
  variant?: 'auto' | 'rows' | 'tiled' | (string & {});
  /** Passes of a tiled variant: 'auto' (default: 'budget' on software adapters, else 'single'), 'budget' (each pass within Mesa's loop budget) or 'single'. */
  passes?: 'auto' | 'budget' | 'single';
}

export interface AttentionResult {
  /** O, (B, H, N, D). */
  out: Float32Array;
  /** Natural-log sum of exp of the scaled scores, (B, H, N); -Infinity for a row with no allowed key. */
  lse: Float32Array;
}

export interface Attention {
  readonly n: number;
  readonly batch: number;
  /** The shader variant this object runs. */
  readonly variant: 'rows' | 'tiled';
  /** The tiled variant's name, or null for the row kernel. */
  readonly tiledVariant: string | null;
  /** How the variant was chosen: 'record' (a compiled-in tuning record's choice for this adapter and N), 'auto' (the first auto variant the device runs) or 'named' (options.variant). */
  readonly choice: 'record' | 'auto' | 'named';
  /** Why: the record and N it came from, or why the record's choice did not apply. */
  readonly choiceReason: string;
  /** Key tiles per pass per workgroup. */
  readonly tilesPerPass: number;
  /** Workgroups dispatched per pass: (ceil(N / BLOCK_M), H, B). */
  readonly grid: readonly [number, number, number];
  /** Compute passes per call: passes(N). */
  readonly passes: number;
  readonly buffers: AttentionBuffers;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  /** Uploads q (B, H, N, D), k and v (B, KV, N, D), computes, and reads back out and lse. */
  run(q: Float32Array, k: Float32Array, v: Float32Array): Promise<AttentionResult>;
  /**
   * Records the compute passes only (one per chunk of TILES_PER_PASS key tiles, each after a copy that sets the uniform's chunk index).
   * With timestampWrites (a device with 'timestamp-query'), the first pass writes beginningOfPassWriteIndex and the last endOfPassWriteIndex.
   */
  dispatch(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
  /** Destroys the buffers this object allocated, once the run in flight (if any) has finished; run() then rejects. */
  destroy(): void;
}

/** The shader module, bind group layout and compute pipeline of a kernel. */
export interface Pipeline {
  module: GPUShaderModule;
  bindGroupLayout: GPUBindGroupLayout;
  pipeline: GPUComputePipeline;
}

/** Version of the contract between layout modules and this runtime. */
export declare const ABI: 4;
/** Checks a layout module's kernel description (its ABI first) and freezes it. */
export declare function defineKernel(kernel: WgslKernel): Readonly<WgslKernel>;
/** The kernel description of one variant ('rows', 'tiled' or a tiled variant's name), checked against the device when given. */
export declare function variant(kernel: WgslKernel, name: string, device?: GPUDevice): Readonly<WgslKernel>;
/** The variant createAttention picks on this device: the first tiled variant's name that the device can run, else 'rows'. */
export declare function pickVariant(kernel: WgslKernel, device: GPUDevice): string;
/** Why the device cannot run a tiled variant, or null. */
export declare function unfit(t: TiledVariant, device: GPUDevice): string | null;
/** A compiled-in tuning record's tiled variant for this device at length N, or null, and why. */
export declare function tunedVariant(kernel: WgslKernel, device: GPUDevice, N: number): { name: string | null; reason: string };
/** Whether the device's adapter is a software one or unknown (then a tiled variant keeps each pass within Mesa's loop budget). */
export declare function softwareAdapter(device: GPUDevice): boolean;
/** Bindings: 0 params (uniform), 1 q, 2 k, 3 v (read-only storage), 4 out then lse (storage). */
export declare function bindGroupLayoutEntries(kernel: WgslKernel): readonly GPUBindGroupLayoutEntry[];
/** Device limits the kernel needs (all within compatibility-mode defaults). */
export declare function requiredLimits(kernel: WgslKernel): Readonly<Record<string, number>>;
/** Element counts and byte sizes at length N and batch size. */
export declare function sizes(kernel: WgslKernel, N: number, batch?: number): AttentionSizes;
/** Compute passes per call at length N: ceil(ceil(N / blockN) / tilesPerPass). */
export declare function passes(kernel: WgslKernel, N: number, tilesPerPass?: number): number;
/** The uniform buffer contents: N, batch, scale, chunk 0, then the head table. */
export declare function paramsData(kernel: WgslKernel, N: number, batch?: number, scale?: number): ArrayBuffer;
/** Throws a useful error when the device lacks a limit the kernel needs. */
export declare function checkDevice(kernel: WgslKernel, device: GPUDevice, N?: number, batch?: number): void;
/** Compiles the shader (errors name the WGSL line) and builds the pipeline. */
export declare function createPipeline(kernel: WgslKernel, device: GPUDevice, constants?: Record<string, number>): Promise<Pipeline>;
/** Allocates (or accepts) buffers and returns run() and dispatch(). */
export declare function createAttention(kernel: WgslKernel, device: GPUDevice, options?: AttentionOptions): Promise<Attention>;
/** Records the attention's compute passes into encoder. */
export declare function dispatch(encoder: GPUCommandEncoder, attention: Attention): void;
