import type { CstNode, IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { CstParser, EOF } from './chevrotain.js';
import * as T from './tokens.js';

const RULE_WANTS: Record<string, string> = {
  file: "'layout'",
  layout: "a property such as 'heads 8', a 'head' override or '}'",
  item: "a property such as 'heads 8' or a 'head' override",
  override: 'a head number',
  expr: 'a value',
  union: 'a value',
  inter: 'a value',
  additive: 'a value',
  multiplicative: 'a value',
  unary: 'a value',
  primary: 'a value (a number, a name, a call such as window(64), or a parenthesised value)',
};

function describe(tok: IToken): string {
  return tok.tokenType === EOF ? 'the end of the file' : `'${tok.image}'`;
}

function label(t: TokenType): string {
  return t === EOF ? 'the end of the file' : (t.LABEL ?? t.name);
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `${label(expected)}\u0000${describe(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => describe(firstRedundant),
  buildNoViableAltMessage: ({ actual, ruleName }) => `${RULE_WANTS[ruleName] ?? 'a value'}\u0000${describe(actual[0]!)}`,
  buildEarlyExitMessage: ({ actual, ruleName }) => `${RULE_WANTS[ruleName] ?? 'a value'}\u0000${describe(actual[0]!)}`,
};

/**
 * The grammar. A property is a name followed by one value; values share one expression
 * grammar (| lowest, then &, + -, * / %, unary -), so the semantic checks, not the parser,
 * decide what each property accepts and can say so precisely.
 *
 *   file     := layout*
 *   layout   := 'layout' Identifier '{' item* '}'
 *   item     := 'head' Int ('..' Int)? ':' expr  |  Identifier expr
 *   expr     := inter ('|' inter)*
 *   inter    := additive ('&' additive)*
 *   additive := multiplicative (('+'|'-') multiplicative)*
 *   multiplicative := unary (('*'|'/'|'%') unary)*
 *   unary    := '-' unary | primary
 *   primary  := Int | Decimal | Identifier ('(' argList? ')')? | '(' expr ')' | '[' argList? ']'
 *   argList  := arg (',' arg)*
 *   arg      := (Identifier '=')? expr      (a named argument: only `partition tuned(...)` takes them)
 */
export class SpcParser extends CstParser {
  constructor() {
    super(T.allTokens, { errorMessageProvider: messages, recoveryEnabled: false, maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => this.SUBRULE(this.layout));
  });

  layout = this.RULE('layout', () => {
    this.CONSUME(T.Layout);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.item));
    this.CONSUME(T.RCurly);
  });

  item = this.RULE('item', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.override) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'prop' });
          this.SUBRULE(this.expr, { LABEL: 'value' });
        },
      },
    ]);
  });

  override = this.RULE('override', () => {
    this.CONSUME(T.Head);
    this.CONSUME(T.Int, { LABEL: 'lo' });
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.CONSUME2(T.Int, { LABEL: 'hi' });
    });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  expr = this.RULE('expr', () => {
    this.SUBRULE(this.inter, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.Pipe, { LABEL: 'ops' });
      this.SUBRULE2(this.inter, { LABEL: 'operands' });
    });
  });

  inter = this.RULE('inter', () => {
    this.SUBRULE(this.additive, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.Amp, { LABEL: 'ops' });
      this.SUBRULE2(this.additive, { LABEL: 'operands' });
    });
  });

  additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus, { LABEL: 'ops' }) }, { ALT: () => this.CONSUME(T.Minus, { LABEL: 'ops' }) }]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'ops' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'ops' }) },
        { ALT: () => this.CONSUME(T.Percent, { LABEL: 'ops' }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Int) },
      { ALT: () => this.CONSUME(T.Decimal) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => {
            this.CONSUME(T.LParen);
            this.OPTION2(() => this.SUBRULE(this.argList));
            this.CONSUME(T.RParen);
          });
        },
      },
      {
        ALT: () => {
          this.CONSUME2(T.LParen, { LABEL: 'groupOpen' });
          this.SUBRULE(this.expr);
          this.CONSUME2(T.RParen, { LABEL: 'groupClose' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          this.OPTION3(() => this.SUBRULE2(this.argList));
          this.CONSUME(T.RBracket);
        },
      },
    ]);
  });

  argList = this.RULE('argList', () => {
    this.SUBRULE(this.arg, { LABEL: 'args' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.arg, { LABEL: 'args' });
    });
  });

  arg = this.RULE('arg', () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: 'argName' });
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });
}

/** One parser instance, reused: chevrotain parsers are reset by assigning `input`. */
export const parser = new SpcParser();
export type { CstNode };
