// The generated module's API on a real device: every example's shader compiles, the embedded
// head table matches the IR, the .d.ts type-checks against @webgpu/types, the CLI writes the
// files, and wrong sizes, missing N, small limits and shader errors give useful errors.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headTable, type LayoutIR } from '../src/ir/index.js';
import { wgslTarget } from '../targets/wgsl/index.js';
import { layoutsOf, loadModule, openGpu, randomArray, variant, type Gpu, type WgslModule } from './wgsl-helpers.js';

const root = new URL('..', import.meta.url).pathname;
const exampleFiles = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.spc'))
  .sort();
const all: { layout: LayoutIR; mod: WgslModule }[] = [];
let small: WgslModule;
let broken: WgslModule;
let gpu: Gpu;
let cliDir: string;
let copied: WgslModule;

beforeAll(async () => {
  // Everything that may start a child process or import a module happens before the device exists.
  cliDir = mkdtempSync(join(tmpdir(), 'spc-wgsl-cli-'));
  execFileSync(process.execPath, [join(root, 'bin/spc.js'), 'compile', join(root, 'examples/spattention-paper.spc'), '--target', 'wgsl', '-o', cliDir]);
  // The CLI's output directory, copied elsewhere as a user would, imports only its own files.
  const copy = join(mkdtempSync(join(tmpdir(), 'spc-wgsl-copied-')), 'attention');
  cpSync(cliDir, copy, { recursive: true });
  writeFileSync(join(copy, 'package.json'), '{"type":"module"}\n');
  copied = (await import(pathToFileURL(join(copy, 'spattention_paper.js')).href)) as WgslModule;
  for (const f of exampleFiles)
    for (const layout of layoutsOf(readFileSync(join(root, 'examples', f), 'utf8'))) all.push({ layout, mod: await loadModule(layout) });
  const smallLayout = layoutsOf(variant(readFileSync(join(root, 'examples/mixed-gqa.spc'), 'utf8'), { headDim: 32 }))[0]!;
  small = await loadModule(smallLayout);
  // A module whose shader has an error, to check that the error names its WGSL line.
  const dir = mkdtempSync(join(tmpdir(), 'spc-wgsl-broken-'));
  mkdirSync(dir, { recursive: true });
  const emitted = wgslTarget.emit([smallLayout], { version: 'test' });
  for (const f of emitted) writeFileSync(join(dir, f.path), f.contents); // the module imports ./spc-wgsl-runtime.js
  const js = emitted.find((f) => f.path === `${smallLayout.name}.js`)!.contents;
  writeFileSync(join(dir, 'broken.js'), js.replace('let up = sc > mx;', 'let up = sc > mx + no_such_name;'));
  broken = (await import(pathToFileURL(join(dir, 'broken.js')).href)) as WgslModule;
  gpu = await openGpu();
}, 120_000);

afterAll(() => gpu?.destroy());

describe('WGSL generated module', () => {
  it('the CLI writes .wgsl, .js and .d.ts, and the runtime the module imports', () => {
    expect(readdirSync(cliDir).sort()).toEqual([
      'spattention_paper.d.ts',
      'spattention_paper.js',
      'spattention_paper.wgsl',
      'spc-wgsl-runtime.d.ts',
      'spc-wgsl-runtime.js',
    ]);
    expect(readFileSync(join(cliDir, 'spattention_paper.js'), 'utf8')).toContain('export async function createAttention(device');
  });

  it('the CLI output (spc from dist/) works on its own, copied to another folder', async () => {
    expect(readFileSync(join(cliDir, 'spc-wgsl-runtime.js'), 'utf8')).toBe(readFileSync(join(root, 'targets/wgsl/runtime/spc-wgsl-runtime.js'), 'utf8'));
    const viaTest = all.find((x) => x.layout.name === 'spattention_paper')!.mod;
    const n = 70;
    const s = copied.sizes(n, 1);
    const q = randomArray(s.q, 11),
      k = randomArray(s.k, 12),
      v = randomArray(s.v, 13);
    const a = await copied.createAttention(gpu.device, { n });
    const b = await viaTest.createAttention(gpu.device, { n });
    const [ra, rb] = [await a.run(q, k, v), await b.run(q, k, v)];
    expect(ra.out).toEqual(rb.out);
    expect(ra.lse).toEqual(rb.lse);
    a.destroy();
    b.destroy();
  });

  it('every example compiles to a valid pipeline on the device', async () => {
    for (const { mod } of all) await mod.createPipeline(gpu.device);
  });

  it('the embedded head table equals the IR head table', () => {
    for (const { layout, mod } of all) {
      for (const n of layout.seq !== null ? [layout.seq] : [1, 17, 300, 1024, 4099]) expect(mod.headTable(n)).toEqual(headTable(layout, n));
    }
  });

  it('the .d.ts type-checks against @webgpu/types and a consumer compiles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-wgsl-dts-'));
    const files = wgslTarget.emit(layoutsOf(readFileSync(join(root, 'examples/mixed-gqa.spc'), 'utf8')), { version: 'test' });
    for (const f of files) writeFileSync(join(dir, f.path), f.contents);
    writeFileSync(
      join(dir, 'use.ts'),
      [
        "import { createAttention, dispatch, LAYOUT, WGSL, bindGroupLayoutEntries, WORKGROUP_SIZE } from './mixed_gqa.js';",
        'export async function go(device: GPUDevice): Promise<number> {',
        '  const a = await createAttention(device, { n: 64, batch: 2 });',
        '  const r = await a.run(new Float32Array(1), new Float32Array(1), new Float32Array(1));',
        '  dispatch(device.createCommandEncoder(), a);',
        '  const h: 8 = LAYOUT.heads;',
        '  return r.out.length + r.lse.length + WGSL.length + bindGroupLayoutEntries.length + WORKGROUP_SIZE[0] + h;',
        '}',
      ].join('\n'),
    );
    const program = ts.createProgram([join(dir, 'use.ts')], {
      strict: true,
      noEmit: true,
      allowJs: false,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: [],
      typeRoots: [join(root, 'node_modules')],
    });
    const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diags).toEqual([]);
  });

  it('rejects wrong input sizes, missing N and bad counts with clear messages', async () => {
    const att = await small.createAttention(gpu.device, { n: 40, batch: 2 });
    const s = small.sizes(40, 2);
    await expect(att.run(new Float32Array(s.q - 1), new Float32Array(s.k), new Float32Array(s.v))).rejects.toThrow(
      /q has \d+ elements, expected \d+ = 2 x 8 x 40 x 32/,
    );
    await expect(att.run(new Float32Array(s.q), new Float32Array(s.k + 1), new Float32Array(s.v))).rejects.toThrow(/k has .* expected .* = 2 x 2 x 40 x 32/);
    await expect(att.run([] as unknown as Float32Array, new Float32Array(s.k), new Float32Array(s.v))).rejects.toThrow(/q must be a Float32Array/);
    // After a rejected call the object still works.
    const ok = await att.run(randomArray(s.q, 1), randomArray(s.k, 2), randomArray(s.v, 3));
    expect(ok.out.length).toBe(s.out);
    att.destroy();
    await expect(small.createAttention(gpu.device, {})).rejects.toThrow(/options.n \(the sequence length\) is required/);
    await expect(small.createAttention(gpu.device, { n: 0 })).rejects.toThrow(/n must be a positive integer/);
    await expect(small.createAttention(gpu.device, { n: 8, batch: 1.5 })).rejects.toThrow(/batch must be a positive integer/);
  });

  it('rejects buffers that are too small or lack usage flags', async () => {
    const tiny = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    await expect(small.createAttention(gpu.device, { n: 40, buffers: { q: tiny } })).rejects.toThrow(/buffers.q has 16 bytes but needs 40960/);
    const noStorage = gpu.device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.COPY_DST });
    await expect(small.createAttention(gpu.device, { n: 40, buffers: { k: noStorage } })).rejects.toThrow(/buffers.k lacks usage flags 0x80/);
    tiny.destroy();
    noStorage.destroy();
  });

  it('names the limit a device lacks and how to request it', async () => {
    const limits: Record<string, number> = {};
    for (const k in gpu.device.limits) limits[k] = (gpu.device.limits as unknown as Record<string, number>)[k]!;
    const weak = { limits: { ...limits, maxComputeWorkgroupStorageSize: 4096 }, createShaderModule() {} } as unknown as GPUDevice;
    await expect(small.createAttention(weak, { n: 16 })).rejects.toThrow(
      /maxComputeWorkgroupStorageSize = 4096 but this kernel needs 8192 .*requiredLimits: \{ maxComputeWorkgroupStorageSize: 8192 \}/,
    );
    await expect(small.createAttention({} as GPUDevice, { n: 16 })).rejects.toThrow(/expected a GPUDevice/);
  });

  it('surfaces WGSL compile errors with the shader line', async () => {
    await expect(broken.createPipeline(gpu.device)).rejects.toThrow(/does not compile:\n {2}line \d+:\d+: .*no_such_name[^]*let up = sc > mx \+ no_such_name/);
  });

  it('dispatch() records into a caller encoder with caller buffers', async () => {
    const n = 33;
    const s = small.sizes(n, 1);
    const { device } = gpu;
    const mk = (bytes: number, usage: number) => device.createBuffer({ size: bytes, usage });
    const buffers = { q: mk(4 * s.q, 0x80 | 0x08), k: mk(4 * s.k, 0x80 | 0x08), v: mk(4 * s.v, 0x80 | 0x08), out: mk(s.outBytes, 0x80 | 0x04) };
    const q = randomArray(s.q, 7),
      k = randomArray(s.k, 8),
      v = randomArray(s.v, 9);
    device.queue.writeBuffer(buffers.q, 0, q as Float32Array<ArrayBuffer>);
    device.queue.writeBuffer(buffers.k, 0, k as Float32Array<ArrayBuffer>);
    device.queue.writeBuffer(buffers.v, 0, v as Float32Array<ArrayBuffer>);
    const att = await small.createAttention(device, { n, buffers });
    const rb = mk(s.outBytes, 0x01 | 0x08);
    const enc = device.createCommandEncoder();
    att.dispatch(enc);
    enc.copyBufferToBuffer(buffers.out, 0, rb, 0, s.outBytes);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(1);
    const viaDispatch = new Float32Array(rb.getMappedRange().slice(0));
    rb.unmap();
    const viaRun = await (await small.createAttention(device, { n })).run(q, k, v);
    expect(viaDispatch.subarray(0, s.out)).toEqual(viaRun.out);
    expect(viaDispatch.subarray(s.out)).toEqual(viaRun.lse);
  });
});
