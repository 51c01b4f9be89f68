import { describe, expect, it } from 'vitest';
import { renderDiagnostic, toDiagnostics } from '../src/driver/diagnostics.js';
import { compileSource, instanceFor } from '../src/driver/pipeline.js';

/** Every diagnostic of a spec text, rendered as the CLI prints it. */
function errors(text: string, seq?: number): string {
  try {
    const layouts = compileSource(text);
    if (seq !== undefined) for (const l of layouts) instanceFor(l, seq);
  } catch (e) {
    const ds = toDiagnostics(e);
    if (!ds) throw e;
    return ds.map((d) => renderDiagnostic(d, 'x.spc', text)).join('\n');
  }
  throw new Error('expected a diagnostic');
}

const base = (body: string) => `layout a {\n  heads 4\n  head_dim 64\n${body}\n}\n`;

describe('diagnostics: file:line:col error[CODE], the line, a caret', () => {
  it('unexpected character', () => {
    expect(errors(base('  pattern band $ dense'))).toMatchInlineSnapshot(`
      "x.spc:4:16 error[E001]: unexpected character '$'
        |
      4 |   pattern band $ dense
        |                ^"
    `);
  });
  it('bad numbers', () => {
    expect(errors(base('  seq 1.5'))).toMatchInlineSnapshot(`
      "x.spc:4:7 error[E002]: bad number '1.5': numbers are whole decimal numbers such as 4096
        |
      4 |   seq 1.5
        |       ^^^"
    `);
    expect(errors(base('  pattern window(99999999999999999999)'))).toMatchInlineSnapshot(`
      "x.spc:4:18 error[E003]: number 99999999999999999999 is too large (the limit is 2^40 = 1099511627776)
        |
      4 |   pattern window(99999999999999999999)
        |                  ^^^^^^^^^^^^^^^^^^^^"
    `);
    expect(errors(base('  seq 12abc'))).toMatchInlineSnapshot(`
      "x.spc:4:7 error[E002]: bad number '12abc': numbers are whole decimal numbers such as 4096
        |
      4 |   seq 12abc
        |       ^^^^^"
    `);
    expect(errors(base('  seq 99999999999999999999'))).toMatchInlineSnapshot(`
      "x.spc:4:7 error[E074]: sequence length 99999999999999999999 is out of range: spc compiles lengths 1..1073741824
        |
      4 |   seq 99999999999999999999
        |       ^^^^^^^^^^^^^^^^^^^^
      x.spc:1:8 error[E022]: layout 'a' is missing the required property 'pattern'
        |
      1 | layout a {
        |        ^"
    `);
  });
  it('syntax errors', () => {
    expect(errors('layout a {\n  heads 4\n  pattern band |\n}\n')).toMatchInlineSnapshot(`
      "x.spc:4:1 error[E010]: expected a value but found '}'
        |
      4 | }
        | ^"
    `);
    expect(errors('layout {\n}\n')).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E010]: expected a name but found '{'
        |
      1 | layout {
        |        ^"
    `);
    expect(errors('layout a {\n  heads 4\n')).toMatchInlineSnapshot(`
      "x.spc:2:10 error[E010]: expected '}' but found the end of the file
        |
      2 |   heads 4
        |          ^"
    `);
    expect(errors('layout a { heads 4 head_dim 8 pattern dense } }')).toMatchInlineSnapshot(`
      "x.spc:1:47 error[E011]: unexpected '}' after the end of the spec
        |
      1 | layout a { heads 4 head_dim 8 pattern dense } }
        |                                               ^"
    `);
  });
  it('unknown keywords', () => {
    expect(errors(base('  haeds 4'))).toMatchInlineSnapshot(`
      "x.spc:4:3 error[E020]: unknown property 'haeds' (did you mean 'heads'?)
        |
      4 |   haeds 4
        |   ^^^^^
      x.spc:1:8 error[E022]: layout 'a' is missing the required property 'pattern'
        |
      1 | layout a {
        |        ^"
    `);
    expect(errors(base('  pattern windw(4)'))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E040]: unknown pattern 'windw' (did you mean 'window'?)
        |
      4 |   pattern windw(4)
        |           ^^^^^"
    `);
    expect(errors(base('  pattern causal'))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E040]: unknown pattern 'causal' (write 'dense' for every causal key)
        |
      4 |   pattern causal
        |           ^^^^^^"
    `);
    expect(errors(base('  partition equal_widht'))).toMatchInlineSnapshot(`
      "x.spc:4:13 error[E050]: unknown partition 'equal_widht' (expected one of equal_width, equal_pairs, explicit, tuned)
        |
      4 |   partition equal_widht
        |             ^^^^^^^^^^^"
    `);
    expect(errors(base('  dtype fp8'))).toMatchInlineSnapshot(`
      "x.spc:4:9 error[E033]: unknown dtype 'fp8' (expected one of bf16, fp16, fp32)
        |
      4 |   dtype fp8
        |         ^^^
      x.spc:1:8 error[E022]: layout 'a' is missing the required property 'pattern'
        |
      1 | layout a {
        |        ^"
    `);
    expect(errors(base('  pattern window(M)'))).toMatchInlineSnapshot(`
      "x.spc:4:18 error[E042]: unknown name 'M' in an expression (did you mean 'N'?)
        |
      4 |   pattern window(M)
        |                  ^"
    `);
  });
  it('H = 0, kv_heads, head_dim, seq', () => {
    expect(errors('layout a {\n  heads 0\n  head_dim 64\n  pattern dense\n}')).toMatchInlineSnapshot(`
      "x.spc:2:9 error[E030]: heads must be at least 1, got 0
        |
      2 |   heads 0
        |         ^"
    `);
    expect(errors(base('  kv_heads 3\n  pattern dense'))).toMatchInlineSnapshot(`
      "x.spc:4:12 error[E031]: kv_heads (3) must be at least 1 and divide heads (4)
        |
      4 |   kv_heads 3
        |            ^"
    `);
    expect(errors('layout a {\n  heads 4\n  head_dim 0\n  pattern dense\n}')).toMatchInlineSnapshot(`
      "x.spc:3:12 error[E032]: head_dim must be between 1 and 1024, got 0
        |
      3 |   head_dim 0
        |            ^"
    `);
    expect(errors(base('  seq 0\n  pattern dense'))).toMatchInlineSnapshot(`
      "x.spc:4:7 error[E034]: seq must be a positive length or the name N, got 0
        |
      4 |   seq 0
        |       ^"
    `);
    expect(errors(base('  heads 8\n  pattern dense'))).toMatchInlineSnapshot(`
      "x.spc:4:3 error[E021]: property 'heads' is given twice
        |
      4 |   heads 8
        |   ^^^^^"
    `);
    expect(errors('layout a {\n  head_dim 64\n  pattern dense\n}')).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E022]: layout 'a' is missing the required property 'heads'
        |
      1 | layout a {
        |        ^"
    `);
    expect(errors(base('  heads_dim N'))).toMatchInlineSnapshot(`
      "x.spc:4:3 error[E020]: unknown property 'heads_dim' (did you mean 'head_dim'?)
        |
      4 |   heads_dim N
        |   ^^^^^^^^^
      x.spc:1:8 error[E022]: layout 'a' is missing the required property 'pattern'
        |
      1 | layout a {
        |        ^"
    `);
  });
  it('bands without a partition, wrong arguments', () => {
    expect(errors(base('  pattern band'))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E044]: 'band' needs a band partition: add \`partition equal_width\` (or equal_pairs, explicit(...), tuned)
        |
      4 |   pattern band
        |           ^^^^"
    `);
    expect(errors(base('  pattern window(W)'))).toMatchInlineSnapshot(`
      "x.spc:4:18 error[E044]: 'W' needs a band partition: add \`partition equal_width\` (or equal_pairs, explicit(...), tuned)
        |
      4 |   pattern window(W)
        |                  ^"
    `);
    expect(errors(base('  pattern window(1, 2)'))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E041]: 'window' takes 1 argument (w), got 2
        |
      4 |   pattern window(1, 2)
        |           ^^^^^^^^^^^^"
    `);
    expect(errors(base('  pattern dist(8, 4)'))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E045]: empty interval: 8 is not below 4
        |
      4 |   pattern dist(8, 4)
        |           ^^^^^^^^^^"
    `);
    expect(errors(base('  pattern stride(0)'))).toMatchInlineSnapshot(`
      "x.spc:4:18 error[E072]: stride's s must be at least 1, got 0
        |
      4 |   pattern stride(0)
        |                  ^"
    `);
    expect(errors(base('  pattern window(4) + 1'))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E023]: property 'pattern' expects a pattern such as band, window(64) or band | sinks(4)
        |
      4 |   pattern window(4) + 1
        |           ^^^^^^^^^^^^^"
    `);
  });
  it('overlapping, out-of-range and non-covering bands', () => {
    expect(errors(base('  partition explicit(0, 10, 5, 20, N)'))).toMatchInlineSnapshot(`
      "x.spc:4:29 error[E052]: explicit partition boundaries must not decrease: 5 follows 10, so bands would overlap
        |
      4 |   partition explicit(0, 10, 5, 20, N)
        |                             ^"
    `);
    expect(errors(base('  partition explicit(1, 10, 15, 20, N)'))).toMatchInlineSnapshot(`
      "x.spc:4:22 error[E052]: explicit partition boundaries must start at 0 (the first band begins at distance 0)
        |
      4 |   partition explicit(1, 10, 15, 20, N)
        |                      ^"
    `);
    expect(errors(base('  partition explicit(0, 10, 20, N)'))).toMatchInlineSnapshot(`
      "x.spc:4:13 error[E051]: explicit partition of 4 heads needs 5 boundaries, got 4
        |
      4 |   partition explicit(0, 10, 20, N)
        |             ^^^^^^^^^^^^^^^^^^^^^^"
    `);
    expect(errors(base('  partition explicit(0, 10, 20, 30, 100)'), 64)).toMatchInlineSnapshot(`
      "x.spc:4:37 error[E053]: band boundary 100 is out of range: it must lie in 0..64 (N = 64)
        |
      4 |   partition explicit(0, 10, 20, 30, 100)
        |                                     ^^^"
    `);
    expect(errors(base('  partition explicit(0, 10, 20, 30, 40)'), 64)).toMatchInlineSnapshot(`
      "x.spc:4:37 error[E052]: explicit partition boundaries must end at N: the last boundary is 40 but N = 64, so distances 40..63 belong to no band
        |
      4 |   partition explicit(0, 10, 20, 30, 40)
        |                                     ^^"
    `);
    expect(errors(base('  partition explicit(0, N / 4, 100, N / 2, N)'), 64)).toMatchInlineSnapshot(`
      "x.spc:4:32 error[E053]: band boundary 100 is out of range: it must lie in 0..64 (N = 64)
        |
      4 |   partition explicit(0, N / 4, 100, N / 2, N)
        |                                ^^^"
    `);
    expect(errors(base('  partition equal_pairs\n  pattern stride(N / (W - W))'), 64)).toMatchInlineSnapshot(`
      "x.spc:5:18 error[E070]: division by zero while evaluating this expression at N = 64
        |
      5 |   pattern stride(N / (W - W))
        |                  ^^^^^^^^^^^"
    `);
  });
  it('head overrides', () => {
    expect(errors(base('  pattern dense\n  head 2..7: window(4)'))).toMatchInlineSnapshot(`
      "x.spc:5:3 error[E060]: head 7 is out of range: this layout has heads 0..3
        |
      5 |   head 2..7: window(4)
        |   ^^^^^^^^^"
    `);
    expect(errors(base('  pattern dense\n  head 3..1: window(4)'))).toMatchInlineSnapshot(`
      "x.spc:5:3 error[E062]: head range 3..1 is reversed
        |
      5 |   head 3..1: window(4)
        |   ^^^^^^^^^"
    `);
    expect(errors(base('  pattern dense\n  head 0..2: window(4)\n  head 2: sinks(1)'))).toMatchInlineSnapshot(`
      "x.spc:6:3 error[E061]: head 2 is already given a pattern on line 5
        |
      6 |   head 2: sinks(1)
        |   ^^^^^^"
    `);
    expect(errors(base('  head 0..2: window(4)'))).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E022]: layout 'a' is missing the required property 'pattern'
        |
      1 | layout a {
        |        ^"
    `);
  });
  it('names that could break generated code', () => {
    expect(errors('layout class { heads 1 head_dim 8 pattern dense }')).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E025]: the name 'class' cannot be used: it is a keyword or reserved name in a language spc generates
        |
      1 | layout class { heads 1 head_dim 8 pattern dense }
        |        ^^^^^"
    `);
    expect(errors('layout _x { heads 1 head_dim 8 pattern dense }')).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E025]: the name '_x' cannot be used: names start with a letter
        |
      1 | layout _x { heads 1 head_dim 8 pattern dense }
        |        ^^"
    `);
    expect(errors('layout a__b { heads 1 head_dim 8 pattern dense }')).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E025]: the name 'a__b' cannot be used: a double underscore is reserved in C++
        |
      1 | layout a__b { heads 1 head_dim 8 pattern dense }
        |        ^^^^"
    `);
    expect(errors(`layout ${'x'.repeat(65)} { heads 1 head_dim 8 pattern dense }`)).toMatchInlineSnapshot(`
      "x.spc:1:8 error[E025]: the name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' cannot be used: names are at most 64 characters long
        |
      1 | layout xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx { heads 1 head_dim 8 pattern dense }
        |        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
    `);
    expect(errors('layout a { heads 1 head_dim 8 pattern dense }\nlayout a { heads 1 head_dim 8 pattern dense }')).toMatchInlineSnapshot(`
      "x.spc:2:8 error[E024]: layout 'a' is declared twice
        |
      2 | layout a { heads 1 head_dim 8 pattern dense }
        |        ^"
    `);
  });
  it('limits: nesting, pattern size, period, length', () => {
    expect(errors(base(`  pattern ${'('.repeat(70)}dense${')'.repeat(70)}`))).toMatchInlineSnapshot(`
      "x.spc:4:75 error[E012]: nesting is too deep here (more than 64 levels)
        |
      4 |   pattern ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((dense))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
        |                                                                           ^"
    `);
    expect(errors(base(`  pattern ${'(window(9) | sinks(1)) & '.repeat(7)}dense`))).toMatchInlineSnapshot(`
      "x.spc:4:11 error[E046]: this pattern expands to 128 terms for a head (at most 64): write it with fewer unions inside intersections
        |
      4 |   pattern (window(9) | sinks(1)) & (window(9) | sinks(1)) & (window(9) | sinks(1)) & (window(9) | sinks(1)) & (window(9) | sinks(1)) & (window(9) | sinks(1)) & (window(9) | sinks(1)) & dense
        |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
    `);
    expect(errors(base('  pattern stride(4294967296)'), 64)).toMatchInlineSnapshot(`
      "x.spc:4:18 error[E073]: a stride or period of 4294967296 is too large (at most 2147483647) at N = 64
        |
      4 |   pattern stride(4294967296)
        |                  ^^^^^^^^^^"
    `);
    expect(errors(base('  seq 2000000000\n  pattern dense'))).toMatchInlineSnapshot(`
      "x.spc:4:7 error[E074]: sequence length 2000000000 is out of range: spc compiles lengths 1..1073741824
        |
      4 |   seq 2000000000
        |       ^^^^^^^^^^"
    `);
  });
  it('huge interval ends are clamped, never wrapped', () => {
    const [l] = compileSource(base('  pattern window(8) | dist(3000000000, 4000000000) | keys(N * N, N * N + 5)'));
    const inst = instanceFor(l!, 65536);
    expect(inst.heads[0]!.terms).toEqual([{ dLo: 0, dHi: 8, kLo: 0, kHi: 65536, qLo: 0, qHi: 65536, mods: [] }]);
  });
  it('no layouts', () => {
    expect(errors('# only a comment\n')).toMatchInlineSnapshot(`"x.spc: error[E026]: the file declares no layout (write \`layout NAME { ... }\`)"`);
  });
  it('reports several problems at once', () => {
    expect(errors('layout a {\n  heads 0\n  head_dim 64\n  dtype int8\n  pattern dense\n}')).toMatchInlineSnapshot(`
      "x.spc:2:9 error[E030]: heads must be at least 1, got 0
        |
      2 |   heads 0
        |         ^
      x.spc:4:9 error[E033]: unknown dtype 'int8' (expected one of bf16, fp16, fp32)
        |
      4 |   dtype int8
        |         ^^^^"
    `);
  });
});
