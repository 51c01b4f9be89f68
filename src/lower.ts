// Lowering: checked AST layouts to the band IR. Patterns become unions of terms
// (disjunctive normal form): & distributes over |, and intersecting two terms
// intersects their intervals and joins their mods.
import { diag, SpecError, type CheckedLayout, type Expr, type Pattern } from '../dsl/index.js';

/** The most terms one head's pattern may expand to (kernels unroll over them). */
export const MAX_TERMS = 64;

function termCount(p: Pattern): number {
  if (p.kind === 'prim') return p.name === 'none' ? 0 : 1;
  return p.kind === 'union' ? termCount(p.left) + termCount(p.right) : termCount(p.left) * termCount(p.right);
}
import { emax, emin, num, v, type IExpr, type LayoutIR, type Loc, type Term } from './ir/index.js';

export function lowerLayout(c: CheckedLayout): LayoutIR {
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
      : c.partition.kind === 'explicit'
        ? { kind: 'explicit', bounds: c.partition.bounds.map(lowerExpr) }
        : c.partition.kind === 'tuned'
          ? { kind: 'tuned', fallback: 'equal_pairs' }
          : { kind: c.partition.kind },
    groups: c.groups.map((g) => {
      const count = termCount(g.pattern);
      if (count > MAX_TERMS) throw new SpecError([diag('E046', g.pattern.span, count, MAX_TERMS)]);
      return { lo: g.lo, hi: g.hi, terms: lowerPattern(g.pattern) };
    }),
  };
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
