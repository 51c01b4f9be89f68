// The CUDA backward headers (checked on an H200: bench/results/cuda-2026-12-01-backward.md; the
// pipelined wgmma dK/dV kernel, targets/cuda/BWD_SM90_PIPE.md, is newer and not yet run on a GPU). CI compiles
// targets/cuda/kernels/check_bwd.cu with the real nvcc for sm_90a and sm_80: every kernel is there,
// ptxas reports no spills and nvcc no warnings. The gradients' check on the GPU machine is
// test/cuda/check_cuda.py (its float64 autograd reference, reference_grads).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../src/driver/pipeline.js';
import { headTable, tableShape } from '../src/ir/index.js';
import { specCase } from './arbitraries.js';
import { randoms } from './brute.js';

const run$ = promisify(execFile);

describe('CUDA backward headers', () => {
  it('check_bwd.cu compiles for sm_90a and sm_80: preprocess, dK/dV and convert kernels, no spills, no warnings', async () => {
    const kernels = ['pre', 'dkdv', 'convert', 'dkdv_det', 'dq'];
    const names = [
      ...['check_bwd_sm80', 'check_bwd_sm80_mod'].flatMap((p) => kernels.map((k) => `${p}_${k}`)),
      // sm90w: the warp-specialised dK/dV kernel (bwd90.dq = writer) on the same test layouts.
      ...['check_bwd_sm90', 'check_bwd_sm90_mod', 'check_bwd_sm90w', 'check_bwd_sm90w_mod', 'check_bwd_sm90w_wide'].flatMap((p) =>
        ['dkdv', 'dkdv_det', 'dq'].map((k) => `${p}_${k}`),
      ),
    ].sort();
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

// The walks of the backward kernels on the host (dK/dV over query tiles, and the dq pass over key
// tiles): the kernels' own range, full-block and mask code (work.cuh, mask.cuh) against a brute force of the head table, for the examples, the
// SPAttention patterns and random specs at N up to 700. Every allowed pair is computed exactly
// once, nothing else is (padding rows and keys included), and a block taken whole holds only
// allowed pairs.
describe('the backward walk (host run of the kernel headers)', () => {
  it('computes each allowed pair once and nothing else, for every tile shape', async () => {
    const texts = [
      ...readdirSync('examples')
        .filter((f) => f.endsWith('.spc'))
        .map((f) => readFileSync(join('examples', f), 'utf8')),
      ...['partition equal_width\n  pattern band', 'partition equal_width\n  pattern band | window(W + 1)', 'partition equal_pairs\n  pattern band'].map(
        (body, x) => `layout p${x} {\n  heads 8\n  kv_heads 4\n  head_dim 64\n  seq N\n  ${body}\n}\n`,
      ),
      ...fc.sample(specCase, { numRuns: 40, seed: 1234 }).map((c) => c.text),
    ];
    const layouts = texts.flatMap((t) => compileSource(t));
    const rnd = randoms(layouts.length * 4, 99);
    const cases = new Map<string, { input: string[]; labels: string[] }>();
    layouts.forEach((l, x) => {
      const shape = tableShape(l);
      const key = `${shape.termSlots},${shape.modSlots}`;
      const group = cases.get(key) ?? { input: [], labels: [] };
      cases.set(key, group);
      const ns = l.seq !== null ? [l.seq] : [1, 77, 1 + Math.floor(Math.abs(rnd[4 * x]!) * 699)];
      for (const n of ns)
        for (let tiles = 0; tiles < 9; tiles++) {
          group.input.push(`${n} ${l.heads} ${tiles} ${Array.from(headTable(l, n)).join(' ')}`);
          group.labels.push(`${l.name} N=${n} tiles ${tiles}`);
        }
    });
    const dir = mkdtempSync(join(tmpdir(), 'spc-walk-'));
    let checked = 0;
    for (const [key, group] of cases) {
      const [ts, ms] = key.split(',');
      const exe = join(dir, `walk_${ts}_${ms}`);
      await run$('nvcc', ['-std=c++17', '-O2', `-DTS=${ts}`, `-DMS=${ms}`, '-I', 'targets/cuda/kernels', 'test/cuda/probe_walk.cu', '-o', exe]);
      const out = execFileSync(exe, { input: group.input.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 })
        .trim()
        .split('\n');
      expect(out.length).toBe(group.input.length);
      out.forEach((line, x) => {
        const [want, got, dup, missed, extra, badFull] = line.split(' ').map(Number);
        expect({ got, dup, missed, extra, badFull }, group.labels[x]).toEqual({ got: want, dup: 0, missed: 0, extra: 0, badFull: 0 });
        checked += 1;
      });
    }
    expect(checked).toBeGreaterThan(400);
  }, 600_000);
});

// The dS^T shared tile of the mma.sync backward: a permutation of the tile for every blockM the
// config accepts (96 once collided and wrote past the tile; the probe fails on that mask).
describe('the backward dS^T tile swizzle (host run of bwd_sm80.cuh)', () => {
  it('maps (key, row) one to one into the tile for warps 2, 4, 8 and blockM 32, 64, 96, 128', async () => {
    const exe = join(mkdtempSync(join(tmpdir(), 'spc-swz-')), 'swz');
    await run$('nvcc', ['-std=c++17', '-O1', '-I', 'targets/cuda/kernels', 'test/cuda/probe_swizzle.cu', '-o', exe]);
    const out = execFileSync(exe, { encoding: 'utf8' }).trim().split('\n');
    expect(out).toHaveLength(12);
    for (const line of out) expect(line).toMatch(/: 0 bad$/);
  }, 120_000);
});
