// The CUDA target in CI (no GPU): every example compiles with the real nvcc for sm_90a and sm_80
// with no register spills, the Python package is valid Python, golden files pin the output,
// and unsupported layouts get a diagnostic. Running the kernels needs the GPU machine:
// test/cuda/check_cuda.py (see bench/results/cuda-*.md).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cudaTarget } from '../targets/cuda/index.js';
import { compileSource } from '../src/pipeline.js';
import { run } from '../src/cli.js';

const run$ = promisify(execFile);
const examples = readdirSync('examples').filter((f) => f.endsWith('.spc'));
const layouts = examples.flatMap((f) => compileSource(readFileSync(join('examples', f), 'utf8')));
const files = cudaTarget.emit(layouts, { version: 'golden' });

describe('CUDA target', () => {
  it('emits a .cu, a manifest and a Python package per layout, deterministically', () => {
    for (const l of layouts) {
      for (const p of [`${l.name}.cu`, `${l.name}.manifest.json`, `${l.name}/kernel.cu`, `${l.name}/_table.py`, `${l.name}/__init__.py`]) expect(files.some((f) => f.path === p), p).toBe(true);
    }
    expect(cudaTarget.emit(layouts, { version: 'golden' })).toEqual(files);
  });

  it('matches the golden files', async () => {
    for (const f of files.filter((x) => x.path.endsWith('.cu') && !x.path.includes('/'))) await expect(f.contents).toMatchFileSnapshot(join('golden', 'cuda', f.path));
    for (const f of files.filter((x) => x.path.endsWith('/__init__.py'))) await expect(f.contents).toMatchFileSnapshot(join('golden', 'cuda', f.path.replace('/__init__.py', '.init.py')));
  });

  it('every example compiles with nvcc for sm_90a and sm_80, with no register spills', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-nvcc-'));
    const jobs: (() => Promise<void>)[] = [];
    for (const f of files.filter((x) => x.path.endsWith('.cu') && !x.path.includes('/'))) {
      writeFileSync(join(dir, f.path), f.contents);
      for (const arch of ['-gencode=arch=compute_90a,code=sm_90a', '-gencode=arch=compute_80,code=sm_80'])
        jobs.push(async () => {
          const { stderr, stdout } = await run$('nvcc', ['-c', '-O3', '--use_fast_math', '-std=c++17', arch, '-Xptxas', '-v', join(dir, f.path), '-o', join(dir, `${f.path}.${arch.slice(-5)}.o`)], { maxBuffer: 1 << 24 });
          const report = stdout + stderr;
          const regs = [...report.matchAll(/Used (\d+) registers/g)].map((m) => Number(m[1]));
          expect(regs.length, `${f.path} ${arch}: ptxas report`).toBe(2); // the bf16 and fp16 kernels
          for (const m of report.matchAll(/(\d+) bytes spill (stores|loads)/g)) expect(Number(m[1]), `${f.path} ${arch} spills`).toBe(0);
          expect(report).not.toMatch(/warning/i);
        });
    }
    // Two at a time: the CI machine has 2 cores.
    const queue = [...jobs];
    await Promise.all([0, 1].map(async () => {
      for (let j = queue.shift(); j; j = queue.shift()) await j();
    }));
  }, 900_000);

  it('the Python package is valid Python (its head table is checked in host.test.ts)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-py-'));
    for (const f of files) {
      const p = join(dir, f.path);
      execFileSync('mkdir', ['-p', join(p, '..')]);
      writeFileSync(p, f.contents);
    }
    const names = layouts.map((l) => l.name);
    const script = `import ast, sys\nfor n in ${JSON.stringify(names)}:\n    ast.parse(open(f"{n}/__init__.py").read())\n    ast.parse(open(f"{n}/_table.py").read())\nprint("ok")`;
    expect(execFileSync('python3', ['-c', script], { cwd: dir, encoding: 'utf8' }).trim()).toBe('ok');
  });

  it('unsupported layouts get a diagnostic and no files', async () => {
    const d = mkdtempSync(join(tmpdir(), 'spc-cu-'));
    writeFileSync(join(d, 'x.spc'), 'layout d96 { heads 2 head_dim 96 pattern dense }\n');
    let err = '';
    const code = await run(['compile', join(d, 'x.spc'), '--target', 'cuda', '-o', join(d, 'out')], { stdout: () => {}, stderr: (s) => (err += s) });
    expect(code).toBe(2);
    expect(err).toContain('error[E095]: the target cannot compile this spec: the CUDA target supports head_dim 64 and 128');
    expect(() => readdirSync(join(d, 'out'))).toThrow();
  });
});
