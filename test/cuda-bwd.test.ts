// The CUDA backward headers (work in progress: compiled only, never run on a GPU). CI compiles
// targets/cuda/kernels/check_bwd.cu with the real nvcc for sm_90a and sm_80: every kernel is there,
// ptxas reports no spills and nvcc no warnings. The gradients' check on the GPU machine is
// test/cuda/check_cuda.py (its float64 autograd reference, reference_grads).
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run$ = promisify(execFile);

describe('CUDA backward headers', () => {
  it('check_bwd.cu compiles for sm_90a and sm_80: preprocess, dK/dV and convert kernels, no spills, no warnings', async () => {
    const kernels = ['pre', 'dkdv', 'convert'];
    const names = ['check_bwd_sm80', 'check_bwd_sm80_mod'].flatMap((p) => kernels.map((k) => `${p}_${k}`)).sort();
    for (const arch of ['-gencode=arch=compute_90a,code=sm_90a', '-gencode=arch=compute_80,code=sm_80']) {
      const { stdout, stderr } = await run$(
        'nvcc',
        [
          '-c',
          '-O3',
          '--use_fast_math',
          '-std=c++17',
          arch,
          '-Xptxas',
          '-v',
          '-I',
          'targets/cuda/kernels',
          'targets/cuda/kernels/check_bwd.cu',
          '-o',
          join(mkdtempSync(join(tmpdir(), 'spc-bwd-')), 'check_bwd.o'),
        ],
        { maxBuffer: 1 << 24 },
      );
      const report = stdout + stderr;
      expect(report).not.toMatch(/warning/i);
      const entries = [...report.matchAll(/entry function '(\w+)'[^]*?(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/g)];
      expect(entries.map((m) => m[1]).sort()).toEqual(names);
      for (const m of entries) expect(Number(m[3]) + Number(m[4]), `${arch} ${m[1]} spills`).toBe(0);
    }
  }, 300_000);
});
