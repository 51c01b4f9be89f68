import type { LayoutIR, Loc } from '../src/ir/index.js';
import { formatTargetMessage, type TargetCode, type TargetMessageArgs } from './messages.js';

export interface EmittedFile {
  /** Path relative to the output directory. */
  path: string;
  contents: string;
}

export interface EmitOptions {
  /** A concrete length for layouts with symbolic N, when the user gave one. */
  seq?: number;
  /** Tool version, stamped into generated headers. */
  version: string;
  /** A kernel config (parsed JSON from `spc compile --config`) that overrides the target's heuristic. */
  config?: unknown;
  /**
   * Per layout name, the kernel configs (parts) a tuning record chose by measured time, each for
   * one GPU and length N (`spc compile --tuning`): each over the heuristic, under `config`. The
   * CUDA target compiles each distinct one in and picks by GPU and N at run time.
   */
  tuned?: Readonly<Record<string, readonly TunedChoice[]>>;
  /**
   * Per layout name, a tuning record's run-time choices for targets that choose at run time
   * (`spc compile --target wgsl --tuning`: the adapter and, per N, the tiled variant measured
   * fastest; targets/wgsl/index.ts WgslTuning). Targets that take none ignore it.
   */
  tunings?: Readonly<Record<string, unknown>>;
}

/** A kernel config a tuning record chose by measured time on one GPU at one length. */
export interface TunedChoice {
  /** The GPU's name as the record has it (e.g. "NVIDIA H200"; torch.cuda.get_device_name). */
  device: string;
  n: number;
  /** The record candidate's id, for messages. */
  id: string;
  /** The config part the candidate sets (CUDA: {"sm90": {...}}). */
  config: Record<string, unknown>;
}

/**
 * A layout a target cannot compile (an unsupported head_dim, say): reported as a diagnostic, not a
 * crash. `new TargetError('E100', [target, supported, layout, headDim], layout.locs?.headDim)`: the
 * arguments are typed per code (codegen/messages.ts); the optional loc points the diagnostic at
 * the spec line it is about.
 */
export class TargetError<C extends TargetCode = TargetCode> extends Error {
  constructor(
    readonly code: C,
    readonly args: TargetMessageArgs<C>,
    readonly loc?: Loc,
  ) {
    super(formatTargetMessage(code, args));
    this.name = 'TargetError';
  }
}

/** A code generation target: pure and deterministic; its only I/O is reading spc's own runtime files (codegen/runtime-source.ts). */
export interface Target {
  name: string;
  description: string;
  /** Whether `spc compile --config` may pass this target a kernel config (EmitOptions.config); without it, --config is E106. */
  acceptsConfig?: boolean;
  emit(layouts: LayoutIR[], options: EmitOptions): EmittedFile[];
}
