// The head table: the runtime form of an instance that every target's host code builds
// for the N it is called with, and every kernel reads. Fixed shape for a layout:
// heads x termSlots x fieldsPerTerm int32; the fields and their encodings are defined once in
// schema.ts (dLo, dHi, kLo, kHi, qLo, qHi, then modSlots x (on, m, lo, hi); empty slots and
// neutral mods). Terms are evaluated and clamped exactly as `instantiate` does, but not merged:
// a kernel computes the union. `normalise` of a head's slots gives the instance's terms.
import { evalExpr, type Env } from './expr.js';
import { minDistance, partitionBounds } from './partition.js';
import { EMPTY_TERM, FIELD, MOD_ON_D, MOD_ON_J, NEUTRAL_MOD, fieldsPerTerm, modOffset } from './schema.js';
import { EvalError, type CTerm, type IExpr, type LayoutIR, type Term } from './types.js';

/** The largest stride or period: table fields are int32. */
export const MAX_PERIOD = 2 ** 31 - 1;

export interface TableShape {
  termSlots: number;
  modSlots: number;
  fieldsPerTerm: number;
}

export function tableShape(layout: LayoutIR): TableShape {
  let termSlots = 1;
  let modSlots = 0;
  for (const g of layout.groups) {
    termSlots = Math.max(termSlots, g.terms.length);
    for (const t of g.terms) modSlots = Math.max(modSlots, t.mods.length);
  }
  return { termSlots, modSlots, fieldsPerTerm: fieldsPerTerm(modSlots) };
}

/** The head table at length n; `bounds` may pass the partition already computed for n. */
export function headTable(layout: LayoutIR, n: number, bounds: number[] | null = partitionBounds(layout, n)): Int32Array {
  const shape = tableShape(layout);
  const out = new Int32Array(layout.heads * shape.termSlots * shape.fieldsPerTerm);
  const dMin = minDistance(layout, n);
  for (const g of layout.groups)
    for (let h = g.lo; h < g.hi; h++) out.set(headSlots(layout, n, h, bounds, shape, dMin), h * shape.termSlots * shape.fieldsPerTerm);
  return out;
}

/**
 * One head's rows of the head table at length n, its band taken from `bounds` (S_h = bounds[h],
 * W_h = bounds[h+1] - bounds[h]); only head h's expressions are evaluated. The autotuner prices
 * a head's band this way without building the whole table.
 */
export function headSlots(
  layout: LayoutIR,
  n: number,
  h: number,
  bounds: readonly number[] | null,
  shape: TableShape = tableShape(layout),
  dMin: number = minDistance(layout, n),
): number[] {
  const g = layout.groups.find((x) => x.lo <= h && h < x.hi);
  if (!g) throw new Error(`internal: head ${h} is in no head group`);
  const env: Env = { N: n, H: layout.heads, h };
  if (bounds) Object.assign(env, { S: bounds[h]!, W: bounds[h + 1]! - bounds[h]! });
  const out: number[] = [];
  for (const t of g.terms) out.push(...termFields(t, env, n, dMin, shape.modSlots));
  for (let slot = g.terms.length; slot < shape.termSlots; slot++) out.push(...emptyFields(shape.modSlots));
  return out;
}

function emptyFields(modSlots: number): number[] {
  const f = [...EMPTY_TERM];
  for (let m = 0; m < modSlots; m++) f.push(...NEUTRAL_MOD);
  return f;
}

function termFields(t: Term<IExpr>, env: Env, n: number, dMin: number, modSlots: number): number[] {
  // Both ends clamped into [lo, hi], so every field fits int32 whatever the expressions give.
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const iv = (x: [IExpr, IExpr] | undefined, lo: number, hi: number): [number, number] =>
    x ? [clamp(evalExpr(x[0], env), lo, hi), clamp(evalExpr(x[1], env), lo, hi)] : [lo, hi];
  const f = [...iv(t.d, dMin, n), ...iv(t.k, 0, n), ...iv(t.q, 0, n)]; // FIELD order
  for (const m of t.mods) {
    const mm = evalExpr(m.m, env);
    if (mm < 1) throw new EvalError('E072', ['a stride or period', mm, n], m.m.loc);
    if (mm > MAX_PERIOD) throw new EvalError('E073', [mm, MAX_PERIOD, n], m.m.loc);
    f.push(m.on === 'd' ? MOD_ON_D : MOD_ON_J, mm, clamp(evalExpr(m.lo, env), 0, mm), clamp(evalExpr(m.hi, env), 0, mm));
  }
  for (let m = t.mods.length; m < modSlots; m++) f.push(...NEUTRAL_MOD);
  return emptyIfNoResidue(f, modSlots);
}

/**
 * A term with an empty residue window (lo >= hi, e.g. fixed(128, 0)) allows nothing: its distance
 * interval becomes empty too, so every consumer of the table (kernel tile walks included) skips it.
 * The JS and Python hosts do the same (codegen/host.ts).
 */
function emptyIfNoResidue(f: number[], modSlots: number): number[] {
  for (let m = 0; m < modSlots; m++) if (f[modOffset(m, 'lo')]! >= f[modOffset(m, 'hi')]!) f[FIELD.dLo] = f[FIELD.dHi] = 0;
  return f;
}

/** The table's slots of one head as terms (empty ones dropped, trivial mods dropped). */
export function tableTerms(table: ArrayLike<number>, shape: TableShape, head: number): CTerm[] {
  const out: CTerm[] = [];
  for (let s = 0; s < shape.termSlots; s++) {
    const b = (head * shape.termSlots + s) * shape.fieldsPerTerm;
    const f = (k: number) => table[b + k]!;
    const t: CTerm = { dLo: f(FIELD.dLo), dHi: f(FIELD.dHi), kLo: f(FIELD.kLo), kHi: f(FIELD.kHi), qLo: f(FIELD.qLo), qHi: f(FIELD.qHi), mods: [] };
    let empty = t.dLo >= t.dHi || t.kLo >= t.kHi || t.qLo >= t.qHi;
    for (let m = 0; m < shape.modSlots; m++) {
      const [on, mm, lo, hi] = [f(modOffset(m, 'on')), f(modOffset(m, 'm')), f(modOffset(m, 'lo')), f(modOffset(m, 'hi'))];
      if (lo >= hi) empty = true;
      else if (!(lo === 0 && hi === mm)) t.mods.push({ on: on === MOD_ON_D ? 'd' : 'j', m: mm, lo, hi });
    }
    if (!empty) out.push(t);
  }
  return out;
}
