import type { IExpr } from '../src/ir/index.js';

/** How a language spells integer arithmetic with floor semantics. */
export interface ExprSyntax {
  floorDiv(a: string, b: string): string;
  floorMod(a: string, b: string): string;
  min(args: string[]): string;
  max(args: string[]): string;
  /** Spelling of a variable: N, H, h, S, W. */
  variable(name: string): string;
}

/** Renders an IR expression with full parentheses, so precedence never differs between languages. */
export function renderExpr(e: IExpr, s: ExprSyntax): string {
  switch (e.op) {
    case 'num':
      return e.value < 0 ? `(${e.value})` : String(e.value);
    case 'var':
      return s.variable(e.name);
    case 'neg':
      return `(-${renderExpr(e.arg, s)})`;
    case 'min':
      return s.min(e.args.map((a) => renderExpr(a, s)));
    case 'max':
      return s.max(e.args.map((a) => renderExpr(a, s)));
    case '/':
      return s.floorDiv(renderExpr(e.left, s), renderExpr(e.right, s));
    case '%':
      return s.floorMod(renderExpr(e.left, s), renderExpr(e.right, s));
    default:
      return `(${renderExpr(e.left, s)} ${e.op} ${renderExpr(e.right, s)})`;
  }
}
