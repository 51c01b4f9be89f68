// Lowering: checked AST layouts to the band IR. Patterns become unions of terms
// (disjunctive normal form): & distributes over |, and intersecting two terms
// intersects their intervals and joins their mods.
//
// Lowering is also where constant arguments are checked (an empty dist(8, 4), stride(0), explicit
// boundaries that decrease): the front end evaluates nothing, so all arithmetic, floor division
// and its division by zero (E070, with the expression's loc) is the IR's evaluator's.
import { diag, PRIMITIVES, SpecError, type CheckedLayout, type Diagnostic, type Expr, type Pattern } from '../dsl/index.js';

import { emax, emin, evalExpr, num, v, varsOf, type IExpr, type LayoutIR, type Loc, type Term } from './ir/index.js';

/** The most terms one head's pattern may expand to (kernels unroll over them). */
export const MAX_TERMS = 64;

function termCount(p: Pattern): number {
  if (p.kind === 'prim') return p.name === 'none' ? 0 : 1;
  return p.kind === 'union' ? termCount(p.left) + termCount(p.right) : termCount(p.left) * termCount(p.right);
}

/** Terms counted without multiplying out intersections: more than MAX_TERMS means the union itself is too long. */
function unionCount(p: Pattern): number {
  if (p.kind === 'prim') return p.name === 'none' ? 0 : 1;
  return p.kind === 'union' ? unionCount(p.left) + unionCount(p.right) : Math.max(unionCount(p.left), unionCount(p.right));
}

export function lowerLayout(c: CheckedLayout): LayoutIR {
  const out: Diagnostic[] = [];
  const bounds = c.partition?.kind === 'explicit' ? c.partition.bounds.map(lowerExpr) : null;
  if (bounds) checkBounds(bounds, out);
  const checked = new Set<Pattern>(); // head groups may share one pattern: check it once
  const groups = c.groups.map((g) => {
    const count = termCount(g.pattern);
    if (count > MAX_TERMS)
      out.push(
        diag(
          'E046',
          g.pattern.span,
          count,
          MAX_TERMS,
          unionCount(g.pattern) > MAX_TERMS
            ? 'write it as a union of fewer terms'
            : 'write it with fewer unions inside intersections (each & multiplies out the terms of its sides)',
        ),
      );
    if (!checked.has(g.pattern)) checkConstants(g.pattern, out);
    checked.add(g.pattern);
    return { lo: g.lo, hi: g.hi, terms: count > MAX_TERMS ? [] : lowerPattern(g.pattern) };
  });
  if (out.length) throw new SpecError(out);
  return {
    name: c.name,
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    dtype: c.dtype,
    seq: c.seq,
    causal: c.causal,
    partition: !c.partition
      ? null
      : bounds
        ? { kind: 'explicit', bounds }
        : c.partition.kind === 'tuned'
          ? { kind: 'tuned', base: c.partition.base, tol: c.partition.tol, bands: [], useBase: false }
          : { kind: c.partition.kind as 'equal_width' | 'equal_pairs' },
    groups,
    locs: { ...c.spans },
  };
}

/** The value of an expression that uses no name, by the IR's evaluator; null when it depends on N, h, ... */
function constant(e: IExpr): number | null {
  return varsOf(e).size ? null : evalExpr(e, {});
}

/** Explicit boundaries that are constant must start at 0 and never decrease (the rest is checked when N is known). */
function checkBounds(bounds: IExpr[], out: Diagnostic[]): void {
  const vals = bounds.map(constant);
  if (vals[0] !== null && vals[0] !== 0) out.push(diag('E052', bounds[0]!.loc, 'start at 0 (the first band begins at distance 0)'));
  for (let k = 1; k < vals.length; k++) {
    const a = vals[k - 1];
    const b = vals[k];
    if (a != null && b != null && b < a) out.push(diag('E052', bounds[k]!.loc, `not decrease: ${b} follows ${a}, so bands would overlap`));
  }
}

/**
 * Constant pattern arguments: intervals must not be empty; strides, periods, windows, sink counts
 * and fixed's block count at least 1 (a smaller constant would leave every head with no key).
 */
function checkConstants(p: Pattern, out: Diagnostic[]): void {
  if (p.kind !== 'prim') {
    checkConstants(p.left, out);
    checkConstants(p.right, out);
    return;
  }
  const args = p.args.map(lowerExpr);
  const values = args.map(constant); // a constant division by zero is E070 here, without any N
  if (p.name === 'dist' || p.name === 'keys' || p.name === 'queries') {
    const [lo, hi] = values;
    if (lo != null && hi != null && lo >= hi) out.push(diag('E045', p.span, lo, hi));
  }
  const atLeastOne = { stride: [0], dilated: [0, 1], fixed: [0, 1], window: [0], sinks: [0] }[p.name as string] ?? [];
  for (const k of atLeastOne) {
    const value = values[k];
    if (value != null && value < 1) out.push(diag('E072', args[k]!.loc, `${p.name}'s ${PRIMITIVES[p.name].params[k]}`, value));
  }
}

export function lowerExpr(e: Expr): IExpr {
  const loc: Loc = e.span;
  switch (e.kind) {
    case 'num':
      return { op: 'num', value: e.value, loc };
    case 'name':
      return { op: 'var', name: e.name as 'N', loc };
    case 'neg':
      return { op: 'neg', arg: lowerExpr(e.arg), loc };
    case 'bin':
      if (e.op === '|' || e.op === '&') throw new Error('internal: pattern operator in a number');
      return { op: e.op, left: lowerExpr(e.left), right: lowerExpr(e.right), loc };
    case 'call':
      return { op: e.callee as 'min', args: e.args.map(lowerExpr), loc };
    case 'list':
      throw new Error('internal: list in a number');
    case 'decimal':
    case 'named':
      throw new Error(`internal: ${e.kind} in a number`);
  }
}

const add = (a: IExpr, b: IExpr): IExpr => (a.op === 'num' && b.op === 'num' ? num(a.value + b.value) : { op: '+', left: a, right: b });
const mul = (a: IExpr, b: IExpr, loc?: Loc): IExpr => (a.op === 'num' && b.op === 'num' ? num(a.value * b.value) : { op: '*', left: a, right: b, loc });
const sub = (a: IExpr, b: IExpr): IExpr => (a.op === 'num' && b.op === 'num' ? num(a.value - b.value) : { op: '-', left: a, right: b });

function primTerms(name: string, a: IExpr[]): Term<IExpr>[] {
  switch (name) {
    case 'band':
      return [{ d: [v('S'), add(v('S'), v('W'))], mods: [] }];
    case 'dense':
      return [{ mods: [] }];
    case 'none':
      return [];
    case 'window':
      return [{ d: [num(0), a[0]!], mods: [] }];
    case 'dist':
      return [{ d: [a[0]!, a[1]!], mods: [] }];
    case 'sinks':
      return [{ k: [num(0), a[0]!], mods: [] }];
    case 'keys':
      return [{ k: [a[0]!, a[1]!], mods: [] }];
    case 'queries':
      return [{ q: [a[0]!, a[1]!], mods: [] }];
    case 'stride':
      return [{ mods: [{ on: 'd', m: a[0]!, lo: num(0), hi: num(1) }] }];
    case 'dilated':
      return [{ d: [num(0), mul(a[0]!, a[1]!, a[0]!.loc)], mods: [{ on: 'd', m: a[1]!, lo: num(0), hi: num(1) }] }];
    case 'fixed':
      return [{ mods: [{ on: 'j', m: a[0]!, lo: sub(a[0]!, a[1]!), hi: a[0]! }] }];
    default:
      throw new Error(`internal: unknown primitive ${name}`);
  }
}

function meetInterval(a: [IExpr, IExpr] | undefined, b: [IExpr, IExpr] | undefined): [IExpr, IExpr] | undefined {
  if (!a) return b;
  if (!b) return a;
  return [emax(a[0], b[0]), emin(a[1], b[1])];
}

function meet(a: Term<IExpr>, b: Term<IExpr>): Term<IExpr> {
  const t: Term<IExpr> = { mods: [...a.mods, ...b.mods] };
  const d = meetInterval(a.d, b.d);
  const k = meetInterval(a.k, b.k);
  const q = meetInterval(a.q, b.q);
  if (d) t.d = d;
  if (k) t.k = k;
  if (q) t.q = q;
  return t;
}

export function lowerPattern(p: Pattern): Term<IExpr>[] {
  switch (p.kind) {
    case 'prim':
      return primTerms(p.name, p.args.map(lowerExpr));
    case 'union':
      return [...lowerPattern(p.left), ...lowerPattern(p.right)];
    case 'inter': {
      const l = lowerPattern(p.left);
      const r = lowerPattern(p.right);
      return l.flatMap((a) => r.map((b) => meet(a, b)));
    }
  }
}
