import type { TokenType } from 'chevrotain';
import { createToken, Lexer } from './chevrotain.js';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /(?:#|\/\/)[^\n\r]*/, group: Lexer.SKIPPED });
// A decimal number such as 0.1: only the value of a named argument (`tol = 0.1`) may be one; the
// parser refuses it anywhere else with E002, as it always did (src/parse.ts). The lookahead keeps
// `1.5e3` and `1.5x` one bad number.
export const Decimal = createToken({ name: 'Decimal', pattern: /\d+\.\d+(?![.\w])/, label: 'a decimal number' });
// A number glued to letters or a decimal point is one bad token, reported as such (E002).
export const BadNumber = createToken({ name: 'BadNumber', pattern: /\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+|[A-Za-z_][A-Za-z0-9_]*)/, label: 'a number' });
export const Int = createToken({ name: 'Int', pattern: /\d+/, label: 'a number' });
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'a name' });
export const Layout = createToken({ name: 'Layout', pattern: /layout/, longer_alt: Identifier, label: "'layout'" });
export const Head = createToken({ name: 'Head', pattern: /head/, longer_alt: Identifier, label: "'head'" });
export const LCurly = createToken({ name: 'LCurly', pattern: /\{/, label: "'{'" });
export const RCurly = createToken({ name: 'RCurly', pattern: /\}/, label: "'}'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./, label: "'..'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: "':'" });
export const Pipe = createToken({ name: 'Pipe', pattern: /\|/, label: "'|'" });
export const Amp = createToken({ name: 'Amp', pattern: /&/, label: "'&'" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const Percent = createToken({ name: 'Percent', pattern: /%/, label: "'%'" });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Decimal,
  BadNumber,
  Int,
  Layout,
  Head,
  Identifier,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  DotDot,
  Colon,
  Equals,
  Pipe,
  Amp,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
];

export const SpcLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });
