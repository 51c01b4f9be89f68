// Golden files: the per-layout part of the WGSL target's output for every example, committed
// under test/golden/wgsl/ (<name>.wgsl, <name>.js, <name>.d.ts). The runtime files the target
// copies next to them (spc-wgsl-runtime.js and .d.ts) are source in targets/wgsl/runtime/ and
// are only checked to be copied unchanged. In <name>.js the shader string (the .wgsl file's
// text, checked equal here) is snapshotted as a marker line.
// Update with `npx vitest run test/wgsl-golden.test.ts -u` and review the diff.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RUNTIME_DTS, RUNTIME_JS, wgslTarget } from '../targets/wgsl/index.js';
import { compileSource } from '../src/driver/pipeline.js';

const examples = readdirSync(new URL('../examples/', import.meta.url)).filter((f) => f.endsWith('.spc')).sort();
const source = (f: string) => readFileSync(new URL(`../targets/wgsl/runtime/${f}`, import.meta.url), 'utf8');

/** The module with its `export const WGSL = "...";` line replaced by a marker; checks that the string is the shader. */
function withoutShader(js: string, shader: string, name: string): string {
  const lines = js.split('\n');
  const at = lines.findIndex((l) => l.startsWith('export const WGSL = '));
  expect(at, 'the module exports WGSL').toBeGreaterThanOrEqual(0);
  expect(JSON.parse(lines[at]!.slice('export const WGSL = '.length, -1)), 'WGSL equals the .wgsl file').toBe(shader);
  expect(lines[at]!.endsWith(';')).toBe(true);
  lines[at] = `export const WGSL = /* the text of ${name}.wgsl, as a JSON string */;`;
  return lines.join('\n');
}

describe('WGSL golden files', () => {
  for (const ex of examples) {
    it(ex, async () => {
      const layouts = compileSource(readFileSync(new URL(`../examples/${ex}`, import.meta.url), 'utf8'));
      const files = wgslTarget.emit(layouts, { version: 'golden' });
      expect(files.map((f) => f.path)).toEqual([...layouts.flatMap((l) => [`${l.name}.wgsl`, `${l.name}.js`, `${l.name}.d.ts`]), RUNTIME_JS, RUNTIME_DTS]);
      const byPath = new Map(files.map((f) => [f.path, f.contents]));
      for (const l of layouts) {
        const shader = byPath.get(`${l.name}.wgsl`)!;
        await expect(shader).toMatchFileSnapshot(`golden/wgsl/${l.name}.wgsl`);
        await expect(withoutShader(byPath.get(`${l.name}.js`)!, shader, l.name)).toMatchFileSnapshot(`golden/wgsl/${l.name}.js`);
        await expect(byPath.get(`${l.name}.d.ts`)!).toMatchFileSnapshot(`golden/wgsl/${l.name}.d.ts`);
      }
      // The runtime is copied from the repository unchanged.
      expect(byPath.get(RUNTIME_JS)).toBe(source('spc-wgsl-runtime.js'));
      expect(byPath.get(RUNTIME_DTS)).toBe(source('spc-wgsl-runtime.d.ts'));
      // Deterministic: a second emission is identical.
      expect(wgslTarget.emit(layouts, { version: 'golden' })).toEqual(files);
    });
  }
});
