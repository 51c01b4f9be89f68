// Golden files: the per-layout part of the WGSL target's output for every example, committed
// under test/golden/wgsl/ (<name>.wgsl, <name>.js, <name>.d.ts). The runtime files the target
// copies next to them (spc-wgsl-runtime.js and .d.ts) are source in targets/wgsl/runtime/ and
// are only checked to be copied unchanged. In <name>.js the shader string (the .wgsl file's
// text, checked equal here) is snapshotted as a marker line.
// Update with `npx vitest run test/wgsl-golden.test.ts -u` and review the diff.
import { readdirSync, readFileSync } from 'node:fs';
import { collapse, expand, splitAt } from './golden-collapse.js';
import { describe, expect, it } from 'vitest';
import { RUNTIME_DTS, RUNTIME_JS, TILED_BODY_MARK, wgslTarget } from '../targets/wgsl/index.js';
import { compileSource } from '../src/driver/pipeline.js';

const examples = readdirSync(new URL('../examples/', import.meta.url))
  .filter((f) => f.endsWith('.spc'))
  .sort();
const source = (f: string) => readFileSync(new URL(`../targets/wgsl/runtime/${f}`, import.meta.url), 'utf8');

const VARIANTS = 'export const WGSL_TILED_VARIANTS = Object.freeze(';
/** The tiled shaders (the module's WGSL_TILED_VARIANTS), by variant name. */
function tiledOf(js: string): Record<string, string> {
  const line = js.split('\n').find((l) => l.startsWith(VARIANTS))!;
  return JSON.parse(line.slice(VARIANTS.length, -2)) as Record<string, string>;
}

/** The module with its `export const WGSL = "...";` (and WGSL_TILED) lines replaced by markers; checks that the string is the shader. */
function withoutShader(js: string, shader: string, name: string): string {
  const lines = js.split('\n');
  const t = lines.findIndex((l) => l.startsWith(VARIANTS));
  if (t >= 0) lines[t] = `${VARIANTS}/* the tiled shaders by name: heads in ${name}.tiled-head.wgsl, bodies _tiled.D4-<D4>.<name>.wgsl */);`;
  const at = lines.findIndex((l) => l.startsWith('export const WGSL = '));
  expect(at, 'the module exports WGSL').toBeGreaterThanOrEqual(0);
  expect(JSON.parse(lines[at]!.slice('export const WGSL = '.length, -1)), 'WGSL equals the .wgsl file').toBe(shader);
  expect(lines[at]!.endsWith(';')).toBe(true);
  lines[at] = `export const WGSL = /* the text of ${name}.wgsl, as a JSON string */;`;
  return lines.join('\n');
}

// The declarations' static part (the API after the layout's constants) is the same for every layout
// of a kind (symbolic or fixed length): snapshotted once per kind, in golden/wgsl/_api.<kind>.d.ts.
const API = '/** The head table for length N';
const apiFile = (fixedSeq: boolean) => `_api.${fixedSeq ? 'fixed-seq' : 'symbolic-seq'}.d.ts`;

// The tiled shader: its per-layout head (constants) is snapshotted per layout, its body (the same
// for every layout with one tile configuration) once per body, named by its constants.
const tiledBodies = new Map<string, string>();

describe('WGSL golden files', () => {
  it('the declarations every layout shares', async () => {
    const apis = new Map<string, string>();
    for (const ex of examples)
      for (const l of compileSource(readFileSync(new URL(`../examples/${ex}`, import.meta.url), 'utf8'))) {
        const dts = wgslTarget.emit([l], { version: 'golden' }).find((f) => f.path === `${l.name}.d.ts`)!.contents;
        const file = apiFile(l.seq !== null);
        const api = splitAt(dts, API)[1];
        expect(apis.get(file) ?? api, `${l.name}: the same API as the other layouts of its kind`).toBe(api);
        apis.set(file, api);
      }
    expect([...apis.keys()].sort()).toEqual([apiFile(true), apiFile(false)].sort());
    for (const [file, api] of apis) await expect(api).toMatchFileSnapshot(`golden/wgsl/${file}`);
  });
  for (const ex of examples) {
    it(ex, async () => {
      const layouts = compileSource(readFileSync(new URL(`../examples/${ex}`, import.meta.url), 'utf8'));
      const files = wgslTarget.emit(layouts, { version: 'golden' });
      expect(files.map((f) => f.path)).toEqual([...layouts.flatMap((l) => [`${l.name}.wgsl`, `${l.name}.js`, `${l.name}.d.ts`]), RUNTIME_JS, RUNTIME_DTS]);
      const byPath = new Map(files.map((f) => [f.path, f.contents]));
      for (const l of layouts) {
        const shader = byPath.get(`${l.name}.wgsl`)!;
        // Unrolled loops over D are one line each in the snapshot (lossless: test/golden-collapse.ts).
        expect(expand(collapse(shader))).toBe(shader);
        await expect(collapse(shader)).toMatchFileSnapshot(`golden/wgsl/${l.name}.wgsl`);
        await expect(withoutShader(byPath.get(`${l.name}.js`)!, shader, l.name)).toMatchFileSnapshot(`golden/wgsl/${l.name}.js`);
        const heads: string[] = [];
        for (const [vname, tiled] of Object.entries(tiledOf(byPath.get(`${l.name}.js`)!))) {
          const [thead, tbody] = splitAt(tiled, TILED_BODY_MARK);
          const D4 = /const D4: u32 = (\d+)u;/.exec(tbody)![1]!;
          const file = `_tiled.D4-${D4}.${vname}.wgsl`;
          expect(tiledBodies.get(file) ?? tbody, `${l.name}: the same tiled body as other layouts of its configuration`).toBe(tbody);
          tiledBodies.set(file, tbody);
          expect(expand(collapse(tbody))).toBe(tbody);
          await expect(collapse(tbody)).toMatchFileSnapshot(`golden/wgsl/${file}`);
          heads.push(`// ==== variant ${vname}\n${thead}`);
        }
        if (heads.length) await expect(heads.join('')).toMatchFileSnapshot(`golden/wgsl/${l.name}.tiled-head.wgsl`);
        const [head] = splitAt(byPath.get(`${l.name}.d.ts`)!, API);
        await expect(`${head}⟦the API: ${apiFile(l.seq !== null)}, the same for every layout of its kind⟧\n`).toMatchFileSnapshot(`golden/wgsl/${l.name}.d.ts`);
      }
      // The runtime is copied from the repository unchanged.
      expect(byPath.get(RUNTIME_JS)).toBe(source('spc-wgsl-runtime.js'));
      expect(byPath.get(RUNTIME_DTS)).toBe(source('spc-wgsl-runtime.d.ts'));
      // Deterministic: a second emission is identical.
      expect(wgslTarget.emit(layouts, { version: 'golden' })).toEqual(files);
    });
  }
});
