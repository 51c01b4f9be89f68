// Rendering diagnostics for people: `file:line:col error[CODE]: message`, the source line,
// and a caret under the offending text.
import { diag, SpecError, type Diagnostic } from '../../dsl/index.js';
import { TargetError } from '../../codegen/target.js';
import { EvalError } from '../ir/index.js';

export function renderDiagnostic(d: Diagnostic, file: string, source?: string): string {
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

/** Any error from the front end, lowering or evaluation, as diagnostics; null for an internal error. */
export function toDiagnostics(e: unknown): Diagnostic[] | null {
  if (e instanceof SpecError) return e.diagnostics;
  if (e instanceof EvalError) return [diag(e.code, e.loc, ...e.args)];
  if (e instanceof TargetError) return [{ code: e.code, message: e.message }];
  return null;
}

export function diagnosticJson(d: Diagnostic, file: string) {
  return { file, code: d.code, message: d.message, ...(d.span ? { line: d.span.line, col: d.span.col, length: d.span.length } : {}) };
}
