// fast-check generators of valid spec texts, for property and fuzz tests.
import fc from 'fast-check';

const small = fc.integer({ min: 0, max: 24 });
const expr = fc.oneof(
  small.map(String),
  fc.constantFrom('N', 'W', 'S', 'N / 2', 'W + 1', 'S + W / 2', 'min(N, 7)', 'max(3, W - 2)', 'N / 3 + 1', 'h + 1', '2 * h', 'N - 5', 'H'),
);
// Windows and sink counts: a constant below 1 is refused (E072), a symbolic one may still be empty at some N.
const expr1 = fc.oneof(
  fc.integer({ min: 1, max: 24 }).map(String),
  fc.constantFrom('N', 'W', 'W + 1', 'S + W / 2', 'min(N, 7)', 'max(3, W - 2)', 'N / 3 + 1', 'h + 1', '2 * h', 'N - 5', 'H'),
);
const pos = fc.oneof(fc.integer({ min: 1, max: 9 }).map(String), fc.constantFrom('W + 1', 'h + 1', 'H'));

const prim: fc.Arbitrary<string> = fc.oneof(
  fc.constant('band'),
  fc.constant('dense'),
  fc.constant('none'),
  expr1.map((w) => `window(${w})`),
  fc.tuple(expr, expr).map(([a, b]) => `dist(${a}, ${b} + ${a} + 1)`),
  fc.tuple(fc.integer({ min: -6, max: 6 }), fc.integer({ min: 1, max: 12 })).map(([a, b]) => `dist(${a}, ${a + b})`),
  expr1.map((k) => `sinks(${k})`),
  fc.tuple(small, small).map(([a, b]) => `keys(${a}, ${a + b + 1})`),
  fc.tuple(small, small).map(([a, b]) => `queries(${a}, ${a + b + 1})`),
  pos.map((s) => `stride(${s})`),
  fc.tuple(fc.integer({ min: 1, max: 24 }), pos).map(([w, r]) => `dilated(${w}, ${r})`),
  fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 })).map(([s, c]) => `fixed(${s}, ${Math.min(s, c)})`),
);

export const patternText: fc.Arbitrary<string> = fc.letrec<{ p: string }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    prim,
    fc.tuple(tie('p'), fc.constantFrom('|', '&'), tie('p')).map(([a, op, b]) => `(${a} ${op} ${b})`),
  ),
})).p;

export interface SpecCase {
  text: string;
  heads: number;
  n: number;
}

export const specCase: fc.Arbitrary<SpecCase> = fc
  .record({
    heads: fc.integer({ min: 1, max: 6 }),
    kvDiv: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 48 }),
    partition: fc.constantFrom('equal_width', 'equal_pairs', 'explicit'), // tuned needs a record: test/tuner*.test.ts
    causal: fc.boolean(),
    pattern: patternText,
    override: fc.option(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 2 }), patternText), { nil: undefined }),
  })
  .map(({ heads, kvDiv, n, partition, causal, pattern, override }) => {
    const kv = heads % kvDiv === 0 ? heads / kvDiv : heads;
    // explicit: boundaries k*N/H, monotone and covering 0..N by construction.
    const part =
      partition === 'explicit' ? `explicit(${Array.from({ length: heads + 1 }, (_, k) => (k === heads ? 'N' : `${k} * N / ${heads}`)).join(', ')})` : partition;
    const lines = [`layout t {`, `  heads ${heads}`, `  kv_heads ${kv}`, `  head_dim 8`, `  causal ${causal}`, `  partition ${part}`, `  pattern ${pattern}`];
    if (override) {
      const lo = Math.min(override[0], heads - 1);
      const hi = Math.min(heads - 1, lo + override[1]);
      lines.push(`  head ${lo}..${hi}: ${override[2]}`);
    }
    lines.push('}');
    return { text: lines.join('\n') + '\n', heads, n };
  });
