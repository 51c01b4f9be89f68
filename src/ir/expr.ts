import { EvalError, type IExpr, type VarName } from './types.js';

export type Env = Partial<Record<VarName, number>>;

export const floorDiv = (a: number, b: number): number => Math.floor(a / b);
export const floorMod = (a: number, b: number): number => a - b * Math.floor(a / b);

export function evalExpr(e: IExpr, env: Env): number {
  switch (e.op) {
    case 'num':
      return e.value;
    case 'var': {
      const v = env[e.name];
      if (v === undefined) throw new Error(`internal: ${e.name} is not bound`);
      return v;
    }
    case 'neg':
      return -evalExpr(e.arg, env);
    case 'min':
      return Math.min(...e.args.map((a) => evalExpr(a, env)));
    case 'max':
      return Math.max(...e.args.map((a) => evalExpr(a, env)));
    default: {
      const a = evalExpr(e.left, env);
      const b = evalExpr(e.right, env);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
        case '%':
          if (b === 0) throw new EvalError('E070', [env.N], e.loc);
          return e.op === '/' ? floorDiv(a, b) : floorMod(a, b);
      }
    }
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
