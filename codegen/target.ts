import type { LayoutIR } from '../src/ir/index.js';
import { formatTargetMessage, type TargetCode } from './messages.js';

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
}

/** A layout a target cannot compile (an unsupported head_dim, say): reported as a diagnostic, not a crash. */
export class TargetError extends Error {
  constructor(
    readonly code: TargetCode,
    readonly args: readonly (string | number)[],
  ) {
    super(formatTargetMessage(code, args));
    this.name = 'TargetError';
  }
}

/** A code generation target: pure and deterministic; its only I/O is reading spc's own runtime files (codegen/runtime-source.ts). */
export interface Target {
  name: string;
  description: string;
  emit(layouts: LayoutIR[], options: EmitOptions): EmittedFile[];
}
