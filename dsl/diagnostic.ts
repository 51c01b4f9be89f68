import { type Code, formatMessage } from './messages.js';

/** A place in a source file: 1-based line and column, 0-based offset, length in characters. */
export interface Span {
  line: number;
  col: number;
  offset: number;
  length: number;
}

export interface Diagnostic {
  /** A front-end code (dsl/messages.ts) or a target's (codegen/messages.ts, E100-E119). */
  code: Code | `E1${number}`;
  message: string;
  span?: Span;
}

export function diag(code: Code, span: Span | undefined, ...args: (string | number)[]): Diagnostic {
  return { code, message: formatMessage(code, args), span };
}

/** Thrown by the front end and lowering; carries every diagnostic found. */
export class SpecError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
    this.name = 'SpecError';
  }
}

/** Smallest span covering a and b. */
export function joinSpans(a: Span, b: Span): Span {
  const [first, last] = a.offset <= b.offset ? [a, b] : [b, a];
  return { line: first.line, col: first.col, offset: first.offset, length: last.offset + last.length - first.offset };
}
