import type { IRecognitionException } from 'chevrotain';
import { EOF as EOF_TOKEN } from './chevrotain.js';
import type { SpecFile } from './ast.js';
import { diag, SpecError, type Diagnostic } from './diagnostic.js';
import { parser } from './parser.js';
import {
  Amp,
  BadNumber,
  Comma,
  Decimal,
  Equals,
  Head,
  Identifier,
  Int,
  LBracket,
  LCurly,
  LParen,
  Minus,
  Percent,
  Pipe,
  Plus,
  RBracket,
  RCurly,
  RParen,
  Slash,
  SpcLexer,
  Star,
} from './tokens.js';

/** Deeper nesting than this is refused before parsing (the parser is recursive). */
export const MAX_NESTING = 64;
/**
 * One value (a property's or a head override's expression or pattern) may hold at most this
 * many operators and argument commas: long flat chains (`a | b | ...`) would otherwise exhaust
 * the stack of the recursive stages after the parser.
 */
export const MAX_OPERATORS = 1000;
const OPERATORS = new Set<unknown>([Pipe, Amp, Plus, Minus, Star, Slash, Percent, Comma]);
const OPERAND_ENDS = new Set<unknown>([Int, Decimal, Identifier, RParen, RBracket]);
import { astBuilder, tokenSpan } from './visitor.js';

/** Source text to AST. Throws SpecError with located diagnostics; never anything else for bad text. */
export function parseSpec(text: string): SpecFile {
  const lexed = SpcLexer.tokenize(text);
  const diagnostics: Diagnostic[] = [];
  for (const e of lexed.errors) {
    const ch = text.slice(e.offset, e.offset + Math.max(1, e.length));
    const shown = /^[\x20-\x7e]$/.test(ch[0] ?? '') ? `'${ch[0]}'` : `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    diagnostics.push(diag('E001', { line: e.line ?? 1, col: e.column ?? 1, offset: e.offset, length: 1 }, shown));
  }
  // A decimal number is a bad number except as the value of a named argument (`tol = 0.1`).
  const toks = lexed.tokens;
  const named = (k: number) => toks[k - 1]?.tokenType === Equals || (toks[k - 1]?.tokenType === Minus && toks[k - 2]?.tokenType === Equals);
  toks.forEach((t, k) => {
    if (t.tokenType === BadNumber || (t.tokenType === Decimal && !named(k))) diagnostics.push(diag('E002', tokenSpan(t), `'${t.image}'`));
  });
  if (diagnostics.length) throw new SpecError(diagnostics);
  let depth = 0;
  let minuses = 0;
  for (const t of lexed.tokens) {
    if (t.tokenType === LParen || t.tokenType === LBracket) depth++;
    else if (t.tokenType === RParen || t.tokenType === RBracket) depth--;
    minuses = t.tokenType === Minus ? minuses + 1 : 0;
    if (depth > MAX_NESTING || minuses > MAX_NESTING) throw new SpecError([diag('E012', tokenSpan(t), MAX_NESTING)]);
  }
  // A value ends where the next item starts: 'head', a brace, or (outside brackets) a name
  // right after an operand, as in `heads 8 pattern band` (two operands are never adjacent in one value).
  let ops = 0;
  depth = 0;
  let prev: unknown = undefined;
  for (const t of lexed.tokens) {
    const k = t.tokenType;
    if (k === LParen || k === LBracket) depth++;
    else if (k === RParen || k === RBracket) depth--;
    if (k === Head || k === LCurly || k === RCurly || (k === Identifier && depth === 0 && (OPERAND_ENDS.has(prev) || prev === LCurly))) ops = 0;
    else if (OPERATORS.has(k) && ++ops > MAX_OPERATORS) throw new SpecError([diag('E013', tokenSpan(t), MAX_OPERATORS)]);
    prev = k;
  }

  parser.input = lexed.tokens;
  const cst = parser.file();
  if (parser.errors.length) {
    // The first syntax error is the one worth reading; later ones are usually its echoes.
    throw new SpecError([syntaxDiagnostic(parser.errors[0]!, text)]);
  }
  return astBuilder.visit(cst) as SpecFile;
}

function syntaxDiagnostic(e: IRecognitionException, text: string): Diagnostic {
  const tok = e.token;
  const atEnd = tok.tokenType === EOF_TOKEN || Number.isNaN(tok.startOffset);
  const span = atEnd ? endSpan(text) : tokenSpan(tok);
  if (e.name === 'NotAllInputParsedException') return diag('E011', span, e.message);
  const [want, found] = e.message.split('\u0000');
  return diag('E010', span, want ?? 'something else', found ?? 'something else');
}

function endSpan(text: string): { line: number; col: number; offset: number; length: number } {
  const trimmed = text.replace(/\s+$/, '');
  const lines = trimmed.split('\n');
  const last = lines[lines.length - 1] ?? '';
  return { line: lines.length, col: last.length + 1, offset: trimmed.length, length: 1 };
}
