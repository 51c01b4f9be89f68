// The gpu.js target's emitted files: golden copies of the per-layout files for every example
// (UPDATE_GOLDEN=1 rewrites them; the runtime files spc-gpujs-runtime.js and .d.ts are source in
// targets/gpujs/runtime/ and only checked to be copied unchanged), the CLI path, and that the
// module parses and embeds the IR's head table.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collapse, expand } from './golden-collapse.js';
import { describe, expect, it } from 'vitest';
import { run } from '../src/driver/cli.js';
import { getTarget, loadSpec } from '../src/driver/pipeline.js';
import { headTable } from '../src/ir/index.js';
import { caseLayouts, cases, loadModule, MODES } from './helpers/gpujs.js';
import { RUNTIME_DTS, RUNTIME_JS } from '../targets/gpujs/index.js';
import { jsHostTable } from '../codegen/host.js';

const examples = readdirSync('examples')
  .filter((f) => f.endsWith('.spc'))
  .sort();
const goldenDir = join('test', 'golden', 'gpujs');

describe('gpujs target: emitted files', () => {
  it('is registered in the CLI', async () => {
    const out = mkdtempSync(join(tmpdir(), 'spc-gpujs-cli-'));
    const err: string[] = [];
    const code = await run(['compile', 'examples/sparse-transformer.spc', '--target', 'gpujs', '-o', out], { stdout: () => {}, stderr: (s) => err.push(s) });
    expect(code, err.join('')).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['fixed.d.ts', 'fixed.js', 'spc-gpujs-runtime.d.ts', 'spc-gpujs-runtime.js', 'strided.d.ts', 'strided.js']);
  });

  for (const file of examples) {
    it(`matches the golden files for ${file}`, async () => {
      const layouts = loadSpec(join('examples', file)).layouts;
      const files = (await getTarget('gpujs')).emit(layouts, { version: 'GOLDEN' });
      expect(files.map((f) => f.path)).toEqual([...layouts.flatMap((l) => [`${l.name}.js`, `${l.name}.d.ts`]), RUNTIME_JS, RUNTIME_DTS]);
      for (const f of files.slice(-2)) expect(f.contents, f.path).toBe(readFileSync(join('targets', 'gpujs', 'runtime', f.path), 'utf8'));
      for (const [x, f] of files.slice(0, -2).entries()) {
        const path = join(goldenDir, f.path);
        // The head table code is codegen/host.ts's, embedded verbatim (checked here); its text is
        // snapshotted once, in test/golden/wgsl/<name>.js, and stands as a marker line here.
        const layout = layouts[Math.floor(x / 2)]!;
        const table = jsHostTable(layout).trimEnd();
        const contents = f.path.endsWith('.js') ? f.contents.replace(table, `// [jsHostTable(${layout.name}) from codegen/host.ts, verbatim]`) : f.contents;
        if (f.path.endsWith('.js')) expect(contents, `${f.path} embeds jsHostTable verbatim`).not.toBe(f.contents);
        // Unrolled loops (the q.k dot over D) are one line each in the snapshot (lossless: test/golden-collapse.ts).
        const short = collapse(contents);
        expect(expand(short)).toBe(contents);
        if (process.env.UPDATE_GOLDEN) writeFileSync(path, short);
        expect(short, `${path} (UPDATE_GOLDEN=1 npx vitest run test/gpujs-emit.test.ts rewrites it)`).toBe(readFileSync(path, 'utf8'));
      }
    });
  }

  it('embeds a head table identical to the IR for every example', async () => {
    for (const file of examples) {
      for (const layout of loadSpec(join('examples', file)).layouts) {
        const mod = await loadModule(layout);
        for (const n of layout.seq !== null ? [layout.seq] : [1, 33, 256, 1000]) {
          expect(Array.from(mod.headTable(n)), `${layout.name} N=${n}`).toEqual(Array.from(headTable(layout, n)));
        }
      }
    }
  });

  it('the run matrix gives every mode every value of H, D and N', () => {
    for (const mode of MODES) {
      const cs = cases(examples, mode);
      expect(new Set(cs.map((c) => caseLayouts(c).heads)), mode).toEqual(new Set([1, 4, 8]));
      expect(new Set(cs.map((c) => c.headDim)), mode).toEqual(new Set([16, 64]));
      expect(new Set(cs.map((c) => c.n)), mode).toEqual(new Set([1, 33, 256]));
      expect(new Set(cs.map((c) => c.file)), mode).toEqual(new Set(examples));
    }
  });
});
