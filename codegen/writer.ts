/** A small code writer: lines, indentation and blocks, so generators never glue strings by hand. */
export class CodeWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  constructor(private readonly indentUnit = '  ') {}

  line(text = ''): this {
    this.lines.push(text ? this.indentUnit.repeat(this.depth) + text : '');
    return this;
  }

  lines_(texts: readonly string[]): this {
    for (const t of texts) this.line(t);
    return this;
  }

  /** `open` line, indented body, `close` line. */
  block(open: string, body: () => void, close = '}'): this {
    this.line(open);
    this.depth++;
    body();
    this.depth--;
    if (close) this.line(close);
    return this;
  }

  indent(body: () => void): this {
    this.depth++;
    body();
    this.depth--;
    return this;
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}
