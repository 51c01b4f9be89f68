import { type Code, formatMessage, type MessageArgs } from './messages.js';

/** A place in a source file: 1-based line and column, 0-based offset, length in characters. */
export interface Span {
  line: number;
  col: number;
  offset: number;
  length: number;
}

/**
 * One problem. The front end's diagnostics carry its own codes (dsl/messages.ts); the driver's
 * `SpcDiagnostic` (src/driver/diagnostics.ts) widens C to the union with the targets' codes
 * (codegen/messages.ts), which the front end may not import.
 */
export interface Diagnostic<C extends string = Code> {
  code: C;
  message: string;
  span?: Span;
}

/** A diagnostic; the arguments are typed by the code's message (dsl/messages.ts). */
export function diag<C extends Code>(code: C, span: Span | undefined, ...args: MessageArgs<C>): Diagnostic {
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
