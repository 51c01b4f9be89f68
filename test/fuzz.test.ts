// Random bytes and mutated valid specs thrown at the compiler: it must only ever answer
// with diagnostics (SpecError / EvalError), never crash with anything else.
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toDiagnostics } from '../src/driver/diagnostics.js';
import { instanceFor, compileSource } from '../src/driver/pipeline.js';
import { renderDiagnostic } from '../src/driver/diagnostics.js';
import { layoutStats } from '../src/ir/index.js';

const seeds = readdirSync('examples')
  .filter((f) => f.endsWith('.spc'))
  .map((f) => readFileSync(join('examples', f), 'utf8'));

function compileAll(text: string): void {
  try {
    for (const l of compileSource(text)) {
      const inst = instanceFor(l, l.seq === null ? 37 : undefined);
      if (inst.n <= 256) layoutStats(inst, 8, 8);
    }
  } catch (e) {
    const ds = toDiagnostics(e);
    if (!ds) throw e;
    expect(ds.length).toBeGreaterThan(0);
    for (const d of ds) {
      expect(d.code).toMatch(/^E\d{3}$/);
      const shown = renderDiagnostic(d, 'f.spc', text);
      expect(shown).toMatch(/^f\.spc(:\d+:\d+)?:? error\[E\d{3}\]: /);
    }
  }
}

const TOKENS = [
  'layout',
  'head',
  'heads',
  'pattern',
  'partition',
  'band',
  'window(',
  'dist(',
  ')',
  '(',
  '{',
  '}',
  '|',
  '&',
  '..',
  ':',
  ',',
  '+',
  '-',
  '*',
  '/',
  '%',
  '0',
  '1',
  '7',
  'N',
  'W',
  'S',
  'h',
  'H',
  '\n',
  ' ',
  '#',
  '99999999999999999',
  '[',
  ']',
  'explicit',
  'equal_width',
  '1.5',
  'é',
  '\u0000',
];

describe('fuzz: only diagnostics, never a crash', () => {
  it('random strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => compileAll(s)),
      { numRuns: 1500, seed: 1 },
    );
  });
  it('random token soup', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }), (ts) => compileAll(ts.join(' '))),
      { numRuns: 1500, seed: 2 },
    );
  });
  it('mutated example specs', () => {
    const mutation = fc.record({
      seed: fc.integer({ min: 0, max: seeds.length - 1 }),
      edits: fc.array(
        fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 6 }), ins: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...TOKENS)) }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ seed, edits }) => {
        let t = seeds[seed]!;
        for (const e of edits) {
          const at = e.at % (t.length + 1);
          t = t.slice(0, at) + e.ins + t.slice(at + e.del);
        }
        compileAll(t);
      }),
      { numRuns: 1500, seed: 3 },
    );
  });
});
