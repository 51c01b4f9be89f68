import {
  BASE_PARTITIONS,
  DTYPES,
  TUNED_DEFAULTS,
  PRIMITIVES,
  type CheckedLayout,
  type DType,
  type Expr,
  type HeadGroup,
  type LayoutDecl,
  type PartitionDecl,
  type Pattern,
  type PrimName,
  type Property,
  type SpecFile,
} from './ast.js';
import { diag, SpecError, type Diagnostic } from './diagnostic.js';
import { nameProblem, suggest } from './names.js';

export const MAX_NUMBER = 2 ** 40;
export const MAX_HEADS = 4096;
export const MAX_HEAD_DIM = 1024;
/** The longest sequence (the IR's MAX_SEQ; the front end may not import the IR). */
export const MAX_SEQ = 2 ** 30;

const PROPERTIES = ['heads', 'kv_heads', 'head_dim', 'dtype', 'seq', 'causal', 'partition', 'pattern'] as const;
const PARTITIONS = ['equal_width', 'equal_pairs', 'explicit', 'tuned'] as const;
/** Names an expression may use, and what they mean. */
export const EXPR_NAMES = {
  N: 'the sequence length',
  H: 'the number of heads',
  h: 'the head index',
  S: "the start distance of the head's band",
  W: "the width of the head's band",
} as const;
const FUNCTIONS = ['min', 'max'] as const;

/** The most layouts one file may declare (each is checked, lowered and emitted). */
export const MAX_LAYOUTS = 256;

/** Semantic checks: the AST to checked layouts, or a SpecError holding every problem found. */
export function checkSpec(file: SpecFile): CheckedLayout[] {
  const out: Diagnostic[] = [];
  const layouts: CheckedLayout[] = [];
  const seen = new Map<string, LayoutDecl>();
  if (file.layouts.length === 0) out.push(diag('E026', undefined));
  if (file.layouts.length > MAX_LAYOUTS) throw new SpecError([diag('E027', file.layouts[MAX_LAYOUTS]!.nameSpan, file.layouts.length, MAX_LAYOUTS)]);
  for (const decl of file.layouts) {
    const problem = nameProblem(decl.name);
    if (problem) out.push(diag('E025', decl.nameSpan, decl.name, problem));
    if (seen.has(decl.name)) out.push(diag('E024', decl.nameSpan, decl.name));
    seen.set(decl.name, decl);
    const checked = checkLayout(decl, out);
    if (checked) layouts.push(checked);
  }
  if (out.length) throw new SpecError(out);
  return layouts;
}

function checkLayout(decl: LayoutDecl, out: Diagnostic[]): CheckedLayout | null {
  const before = out.length;
  const props = new Map<string, Property>();
  for (const p of decl.properties) {
    if (!(PROPERTIES as readonly string[]).includes(p.name)) {
      out.push(diag('E020', p.nameSpan, p.name, suggest(p.name, PROPERTIES)));
      continue;
    }
    if (props.has(p.name)) out.push(diag('E021', p.nameSpan, p.name));
    else props.set(p.name, p);
  }
  const need = (name: string): Property | undefined => {
    const p = props.get(name);
    if (!p) out.push(diag('E022', decl.nameSpan, decl.name, name));
    return p;
  };

  const headsP = need('heads');
  const heads = headsP ? constInt(headsP, out) : null;
  if (headsP && heads !== null && (heads < 1 || heads > MAX_HEADS)) out.push(diag('E030', headsP.value.span, heads, MAX_HEADS));
  const kvP = props.get('kv_heads');
  const kvHeads = kvP ? constInt(kvP, out) : heads;
  if (kvP && kvHeads !== null && heads !== null && (kvHeads < 1 || heads % kvHeads !== 0)) out.push(diag('E031', kvP.value.span, kvHeads, heads));
  const dimP = need('head_dim');
  const headDim = dimP ? constInt(dimP, out) : null;
  if (dimP && headDim !== null && (headDim < 1 || headDim > MAX_HEAD_DIM)) out.push(diag('E032', dimP.value.span, headDim, MAX_HEAD_DIM));

  let dtype: DType = 'bf16';
  const dtP = props.get('dtype');
  if (dtP) {
    if (dtP.value.kind === 'name' && (DTYPES as readonly string[]).includes(dtP.value.name)) dtype = dtP.value.name as DType;
    else if (dtP.value.kind === 'name') out.push(diag('E033', dtP.value.span, dtP.value.name, DTYPES.join(', ')));
    else out.push(diag('E023', dtP.value.span, 'dtype', `a type name: ${DTYPES.join(', ')}`));
  }

  let seq: number | null = null;
  const seqP = props.get('seq');
  if (seqP) {
    const v = seqP.value;
    if (v.kind === 'name' && v.name === 'N') seq = null;
    else if (v.kind === 'num') {
      if (v.value < 1) out.push(diag('E034', v.span, v.value));
      else if (v.value > MAX_SEQ) out.push(diag('E074', v.span, v.text, MAX_SEQ));
      else seq = v.value;
    } else out.push(diag('E034', v.span, v.kind === 'name' ? `'${v.name}'` : 'an expression'));
  }

  let causal = true;
  const causalP = props.get('causal');
  if (causalP) {
    const v = causalP.value;
    if (v.kind === 'name' && (v.name === 'true' || v.name === 'false')) causal = v.name === 'true';
    else out.push(diag('E023', v.span, 'causal', 'true or false'));
  }

  let partition: PartitionDecl | null = null;
  const partP = props.get('partition');
  if (partP) partition = checkPartition(partP.value, heads, out);

  const patP = props.get('pattern');
  const scope: Scope = { hasPartition: partP !== undefined };
  let defaultPattern: Pattern | null = null;
  if (patP) defaultPattern = checkPattern(patP.value, scope, out);
  else if (partP) defaultPattern = { kind: 'prim', name: 'band', args: [], span: partP.value.span };

  const groups: HeadGroup[] = [];
  if (heads !== null && heads >= 1 && heads <= MAX_HEADS) {
    const owner: (HeadGroup | null)[] = Array(heads).fill(null);
    for (const o of decl.overrides) {
      if (o.lo > o.hi) {
        out.push(diag('E062', o.span, o.lo, o.hi));
        continue;
      }
      const bad = o.hi >= heads ? o.hi : o.lo >= heads ? o.lo : -1;
      if (bad >= 0) {
        out.push(diag('E060', o.span, bad, heads - 1));
        continue;
      }
      const pattern = checkPattern(o.value, scope, out);
      const group: HeadGroup = { lo: o.lo, hi: o.hi + 1, pattern: pattern ?? { kind: 'prim', name: 'none', args: [], span: o.span }, span: o.span };
      for (let h = o.lo; h <= o.hi; h++) {
        const prev = owner[h];
        if (prev) {
          out.push(diag('E061', o.span, h, prev.span!.line));
          break;
        }
        owner[h] = group;
      }
    }
    if (!defaultPattern && !patP && owner.some((g) => g === null)) out.push(diag('E022', decl.nameSpan, decl.name, 'pattern'));
    for (let h = 0; h < heads; h++) {
      const g = owner[h];
      const last = groups[groups.length - 1];
      if (g) {
        if (last && last.span === g.span) last.hi = h + 1;
        else groups.push({ lo: h, hi: h + 1, pattern: g.pattern, span: g.span });
      } else if (defaultPattern) {
        if (last && last.span === undefined) last.hi = h + 1;
        else groups.push({ lo: h, hi: h + 1, pattern: defaultPattern });
      }
    }
  }

  if (out.length > before || heads === null || headDim === null || kvHeads === null) return null;
  const spans: CheckedLayout['spans'] = {};
  for (const [key, p] of [
    ['heads', headsP],
    ['kvHeads', kvP],
    ['headDim', dimP],
    ['dtype', dtP],
    ['seq', seqP],
    ['partition', partP],
  ] as const)
    if (p) spans[key] = p.value.span;
  return { name: decl.name, nameSpan: decl.nameSpan, heads, kvHeads, headDim, dtype, seq, causal, partition, groups, spans };
}

function checkNumber(e: Expr & { kind: 'num' }, out: Diagnostic[]): boolean {
  if (e.value > MAX_NUMBER || !Number.isSafeInteger(e.value)) {
    out.push(diag('E003', e.span, e.text.length > 24 ? `${e.text.slice(0, 24)}...` : e.text, `2^40 = ${MAX_NUMBER}`));
    return false;
  }
  return true;
}

/**
 * A property whose value must be a whole number written out (heads, kv_heads, head_dim): a
 * literal, or a negated one (refused by the range check that follows, with the number). The front
 * end evaluates nothing: arithmetic is the IR's (src/ir/expr.ts), and lowering checks the
 * pattern arguments that are constant (src/lower.ts).
 */
function constInt(p: Property, out: Diagnostic[]): number | null {
  const before = out.length;
  checkIntExpr(p.value, { allowed: [], why: `${p.name} must be a fixed number` }, out);
  if (out.length > before) return null;
  const v = p.value;
  if (v.kind === 'num') return v.value;
  if (v.kind === 'neg' && v.arg.kind === 'num') return -v.arg.value;
  out.push(diag('E023', v.span, p.name, 'a whole number such as 16, not an expression'));
  return null;
}

interface NameRule {
  allowed: readonly string[];
  why: string;
}

/** Checks an integer expression: numbers, allowed names, + - * / %, min/max, unary minus. */
function checkIntExpr(e: Expr, rule: NameRule, out: Diagnostic[]): void {
  switch (e.kind) {
    case 'num':
      checkNumber(e, out);
      return;
    case 'name':
      if (rule.allowed.includes(e.name)) return;
      if (e.name in EXPR_NAMES) out.push(diag('E043', e.span, e.name, rule.why));
      else out.push(diag('E042', e.span, e.name, suggest(e.name, [...Object.keys(EXPR_NAMES), ...rule.allowed])));
      return;
    case 'neg':
      checkIntExpr(e.arg, rule, out);
      return;
    case 'bin':
      if (e.op === '|' || e.op === '&') {
        out.push(diag('E023', e.span, 'this value', `a number, not a pattern (${e.op} combines patterns)`));
        return;
      }
      checkIntExpr(e.left, rule, out);
      checkIntExpr(e.right, rule, out);
      return;
    case 'call':
      if (!(FUNCTIONS as readonly string[]).includes(e.callee)) {
        out.push(diag('E042', e.calleeSpan, e.callee, ` (functions here: ${FUNCTIONS.join(', ')})`));
        return;
      }
      if (e.args.length < 2) out.push(diag('E041', e.span, e.callee, 'at least 2 arguments', e.args.length));
      for (const a of e.args) checkIntExpr(a, rule, out);
      return;
    case 'list':
      out.push(diag('E023', e.span, 'this value', 'a number, not a list'));
      return;
    case 'decimal':
      out.push(diag('E002', e.span, `'${e.text}'`));
      return;
    case 'named':
      out.push(diag('E057', e.nameSpan, e.name));
      return;
  }
}

function checkPartition(v: Expr, heads: number | null, out: Diagnostic[]): PartitionDecl | null {
  if (v.kind === 'name') {
    if (v.name === 'equal_width' || v.name === 'equal_pairs') return { kind: v.name, span: v.span };
    if (v.name === 'tuned') return { kind: 'tuned', ...TUNED_DEFAULTS, span: v.span };
    if (v.name === 'explicit') {
      out.push(diag('E041', v.span, 'explicit', 'the band boundaries, such as explicit(0, 512, N)', 0));
      return null;
    }
    out.push(diag('E050', v.span, v.name, PARTITIONS.join(', ')));
    return null;
  }
  if (v.kind === 'call' && v.callee === 'explicit') {
    const before = out.length;
    const args = v.args.length === 1 && v.args[0]!.kind === 'list' ? v.args[0]!.items : v.args;
    for (const a of args) checkIntExpr(a, { allowed: ['N', 'H'], why: 'band boundaries may use only N and H' }, out);
    if (heads !== null && args.length !== heads + 1) out.push(diag('E051', v.span, heads, heads + 1, args.length));
    // Boundaries that are constant are checked by lowering, the rest when N is known.
    return out.length > before ? null : { kind: 'explicit', bounds: args, span: v.span };
  }
  if (v.kind === 'call' && v.callee === 'tuned') return checkTuned(v, out);
  if (v.kind === 'call') out.push(diag('E050', v.calleeSpan, v.callee, PARTITIONS.join(', ')));
  else out.push(diag('E023', v.span, 'partition', `one of ${PARTITIONS.join(', ')}`));
  return null;
}

const TUNED_PARAMS = Object.keys(TUNED_DEFAULTS) as (keyof typeof TUNED_DEFAULTS)[];

/** `tuned(base = equal_pairs, tol = 0.1)`: named parameters, each at most once, any left out at its default. */
function checkTuned(v: Expr & { kind: 'call' }, out: Diagnostic[]): PartitionDecl | null {
  const before = out.length;
  const got = { ...TUNED_DEFAULTS };
  const seen = new Set<string>();
  for (const a of v.args) {
    if (a.kind !== 'named') {
      out.push(diag('E055', a.span, 'this argument has no name (write base = ... or tol = ...)'));
      continue;
    }
    if (!(TUNED_PARAMS as string[]).includes(a.name)) {
      out.push(diag('E055', a.nameSpan, `'${a.name}' is not one of its parameters (${TUNED_PARAMS.join(', ')})${suggest(a.name, TUNED_PARAMS)}`));
      continue;
    }
    if (seen.has(a.name)) {
      out.push(diag('E058', a.nameSpan, a.name));
      continue;
    }
    seen.add(a.name);
    const x = a.value;
    if (a.name === 'base') {
      if (x.kind === 'name' && (BASE_PARTITIONS as readonly string[]).includes(x.name)) got.base = x.name as typeof got.base;
      else out.push(diag('E056', x.span, 'base', `one of ${BASE_PARTITIONS.join(', ')}`, shown(x)));
    } else {
      const value = x.kind === 'num' || x.kind === 'decimal' ? x.value : null;
      if (value !== null && value >= 0 && value <= 1) got.tol = value;
      else out.push(diag('E056', x.span, 'tol', "a number from 0 to 1 (a relative tolerance on each head's pair share, such as 0.1)", shown(x)));
    }
  }
  return out.length > before ? null : { kind: 'tuned', base: got.base, tol: got.tol, span: v.span };
}

/** A short rendering of a value for a message. */
function shown(e: Expr): string {
  if (e.kind === 'num' || e.kind === 'decimal') return e.text;
  if (e.kind === 'name') return `'${e.name}'`;
  if (e.kind === 'neg' && (e.arg.kind === 'num' || e.arg.kind === 'decimal')) return `-${e.arg.text}`;
  return 'an expression';
}

interface Scope {
  hasPartition: boolean;
}

function checkPattern(e: Expr, scope: Scope, out: Diagnostic[]): Pattern | null {
  if (e.kind === 'bin' && (e.op === '|' || e.op === '&')) {
    const left = checkPattern(e.left, scope, out);
    const right = checkPattern(e.right, scope, out);
    return left && right ? { kind: e.op === '|' ? 'union' : 'inter', left, right, span: e.span } : null;
  }
  if (e.kind === 'name' || e.kind === 'call') {
    const name = e.kind === 'name' ? e.name : e.callee;
    const nameSpan = e.kind === 'name' ? e.span : e.calleeSpan;
    const args = e.kind === 'name' ? [] : e.args;
    if (!(name in PRIMITIVES)) {
      const hint = name === 'causal' ? " (write 'dense' for every causal key)" : suggest(name, Object.keys(PRIMITIVES));
      out.push(diag('E040', nameSpan, name, hint));
      return null;
    }
    const prim = PRIMITIVES[name as PrimName];
    if (args.length !== prim.params.length) {
      const want = prim.params.length === 0 ? 'no arguments' : `${prim.params.length} argument${prim.params.length > 1 ? 's' : ''} (${prim.params.join(', ')})`;
      out.push(diag('E041', e.span, name, want, args.length));
      return null;
    }
    if (name === 'band' && !scope.hasPartition) {
      out.push(diag('E044', nameSpan, name));
      return null;
    }
    const before = out.length;
    const allowed = scope.hasPartition ? ['N', 'H', 'h', 'S', 'W'] : ['N', 'H', 'h'];
    for (const a of args) {
      const rule = { allowed, why: 'S and W need a band partition: add `partition equal_width` or another' };
      const bandName = findName(a, ['S', 'W']);
      if (bandName && !scope.hasPartition) out.push(diag('E044', bandName.span, bandName.name));
      else checkIntExpr(a, rule, out);
    }
    if (out.length > before) return null;
    // Constant arguments (an empty dist(8, 4), stride(0)) are checked by lowering, with the IR's arithmetic.
    return { kind: 'prim', name: name as PrimName, args, span: e.span };
  }
  out.push(diag('E023', e.span, 'pattern', 'a pattern such as band, window(64) or band | sinks(4)'));
  return null;
}

function findName(e: Expr, names: readonly string[]): (Expr & { kind: 'name' }) | null {
  switch (e.kind) {
    case 'name':
      return names.includes(e.name) ? e : null;
    case 'neg':
      return findName(e.arg, names);
    case 'bin':
      return findName(e.left, names) ?? findName(e.right, names);
    case 'call':
    case 'list': {
      for (const a of e.kind === 'call' ? e.args : e.items) {
        const f = findName(a, names);
        if (f) return f;
      }
      return null;
    }
    default:
      return null;
  }
}
