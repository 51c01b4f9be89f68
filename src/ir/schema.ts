// The head table's schema: the one definition of the runtime contract that every kernel reads.
//
// Table: heads x termSlots x fieldsPerTerm(modSlots) int32. A term slot holds
//   D_LO, D_HI, K_LO, K_HI, Q_LO, Q_HI        d = i - j in [dLo, dHi), j in [kLo, kHi), i in [qLo, qHi)
//   then modSlots x (MOD_ON, MOD_M, MOD_LO, MOD_HI) at MOD_BASE + MOD_STRIDE * m:
//                                             (on == MOD_ON_D ? d : j) floor-mod m in [lo, hi)
// Encodings: an empty slot has all six interval fields 0 (EMPTY_TERM: dLo = dHi = 0 allows
// nothing); an unused mod slot is NEUTRAL_MOD = (MOD_ON_D, 1, 0, 1) (always true). A mod is
// neutral (has no effect) when lo <= 0 and hi >= m. The table builder also empties the distance
// interval of a term whose residue window is empty (lo >= hi), so span helpers need not read mods
// to know a term is empty.
//
// Span helpers: a span is a half-open range [lo, hi); the canonical empty span is (0, 0), so the
// tests `lo < j1 && hi > j0` (overlap) and `j0 >= lo && j0 + len <= hi` (containment, len >= 1)
// are false for it whenever j0 >= 0. The helpers are data (SpanHelper: expressions of the tiny
// language SExpr below): codegen/schema.ts renders them as C++, WGSL, JavaScript and Python,
// and this file evaluates them for the IR, so every consumer computes the same numbers.
//
//   key_span(t, i0, i1, n)        keys j in [0, n) that some row of [i0, i1) reaches (mods ignored)
//   full_key_span(t, mod_slots, i0, i1, n)
//                                 keys that every row of [i0, i1) reaches; empty unless the term
//                                 has no effective mod, i0 < i1, [i0, i1) inside [qLo, qHi), i1 <= n
//   query_span(t, j0, j1, n)      rows i in [0, n) that reach some key of [j0, j1) (mods ignored)
//
// Derivations (mod-free terms; with mods key_span and query_span contain the true sets):
// row i reaches the keys K(i) = [L(i), U(i)) with L(i) = max(kLo, i - dHi + 1, 0) and
// U(i) = min(kHi, i - dLo + 1, n) when qLo <= i < qHi. Both ends are non-decreasing in i and grow
// by at most 1 per row, and the rows with K(i) non-empty form one interval (each condition of
// L(i) < U(i) bounds i on one side), so the union over the rows r0 = max(i0, qLo) .. r1 - 1
// (r1 = min(i1, qHi)) is one interval. If row r0 reaches nothing because it is too early
// (r0 - dLo + 1 <= kLo), L(r0) = kLo = L(first row that reaches something); if too late, every
// later row is too, and L(r0) >= kHi >= U(r1 - 1). Symmetrically at r1 - 1. So
//   key_span = [L(r0), U(r1 - 1)) = [max(kLo, r0 - dHi + 1, 0), min(kHi, r1 - dLo, n)),
// exact, empty unless r0 < r1, dLo < dHi and lo < hi (kLo < kHi follows from lo < hi).
// Every row of [i0, i1) reaches the intersection of the K(i), [L(i1 - 1), U(i0)):
//   full_key_span = [max(kLo, i1 - dHi, 0), min(kHi, i0 - dLo + 1, n))
// when every row has qLo <= i < qHi and i < n (dLo < dHi follows from lo < hi and i0 < i1).
// Key j is reached from rows [j + dLo, j + dHi); over the keys [ja, jb) = [max(j0, kLo, 0),
// min(j1, kHi, n)) these windows (width dHi - dLo >= 1, shifted by 1) overlap, so
//   query_span = [max(ja + dLo, qLo, 0), min(jb - 1 + dHi, qHi, n)), empty unless ja < jb, dLo < dHi.
// All intermediate values fit int32 for tables at N <= 2^30 and arguments in [0, N].
import type { CTerm } from './types.js';

/** Offsets of the interval fields of a term slot. */
export const FIELD = { dLo: 0, dHi: 1, kLo: 2, kHi: 3, qLo: 4, qHi: 5 } as const;
export type TermField = keyof typeof FIELD;
/** Offsets of the fields of a mod slot, from the slot's start. */
export const MOD = { on: 0, m: 1, lo: 2, hi: 3 } as const;
export type ModField = keyof typeof MOD;
/** Mod slot m starts at MOD_BASE + MOD_STRIDE * m. */
export const MOD_BASE = 6;
export const MOD_STRIDE = 4;
/** MOD_ON values: the residue is taken of d = i - j, or of j. */
export const MOD_ON_D = 0;
export const MOD_ON_J = 1;
/** The six interval fields of an empty term slot. */
export const EMPTY_TERM: readonly number[] = [0, 0, 0, 0, 0, 0];
/** An unused mod slot: d mod 1 in [0, 1), always true. */
export const NEUTRAL_MOD: readonly number[] = [MOD_ON_D, 1, 0, 1];
/** The canonical empty span. */
export const EMPTY_SPAN: readonly [number, number] = [0, 0];

export const fieldsPerTerm = (modSlots: number): number => MOD_BASE + MOD_STRIDE * modSlots;
/** Offset of a field of mod slot m within a term slot. */
export const modOffset = (m: number, f: ModField): number => MOD_BASE + MOD_STRIDE * m + MOD[f];

/** Upper-case constant name of a field: dLo -> D_LO, lo -> MOD_LO. */
export const fieldConst = (f: TermField): string => f.replace(/([A-Z])/g, '_$1').toUpperCase();
export const modConst = (f: ModField): string => `MOD_${f.toUpperCase()}`;

/** The schema's named constants, in the order renderers emit them. */
export const SCHEMA_CONSTANTS: readonly { name: string; value: number | readonly number[]; doc: string }[] = [
  ...(Object.keys(FIELD) as TermField[]).map((f) => ({ name: fieldConst(f), value: FIELD[f], doc: `offset of ${f} in a term slot` })),
  { name: 'MOD_BASE', value: MOD_BASE, doc: 'mod slot m starts at MOD_BASE + MOD_STRIDE * m' },
  { name: 'MOD_STRIDE', value: MOD_STRIDE, doc: 'fields per mod slot' },
  ...(Object.keys(MOD) as ModField[]).map((f) => ({ name: modConst(f), value: MOD[f], doc: `offset of ${f} in a mod slot` })),
  { name: 'MOD_ON_D', value: MOD_ON_D, doc: 'MOD_ON value: residue of d = i - j' },
  { name: 'MOD_ON_J', value: MOD_ON_J, doc: 'MOD_ON value: residue of j' },
  { name: 'EMPTY_TERM', value: EMPTY_TERM, doc: 'interval fields of an empty term slot' },
  { name: 'NEUTRAL_MOD', value: NEUTRAL_MOD, doc: 'an unused mod slot (always true)' },
];

// ---- The expression language -------------------------------------------------------------

export type BinOp = '+' | '-' | 'max' | 'min' | '<' | '<=' | 'and' | 'or';

/**
 * Integer expressions over one term slot. 'field' reads the term's field, 'var' a parameter or an
 * earlier local, 'modField' a field of the current mod slot (only inside 'allMods', the
 * conjunction of its body over the mod slots 0 .. mod_slots - 1). Comparisons and and/or are
 * boolean; 'select' is cond ? then : else.
 */
export type SExpr =
  | { op: 'int'; value: number }
  | { op: 'field'; field: TermField }
  | { op: 'modField'; field: ModField }
  | { op: 'var'; name: string }
  | { op: BinOp; a: SExpr; b: SExpr }
  | { op: 'select'; cond: SExpr; then: SExpr; else: SExpr }
  | { op: 'allMods'; body: SExpr };

export type HelperName = 'key_span' | 'full_key_span' | 'query_span';

/** The parameter that counts mod slots (unsigned in WGSL); a helper that uses 'allMods' takes it first. */
export const MOD_SLOTS_PARAM = 'mod_slots';

/** A span helper: locals in order, then span = ok ? [lo, hi) : EMPTY_SPAN. */
export interface SpanHelper {
  name: HelperName;
  doc: string;
  /** Parameters after the term, in order (all int; MOD_SLOTS_PARAM counts mod slots). */
  params: readonly string[];
  locals: readonly (readonly [string, SExpr])[];
  ok: SExpr;
  lo: SExpr;
  hi: SExpr;
}

type Arg = SExpr | string | number;
/** A name is a term field if it is one (dLo, ...), else a parameter or local. */
const x = (a: Arg): SExpr =>
  typeof a === 'number' ? { op: 'int', value: a } : typeof a === 'string' ? (a in FIELD ? { op: 'field', field: a as TermField } : { op: 'var', name: a }) : a;
const bin =
  (op: BinOp) =>
  (...args: Arg[]): SExpr =>
    args.map(x).reduce((a, b) => ({ op, a, b }));
const add = bin('+');
const sub = bin('-');
const max = bin('max');
const min = bin('min');
const lt = bin('<');
const le = bin('<=');
const and = bin('and');
const modField = (f: ModField): SExpr => ({ op: 'modField', field: f });

export const KEY_SPAN: SpanHelper = {
  name: 'key_span',
  doc: "Keys in [0, n) that some row of [i0, i1) reaches through the term's intervals (mods ignored); empty: (0, 0).",
  params: ['i0', 'i1', 'n'],
  locals: [
    ['r0', max('i0', 'qLo')],
    ['r1', min('i1', 'qHi')],
    ['a', max('kLo', add(sub('r0', 'dHi'), 1), 0)],
    ['e', min('kHi', sub('r1', 'dLo'), 'n')],
  ],
  ok: and(lt('r0', 'r1'), lt('dLo', 'dHi'), lt('a', 'e')),
  lo: x('a'),
  hi: x('e'),
};

export const FULL_KEY_SPAN: SpanHelper = {
  name: 'full_key_span',
  doc: 'Keys that every row of [i0, i1) reaches; empty (0, 0) unless no mod is effective, i0 < i1, [i0, i1) lies in [qLo, qHi) and i1 <= n.',
  params: [MOD_SLOTS_PARAM, 'i0', 'i1', 'n'],
  locals: [
    ['nomod', { op: 'allMods', body: and(le(modField('lo'), 0), le(modField('m'), modField('hi'))) }],
    ['a', max('kLo', sub('i1', 'dHi'), 0)],
    ['e', min('kHi', add(sub('i0', 'dLo'), 1), 'n')],
  ],
  ok: and('nomod', lt('i0', 'i1'), le('qLo', 'i0'), le('i1', 'qHi'), le('i1', 'n'), lt('a', 'e')),
  lo: x('a'),
  hi: x('e'),
};

export const QUERY_SPAN: SpanHelper = {
  name: 'query_span',
  doc: "Rows in [0, n) that reach some key of [j0, j1) through the term's intervals (mods ignored); empty: (0, 0).",
  params: ['j0', 'j1', 'n'],
  locals: [
    ['ja', max('j0', 'kLo', 0)],
    ['jb', min('j1', 'kHi', 'n')],
    ['a', max(add('ja', 'dLo'), 'qLo', 0)],
    ['e', min(add(sub('jb', 1), 'dHi'), 'qHi', 'n')],
  ],
  ok: and(lt('ja', 'jb'), lt('dLo', 'dHi'), lt('a', 'e')),
  lo: x('a'),
  hi: x('e'),
};

export const SPAN_HELPERS: readonly SpanHelper[] = [KEY_SPAN, FULL_KEY_SPAN, QUERY_SPAN];

/** True for expressions of boolean type. */
export function isBool(e: SExpr, locals: ReadonlyMap<string, boolean> = new Map()): boolean {
  switch (e.op) {
    case '<':
    case '<=':
    case 'and':
    case 'or':
    case 'allMods':
      return true;
    case 'select':
      return isBool(e.then, locals);
    case 'var':
      return locals.get(e.name) ?? false;
    default:
      return false;
  }
}

// ---- Evaluation in TypeScript ---------------------------------------------------------------
// The IR evaluates a helper by compiling its expressions once into a JavaScript function (the
// statistics call key_span per row, so an interpreter would be the bottleneck). Two forms: over a
// table (t, o: a term slot at t[o ..]) and over a CTerm object (its own mods as the mod slots).

export interface Span {
  lo: number;
  hi: number;
}

type Form = 'table' | 'term';

function jsOf(e: SExpr, form: Form): string {
  const r = (x: SExpr) => jsOf(x, form);
  switch (e.op) {
    case 'int':
      return `(${e.value})`;
    case 'field':
      return form === 'table' ? `t[o + ${FIELD[e.field]}]` : `t.${e.field}`;
    case 'modField':
      if (form === 'table') return `t[o + ${MOD_BASE} + ${MOD_STRIDE} * m + ${MOD[e.field]}]`;
      return e.field === 'on' ? `(t.mods[m].on === 'd' ? ${MOD_ON_D} : ${MOD_ON_J})` : `t.mods[m].${e.field}`;
    case 'var':
      if (!/^[a-z]\w*$/.test(e.name)) throw new Error(`internal: bad schema variable name ${e.name}`);
      return e.name;
    case 'select':
      return `(${r(e.cond)} ? ${r(e.then)} : ${r(e.else)})`;
    case 'allMods':
      throw new Error('internal: allMods is a statement (a local of its own)');
    case 'max':
    case 'min':
      return `Math.${e.op}(${r(e.a)}, ${r(e.b)})`;
    case 'and':
      return `(${r(e.a)} && ${r(e.b)})`;
    case 'or':
      return `(${r(e.a)} || ${r(e.b)})`;
    default:
      return `(${r(e.a)} ${e.op} ${r(e.b)})`;
  }
}

/**
 * The helper as a function: (t, o, ...params) over a table, or (t, ...params) over a CTerm (then
 * mod_slots, if the helper takes it, must be t.mods.length).
 */
export function compileHelper(h: SpanHelper, form: 'table'): (t: ArrayLike<number>, o: number, ...args: number[]) => Span;
export function compileHelper(h: SpanHelper, form: 'term'): (t: CTerm, ...args: number[]) => Span;
export function compileHelper(h: SpanHelper, form: Form): (...args: never[]) => Span {
  const lines = h.locals.map(([name, e]) =>
    e.op === 'allMods'
      ? `let ${name} = true; for (let m = 0; m < ${MOD_SLOTS_PARAM}; m++) if (!${jsOf(e.body, form)}) { ${name} = false; break; }`
      : `const ${name} = ${jsOf(e, form)};`,
  );
  lines.push(`return ${jsOf(h.ok, form)} ? { lo: ${jsOf(h.lo, form)}, hi: ${jsOf(h.hi, form)} } : { lo: ${EMPTY_SPAN[0]}, hi: ${EMPTY_SPAN[1]} };`);
  const params = [...(form === 'table' ? ['t', 'o'] : ['t']), ...h.params];
  return new Function(...params, lines.join('\n')) as (...args: never[]) => Span;
}

/** key_span of the term slot at t[o ..]. */
export const keySpan: (t: ArrayLike<number>, o: number, i0: number, i1: number, n: number) => Span = compileHelper(KEY_SPAN, 'table');
/** full_key_span of the term slot at t[o ..] with modSlots mod slots. */
export const fullKeySpan: (t: ArrayLike<number>, o: number, modSlots: number, i0: number, i1: number, n: number) => Span = compileHelper(
  FULL_KEY_SPAN,
  'table',
);
/** query_span of the term slot at t[o ..]. */
export const querySpan: (t: ArrayLike<number>, o: number, j0: number, j1: number, n: number) => Span = compileHelper(QUERY_SPAN, 'table');

/** The same helpers over a CTerm (its mods, the effective ones, as its mod slots). */
export const termKeySpan: (t: CTerm, i0: number, i1: number, n: number) => Span = compileHelper(KEY_SPAN, 'term');
const fullOfTerm = compileHelper(FULL_KEY_SPAN, 'term');
export const termFullKeySpan = (t: CTerm, i0: number, i1: number, n: number): Span => fullOfTerm(t, t.mods.length, i0, i1, n);
export const termQuerySpan: (t: CTerm, j0: number, j1: number, n: number) => Span = compileHelper(QUERY_SPAN, 'term');
