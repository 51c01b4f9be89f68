// Rendering diagnostics for people: `file:line:col error[CODE]: message`, the source line,
// and a caret under the offending text.
import { diag, SpecError, type Code, type Diagnostic, type MessageArgs } from '../../dsl/index.js';
import type { TargetCode } from '../../codegen/messages.js';
import { TargetError } from '../../codegen/target.js';
import { EvalError, type EvalCode, type EvalErrorArgs } from '../ir/index.js';

/** Every code spc reports: the front end's and driver's (dsl/messages.ts) and the targets' (codegen/messages.ts). */
export type SpcCode = Code | TargetCode;
export type SpcDiagnostic = Diagnostic<SpcCode>;

// The IR raises evaluation errors with codes of the front end's table, which it may not import:
// this fails to compile if an EvalError's arguments stop matching that code's message.
type Holds<T extends true> = T;
export type EvalArgsMatchMessages = Holds<{ [C in EvalCode]: EvalErrorArgs[C] extends MessageArgs<C> ? true : false }[EvalCode]>;

export function renderDiagnostic(d: SpcDiagnostic, file: string, source?: string): string {
  if (!d.span || source === undefined) return `${file}: error[${d.code}]: ${d.message}`;
  const { line, col, length } = d.span;
  const text = source.split(/\r?\n/)[line - 1] ?? '';
  const width = Math.max(1, Math.min(length, text.length - col + 1));
  const gutter = String(line).length;
  return [
    `${file}:${line}:${col} error[${d.code}]: ${d.message}`,
    `${' '.repeat(gutter)} |`,
    `${line} | ${text.replace(/\t/g, ' ')}`,
    `${' '.repeat(gutter)} | ${' '.repeat(col - 1)}${'^'.repeat(width)}`,
  ].join('\n');
}

/** Any error from the front end, lowering, evaluation or a target, as diagnostics; null for an internal error. */
export function toDiagnostics(e: unknown): SpcDiagnostic[] | null {
  if (e instanceof SpecError) return e.diagnostics;
  if (e instanceof EvalError) return [diag(e.code as 'E070', e.loc, ...(e.args as MessageArgs<'E070'>))]; // sound by EvalArgsMatchMessages
  if (e instanceof TargetError) return [{ code: e.code, message: e.message, ...(e.loc ? { span: e.loc } : {}) }];
  return null;
}

export function diagnosticJson(d: SpcDiagnostic, file: string) {
  return { file, code: d.code, message: d.message, ...(d.span ? { line: d.span.line, col: d.span.col, length: d.span.length } : {}) };
}
