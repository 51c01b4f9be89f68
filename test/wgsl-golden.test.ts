// Golden files: the WGSL target's output for every example, committed under test/golden/wgsl/.
// Update with `npx vitest run test/wgsl-golden.test.ts -u` and review the diff.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wgslTarget } from '../targets/wgsl/index.js';
import { compileSource } from '../src/driver/pipeline.js';

const examples = readdirSync(new URL('../examples/', import.meta.url)).filter((f) => f.endsWith('.spc')).sort();

describe('WGSL golden files', () => {
  for (const ex of examples) {
    it(ex, async () => {
      const layouts = compileSource(readFileSync(new URL(`../examples/${ex}`, import.meta.url), 'utf8'));
      const files = wgslTarget.emit(layouts, { version: 'golden' });
      expect(files.map((f) => f.path)).toEqual(layouts.flatMap((l) => [`${l.name}.wgsl`, `${l.name}.js`, `${l.name}.d.ts`]));
      for (const f of files) await expect(f.contents).toMatchFileSnapshot(`golden/wgsl/${f.path}`);
      // Deterministic: a second emission is identical.
      expect(wgslTarget.emit(layouts, { version: 'golden' })).toEqual(files);
    });
  }
});
