// The band IR. It knows exactly which (query, key) pairs each head computes, as unions of
// terms over distance d = i - j, key j and query i, and imports nothing else of spc.

/** Where an expression came from in the spec, so evaluation errors can point at it. */
export interface Loc {
  line: number;
  col: number;
  offset: number;
  length: number;
}

export type VarName = 'N' | 'H' | 'h' | 'S' | 'W';

/** Integer expression of N, H, h, S, W. '/' and '%' are floor division and floor modulo. */
export type IExpr =
  | { op: 'num'; value: number; loc?: Loc }
  | { op: 'var'; name: VarName; loc?: Loc }
  | { op: 'neg'; arg: IExpr; loc?: Loc }
  | { op: '+' | '-' | '*' | '/' | '%'; left: IExpr; right: IExpr; loc?: Loc }
  | { op: 'min' | 'max'; args: IExpr[]; loc?: Loc };

export type Interval<E> = [lo: E, hi: E];

/** A residue condition: (d or j) mod m lies in [lo, hi). */
export interface Mod<E> {
  on: 'd' | 'j';
  m: E;
  lo: E;
  hi: E;
}

/** One conjunction: d in [dLo, dHi) and j in [kLo, kHi) and i in [qLo, qHi) and every mod. A missing interval is unconstrained. */
export interface Term<E> {
  d?: Interval<E>;
  k?: Interval<E>;
  q?: Interval<E>;
  mods: Mod<E>[];
}

/** The band boundaries S_0..S_H chosen for one length N (from a tuning record). */
export interface TunedBands {
  n: number;
  bounds: number[];
}

/**
 * `tuned`: bands chosen by the autotuner (src/tuner) near the base partition, each head's band
 * pair share within `tol` (relative) of the base's. They are fixed per N and come from outside
 * the spec (a tuning record, `spc compile --tuning`): `bands` lists them; a length with no entry
 * is E054, never silently the base partition. `useBase` is the explicit opt-out
 * (`spc compile --untuned`): the base partition at every N.
 */
export type Partition =
  | { kind: 'equal_width' | 'equal_pairs' }
  | { kind: 'tuned'; base: 'equal_width' | 'equal_pairs'; tol: number; bands: TunedBands[]; useBase: boolean }
  | { kind: 'explicit'; bounds: IExpr[] };

/** Heads lo..hi-1 share one pattern, a union of terms. */
export interface HeadGroupIR {
  lo: number;
  hi: number;
  terms: Term<IExpr>[];
}

/** A layout before N is known: everything a target needs to emit code that works for any N. */
export interface LayoutIR {
  name: string;
  heads: number;
  kvHeads: number;
  headDim: number;
  dtype: 'bf16' | 'fp16' | 'fp32';
  /** Fixed length, or null when N is given at compile or run time. */
  seq: number | null;
  causal: boolean;
  partition: Partition | null;
  groups: HeadGroupIR[];
  /** Where the spec gives these properties, for diagnostics (a target's E100 points at head_dim). */
  locs?: Partial<Record<'heads' | 'kvHeads' | 'headDim' | 'dtype' | 'seq' | 'partition', Loc>>;
}

/** A term with numbers, clamped to the N x N grid: 0 <= kLo, qLo and kHi, qHi <= N; -(N-1) <= dLo, dHi <= N. */
export interface CTerm {
  dLo: number;
  dHi: number;
  kLo: number;
  kHi: number;
  qLo: number;
  qHi: number;
  mods: Mod<number>[];
}

export interface HeadInstance {
  head: number;
  kvHead: number;
  /** The head's band [start, start+width) in distance, when the layout has a partition. */
  band: { start: number; width: number } | null;
  /** Normalised: no empty term, plain intervals merged, canonical order. */
  terms: CTerm[];
}

/** A layout at one N. */
export interface Instance {
  layout: LayoutIR;
  n: number;
  heads: HeadInstance[];
}

/** The arguments of each evaluation error, in the order of its message (dsl/messages.ts; the driver checks they agree). */
export interface EvalErrorArgs {
  E052: [rule: string];
  E053: [boundary: number, n: number];
  E054: [n: number, have: string];
  E070: [n?: number];
  E072: [what: string, got: number, n?: number];
  E073: [period: number, max: number, n: number];
  E074: [length: number, max: number];
}
export type EvalCode = keyof EvalErrorArgs;

export class EvalError<C extends EvalCode = EvalCode> extends Error {
  constructor(
    readonly code: C,
    readonly args: EvalErrorArgs[C],
    readonly loc?: Loc,
  ) {
    super(`${code} ${args.join(' ')}`);
    this.name = 'EvalError';
  }
}
