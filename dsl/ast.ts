import type { Span } from './diagnostic.js';

/** Integer expressions: numbers, names (N, H, h, S, W), arithmetic, calls (min, max). */
export type Expr =
  | { kind: 'num'; value: number; text: string; span: Span }
  | { kind: 'name'; name: string; span: Span }
  | { kind: 'neg'; arg: Expr; span: Span }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '%' | '|' | '&'; left: Expr; right: Expr; span: Span }
  | { kind: 'call'; callee: string; calleeSpan: Span; args: Expr[]; span: Span }
  | { kind: 'list'; items: Expr[]; span: Span }
  /** A decimal number (0.1): only a named argument's value may be one. */
  | { kind: 'decimal'; value: number; text: string; span: Span }
  /** A named argument `name = value` of a call: only `partition tuned(...)` takes them. */
  | { kind: 'named'; name: string; nameSpan: Span; value: Expr; span: Span };

export interface Property {
  name: string;
  nameSpan: Span;
  value: Expr;
}

export interface HeadOverride {
  lo: number;
  hi: number; // inclusive
  span: Span;
  value: Expr;
}

export interface LayoutDecl {
  name: string;
  nameSpan: Span;
  span: Span;
  properties: Property[];
  overrides: HeadOverride[];
}

export interface SpecFile {
  layouts: LayoutDecl[];
}

// ---- The checked AST: what semantic analysis hands to lowering. ----

export type DType = 'bf16' | 'fp16' | 'fp32';
export const DTYPES: readonly DType[] = ['bf16', 'fp16', 'fp32'];

/** The partitions `tuned` may start from and stay near. */
export type BasePartition = 'equal_width' | 'equal_pairs';
export const BASE_PARTITIONS: readonly BasePartition[] = ['equal_width', 'equal_pairs'];
/** The parameters of `partition tuned(...)` and their defaults. */
export const TUNED_DEFAULTS = { base: 'equal_pairs' as BasePartition, tol: 0.1 };

export type PartitionDecl =
  | { kind: BasePartition; span: Span }
  | { kind: 'explicit'; bounds: Expr[]; span: Span }
  /** Bands chosen by the autotuner near `base`: each head's pair share within `tol` (relative) of the base's. */
  | { kind: 'tuned'; base: BasePartition; tol: number; span: Span };

/** A pattern: a set of (query, key) pairs, built from primitives with | (union) and & (intersection). */
export type Pattern = { kind: 'union' | 'inter'; left: Pattern; right: Pattern; span: Span } | { kind: 'prim'; name: PrimName; args: Expr[]; span: Span };

export const PRIMITIVES = {
  band: { params: [], doc: "the head's own band: S <= i-j < S+W" },
  dense: { params: [], doc: 'every key the causal rule allows' },
  none: { params: [], doc: 'no key at all' },
  window: { params: ['w'], doc: 'the w nearest keys: 0 <= i-j < w' },
  dist: { params: ['lo', 'hi'], doc: 'distances lo <= i-j < hi' },
  sinks: { params: ['k'], doc: 'the first k keys: j < k (attention sinks, global tokens)' },
  keys: { params: ['lo', 'hi'], doc: 'keys lo <= j < hi' },
  queries: { params: ['lo', 'hi'], doc: 'queries lo <= i < hi see every key (global query rows)' },
  stride: { params: ['s'], doc: 'distances divisible by s: (i-j) mod s = 0' },
  dilated: { params: ['w', 'r'], doc: 'w keys spaced r apart: i-j in {0, r, ..., (w-1)r}' },
  fixed: { params: ['s', 'c'], doc: 'summary keys of blocks of s: j mod s >= s-c' },
} as const;
export type PrimName = keyof typeof PRIMITIVES;

export interface HeadGroup {
  lo: number; // first head
  hi: number; // one past the last head
  pattern: Pattern;
  span?: Span;
}

export interface CheckedLayout {
  name: string;
  nameSpan: Span;
  heads: number;
  kvHeads: number;
  headDim: number;
  dtype: DType;
  /** A fixed length, or null for a symbolic N. */
  seq: number | null;
  causal: boolean;
  partition: PartitionDecl | null;
  /** Disjoint head groups covering 0..heads-1 in order. */
  groups: HeadGroup[];
  /** Where the properties' values are written (those the layout gives), for later diagnostics. */
  spans: Partial<Record<'heads' | 'kvHeads' | 'headDim' | 'dtype' | 'seq' | 'partition', Span>>;
}
