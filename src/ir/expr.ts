import { EvalError, type IExpr, type VarName } from './types.js';

export type Env = Partial<Record<VarName, number>>;

export const floorDiv = (a: number, b: number): number => Math.floor(a / b);
export const floorMod = (a: number, b: number): number => a - b * Math.floor(a / b);

/** Thrown by the Number path when a value may not be exact; evalExpr then redoes the expression in BigInt. */
const INEXACT = Symbol('inexact');
const LIMIT = 2 ** 52;
const safe = (r: number): number => {
  if (!Number.isSafeInteger(r)) throw INEXACT;
  return r;
};

/** Exact floor division of integers below 2^52 in magnitude (Math.floor(a / b) can round across an integer for large a). */
function exactFloorDiv(a: number, b: number): number {
  if (Math.abs(a) >= LIMIT || Math.abs(b) >= LIMIT) throw INEXACT;
  let q = Math.floor(a / b);
  let r = a - q * b; // |q * b| <= |a| + |b| < 2^53: exact
  if (b > 0) {
    while (r < 0) (q--, (r += b));
    while (r >= b) (q++, (r -= b));
  } else {
    while (r > 0) (q--, (r += b));
    while (r <= b) (q++, (r -= b));
  }
  return q;
}

function evalNum(e: IExpr, env: Env): number {
  switch (e.op) {
    case 'num':
      return safe(e.value);
    case 'var': {
      const v = env[e.name];
      if (v === undefined) throw new Error(`internal: ${e.name} is not bound`);
      return v;
    }
    case 'neg':
      return -evalNum(e.arg, env);
    case 'min':
      return Math.min(...e.args.map((a) => evalNum(a, env)));
    case 'max':
      return Math.max(...e.args.map((a) => evalNum(a, env)));
    default: {
      const a = evalNum(e.left, env);
      const b = evalNum(e.right, env);
      switch (e.op) {
        case '+':
          return safe(a + b);
        case '-':
          return safe(a - b);
        case '*':
          return safe(a * b);
        case '/':
        case '%': {
          if (b === 0) throw new EvalError('E070', [env.N], e.loc);
          const q = exactFloorDiv(a, b);
          return e.op === '/' ? q : safe(a - b * q);
        }
      }
    }
  }
}

const bigFloorDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
};

function evalBig(e: IExpr, env: Env): bigint {
  switch (e.op) {
    case 'num':
      return BigInt(e.value);
    case 'var': {
      const v = env[e.name];
      if (v === undefined) throw new Error(`internal: ${e.name} is not bound`);
      return BigInt(v);
    }
    case 'neg':
      return -evalBig(e.arg, env);
    case 'min':
    case 'max': {
      const xs = e.args.map((a) => evalBig(a, env));
      return xs.reduce((p, x) => ((e.op === 'min' ? x < p : x > p) ? x : p));
    }
    default: {
      const a = evalBig(e.left, env);
      const b = evalBig(e.right, env);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
        case '%': {
          if (b === 0n) throw new EvalError('E070', [env.N], e.loc);
          const q = bigFloorDiv(a, b);
          return e.op === '/' ? q : a - b * q;
        }
      }
    }
  }
}

/**
 * The exact integer value of e (as Python computes it), as a Number. Evaluates in Number while
 * every intermediate is a safe integer, else in BigInt; a result beyond 2^53 comes back rounded
 * (callers clamp it into the grid, where it is exact).
 */
export function evalExpr(e: IExpr, env: Env): number {
  try {
    return evalNum(e, env);
  } catch (err) {
    if (err !== INEXACT) throw err;
    return Number(evalBig(e, env));
  }
}

export const num = (value: number): IExpr => ({ op: 'num', value });
export const v = (name: VarName): IExpr => ({ op: 'var', name });

/** max/min that fold when both sides are numbers and drop duplicates, so intersected terms stay readable. */
export function emax(a: IExpr, b: IExpr): IExpr {
  if (a.op === 'num' && b.op === 'num') return num(Math.max(a.value, b.value));
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  return { op: 'max', args: [...(a.op === 'max' ? a.args : [a]), ...(b.op === 'max' ? b.args : [b])] };
}
export function emin(a: IExpr, b: IExpr): IExpr {
  if (a.op === 'num' && b.op === 'num') return num(Math.min(a.value, b.value));
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  return { op: 'min', args: [...(a.op === 'min' ? a.args : [a]), ...(b.op === 'min' ? b.args : [b])] };
}

/** Which names an expression uses. */
export function varsOf(e: IExpr, into = new Set<VarName>()): Set<VarName> {
  switch (e.op) {
    case 'num':
      break;
    case 'var':
      into.add(e.name);
      break;
    case 'neg':
      varsOf(e.arg, into);
      break;
    case 'min':
    case 'max':
      e.args.forEach((a) => varsOf(a, into));
      break;
    default:
      varsOf(e.left, into);
      varsOf(e.right, into);
  }
  return into;
}
