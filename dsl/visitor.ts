import type { CstNode, IToken } from 'chevrotain';
import type { Expr, HeadOverride, LayoutDecl, Property, SpecFile } from './ast.js';
import { joinSpans, type Span } from './diagnostic.js';
import { parser } from './parser.js';

export function tokenSpan(t: IToken): Span {
  return { line: t.startLine ?? 1, col: t.startColumn ?? 1, offset: t.startOffset, length: t.image.length };
}

type Children = Record<string, (CstNode | IToken)[] | undefined>;

const BaseVisitor = parser.getBaseCstVisitorConstructor();

/** Turns the concrete syntax tree into the AST; spans come from the tokens. */
class AstBuilder extends BaseVisitor {
  constructor() {
    super();
    this.validateVisitor();
  }

  file(c: Children): SpecFile {
    return { layouts: ((c.layout ?? []) as CstNode[]).map((n) => this.visit(n) as LayoutDecl) };
  }

  layout(c: Children): LayoutDecl {
    const kw = (c.Layout as IToken[])[0]!;
    const name = (c.name as IToken[])[0]!;
    const close = (c.RCurly as IToken[])[0]!;
    const properties: Property[] = [];
    const overrides: HeadOverride[] = [];
    for (const n of (c.item ?? []) as CstNode[]) {
      const it = this.visit(n) as Property | HeadOverride;
      if ('nameSpan' in it) properties.push(it);
      else overrides.push(it);
    }
    return { name: name.image, nameSpan: tokenSpan(name), span: joinSpans(tokenSpan(kw), tokenSpan(close)), properties, overrides };
  }

  item(c: Children): Property | HeadOverride {
    if (c.override) return this.visit(c.override[0] as CstNode) as HeadOverride;
    const prop = (c.prop as IToken[])[0]!;
    return { name: prop.image, nameSpan: tokenSpan(prop), value: this.visit(c.value![0] as CstNode) as Expr };
  }

  override(c: Children): HeadOverride {
    const lo = (c.lo as IToken[])[0]!;
    const hi = (c.hi as IToken[] | undefined)?.[0] ?? lo;
    return {
      lo: Number(lo.image),
      hi: Number(hi.image),
      span: joinSpans(tokenSpan((c.Head as IToken[])[0]!), tokenSpan(hi)),
      value: this.visit(c.value![0] as CstNode) as Expr,
    };
  }

  private chain(c: Children): Expr {
    const operands = (c.operands as CstNode[]).map((n) => this.visit(n) as Expr);
    const ops = ((c.ops ?? []) as IToken[]).slice().sort((a, b) => a.startOffset - b.startOffset);
    let acc = operands[0]!;
    ops.forEach((op, k) => {
      const right = operands[k + 1]!;
      acc = { kind: 'bin', op: op.image as '+', left: acc, right, span: joinSpans(acc.span, right.span) };
    });
    return acc;
  }

  expr(c: Children): Expr {
    return this.chain(c);
  }
  inter(c: Children): Expr {
    return this.chain(c);
  }
  additive(c: Children): Expr {
    return this.chain(c);
  }
  multiplicative(c: Children): Expr {
    return this.chain(c);
  }

  unary(c: Children): Expr {
    if (c.primary) return this.visit(c.primary[0] as CstNode) as Expr;
    const arg = this.visit(c.unary![0] as CstNode) as Expr;
    return { kind: 'neg', arg, span: joinSpans(tokenSpan((c.Minus as IToken[])[0]!), arg.span) };
  }

  primary(c: Children): Expr {
    if (c.Int) {
      const t = (c.Int as IToken[])[0]!;
      return { kind: 'num', value: Number(t.image), text: t.image, span: tokenSpan(t) };
    }
    if (c.Decimal) {
      const t = (c.Decimal as IToken[])[0]!;
      return { kind: 'decimal', value: Number(t.image), text: t.image, span: tokenSpan(t) };
    }
    if (c.Identifier) {
      const t = (c.Identifier as IToken[])[0]!;
      if (!c.LParen) return { kind: 'name', name: t.image, span: tokenSpan(t) };
      const args = c.argList ? (this.visit(c.argList[0] as CstNode) as Expr[]) : [];
      return { kind: 'call', callee: t.image, calleeSpan: tokenSpan(t), args, span: joinSpans(tokenSpan(t), tokenSpan((c.RParen as IToken[])[0]!)) };
    }
    if (c.LBracket) {
      const items = c.argList ? (this.visit(c.argList[0] as CstNode) as Expr[]) : [];
      return { kind: 'list', items, span: joinSpans(tokenSpan((c.LBracket as IToken[])[0]!), tokenSpan((c.RBracket as IToken[])[0]!)) };
    }
    const inner = this.visit(c.expr![0] as CstNode) as Expr;
    // Keep the parentheses in the span so carets cover what the user wrote.
    return { ...inner, span: joinSpans(tokenSpan((c.groupOpen as IToken[])[0]!), tokenSpan((c.groupClose as IToken[])[0]!)) };
  }

  argList(c: Children): Expr[] {
    return (c.args as CstNode[]).map((n) => this.visit(n) as Expr);
  }

  arg(c: Children): Expr {
    const value = this.visit(c.value![0] as CstNode) as Expr;
    if (!c.argName) return value;
    const name = (c.argName as IToken[])[0]!;
    return { kind: 'named', name: name.image, nameSpan: tokenSpan(name), value, span: joinSpans(tokenSpan(name), value.span) };
  }
}

export const astBuilder = new AstBuilder();
