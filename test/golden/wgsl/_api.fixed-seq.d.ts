/** The head table for length N (same formulas as the spc IR). */
export declare function headTable(N: number): Int32Array;
/** Band boundaries S_0..S_H at length N, or null without a partition. */
export declare function partitionBounds(N: number): number[] | null;
/** Equal-width band boundaries. */
export declare function equalWidthBounds(N: number, H: number): number[];
/** Equal-pairs band boundaries. */
export declare function equalPairsBounds(N: number, H: number): number[];

export type { Attention, AttentionBuffers, AttentionResult, AttentionSizes, Pipeline };

export interface AttentionOptions extends RuntimeOptions {
  /** Sequence length N (fixed at 4096). */
  n?: number;
}

/** Element counts and byte sizes at length N and batch size. */
export declare function sizes(N: number, batch?: number): AttentionSizes;
/** Compute passes per call at length N: ceil(ceil(N / BLOCK_N) / TILES_PER_PASS). */
export declare function passes(N: number): number;
/** The uniform buffer contents: N, batch, scale, chunk 0, then the head table. */
export declare function paramsData(N: number, batch?: number, scale?: number): ArrayBuffer;
/** Throws a useful error when the device lacks a limit the kernel needs. */
export declare function checkDevice(device: GPUDevice, N?: number, batch?: number): void;
/** Compiles the shader (errors name the WGSL line) and builds the pipeline. */
export declare function createPipeline(device: GPUDevice): Promise<Pipeline>;
/** Allocates (or accepts) buffers and returns run() and dispatch(). */
export declare function createAttention(device: GPUDevice, options?: AttentionOptions): Promise<Attention>;
/** Records the attention's compute passes into encoder. */
export declare function dispatch(encoder: GPUCommandEncoder, attention: Attention): void;
