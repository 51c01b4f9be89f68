// The CUDA target in CI (no GPU): the kernel headers compile on their own, every example compiles
// with the real nvcc for sm_90a and sm_80 with no register spills, the Python package is valid
// Python, golden files pin each layout's generated part, and bad layouts or configs get a diagnostic. Running the kernels needs the GPU machine:
// test/cuda/check_cuda.py (see bench/results/cuda-*.md).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configFor, cudaTarget, defaultConfig, makeCudaTarget } from '../targets/cuda/index.js';
import { amalgamate, layoutSource } from '../targets/cuda/source.js';
import { STATIC_PY } from '../targets/cuda/python.js';
import { renderSchema } from '../codegen/schema.js';
import { TargetError } from '../codegen/target.js';
import { balancedShards, contiguousShards, type ShardReport } from '../src/driver/shards.js';
import { compileSource } from '../src/driver/pipeline.js';
import { run } from '../src/driver/cli.js';

const run$ = promisify(execFile);
const examples = readdirSync('examples').filter((f) => f.endsWith('.spc'));
const layouts = examples.flatMap((f) => compileSource(readFileSync(join('examples', f), 'utf8')));
const files = cudaTarget.emit(layouts, { version: 'golden' });

describe('CUDA target', () => {
  it('emits a .cu, a manifest and a Python package per layout, deterministically', () => {
    for (const l of layouts) {
      for (const p of [
        `${l.name}.cu`,
        `${l.name}.manifest.json`,
        `${l.name}/kernel.cu`,
        `${l.name}/_table.py`,
        `${l.name}/_layout.py`,
        `${l.name}/launchers.h`,
        ...STATIC_PY.map((f) => `${l.name}/${f}`),
      ])
        expect(
          files.some((f) => f.path === p),
          p,
        ).toBe(true);
      // The .cu is the kernel headers then the layout's generated part; the package's static files are the repository's.
      const cu = files.find((f) => f.path === `${l.name}.cu`)!.contents;
      expect(cu.endsWith(`${amalgamate()}\n${layoutSource(l, defaultConfig(l), 'golden')}`)).toBe(true);
      expect(files.find((f) => f.path === `${l.name}/kernel.cu`)!.contents).toBe(cu);
      for (const f of STATIC_PY) expect(files.find((x) => x.path === `${l.name}/${f}`)!.contents).toBe(readFileSync(join('targets/cuda/python', f), 'utf8'));
    }
    expect(cudaTarget.emit(layouts, { version: 'golden' })).toEqual(files);
    // The manifest names the kernels that the .cu defines, for both families, and its statistics
    // use the sm90 kernel's tiles.
    for (const l of layouts) {
      const m = JSON.parse(files.find((f) => f.path === `${l.name}.manifest.json`)!.contents) as {
        kernels: Record<'sm90' | 'sm80', Record<'bf16' | 'fp16', { kernel: string; launcher: string }> & { block_m: number; block_n: number }>;
        stats?: { block_m: number; block_n: number };
      };
      const cu = files.find((f) => f.path === `${l.name}.cu`)!.contents;
      for (const fam of ['sm90', 'sm80'] as const)
        for (const dt of ['bf16', 'fp16'] as const) {
          expect(cu, `${l.name} ${fam} ${dt}`).toMatch(new RegExp(`\\n${m.kernels[fam][dt].kernel}\\(`));
          expect(cu).toContain(`extern "C" cudaError_t ${m.kernels[fam][dt].launcher}(`);
        }
      if (m.stats) expect([m.stats.block_m, m.stats.block_n]).toEqual([m.kernels.sm90.block_m, m.kernels.sm90.block_n]);
    }
  });

  it('matches the golden files', async () => {
    // The head-table schema's C++ and Python renderings, committed as the kernels' table.cuh and
    // the package's _schema.py (vitest -u rewrites them from src/ir/schema.ts).
    await expect(renderSchema('cpp')).toMatchFileSnapshot('../targets/cuda/kernels/spc/table.cuh');
    await expect(renderSchema('py')).toMatchFileSnapshot('../targets/cuda/python/_schema.py');
    // Only what a layout adds: the generated part of its .cu and its _layout.py (the headers and the
    // package's static files are source files of the repository).
    for (const l of layouts) {
      await expect(layoutSource(l, defaultConfig(l), 'golden')).toMatchFileSnapshot(join('golden', 'cuda', `${l.name}.layout.cu`));
      await expect(files.find((x) => x.path === `${l.name}/_layout.py`)!.contents).toMatchFileSnapshot(join('golden', 'cuda', `${l.name}.layout.py`));
    }
  });

  it('every example compiles with nvcc for sm_90a and sm_80 (with its launchers.h), with no register spills (and no stack frame in the persistent kernel)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-nvcc-'));
    const jobs: (() => Promise<void>)[] = [];
    for (const f of files.filter((x) => x.path.endsWith('.cu') && !x.path.includes('/'))) {
      // The package's launchers.h after the .cu: its declarations must agree with the definitions
      // (a mismatch is a conflicting declaration), and the binding's names must resolve.
      const header = files.find((x) => x.path === f.path.replace(/\.cu$/, '/launchers.h'))!.contents;
      writeFileSync(join(dir, f.path), `${f.contents}\n${header}`);
      for (const arch of ['-gencode=arch=compute_90a,code=sm_90a', '-gencode=arch=compute_80,code=sm_80'])
        jobs.push(async () => {
          const { stderr, stdout } = await run$(
            'nvcc',
            ['-c', '-O3', '--use_fast_math', '-std=c++17', arch, '-Xptxas', '-v', join(dir, f.path), '-o', join(dir, `${f.path}.${arch.slice(-5)}.o`)],
            { maxBuffer: 1 << 24 },
          );
          const report = stdout + stderr;
          const regs = [...report.matchAll(/Used (\d+) registers/g)].map((m) => Number(m[1]));
          const manifest = JSON.parse(files.find((x) => x.path === f.path.replace(/\.cu$/, '.manifest.json'))!.contents) as {
            launch: { persistent_sm90: boolean };
            kernels: Record<string, Record<string, unknown>>;
          };
          // Every __global__ of the manifest: the forward's `kernel`s, the backward's pre, dkdv and convert.
          const kernels = Object.values(manifest.kernels).flatMap((fam) =>
            Object.values(fam).flatMap((x) =>
              typeof x === 'object' && x !== null
                ? Object.entries(x)
                    .filter(([k]) => ['kernel', 'pre', 'dkdv', 'convert', 'dkdv_det', 'dq'].includes(k))
                    .map(([, name]) => name as string)
                : [],
            ),
          );
          expect(regs.length, `${f.path} ${arch}: a ptxas report for each kernel of the manifest`).toBe(kernels.length);
          for (const k of kernels) expect(report).toContain(`entry function '${k}'`);
          for (const m of report.matchAll(/(\d+) bytes spill (stores|loads)/g)) expect(Number(m[1]), `${f.path} ${arch} spills`).toBe(0);
          // The persistent kernel keeps no local arrays either (an array indexed at run time lives on
          // the stack, and ptxas reports no spill). The others may: the key-tile-range sort of 3-term
          // tables takes 8 bytes a term in thread 0, once per work item.
          if (arch.endsWith('sm_90a') && manifest.launch.persistent_sm90) {
            const frames = [...report.matchAll(/entry function '(\w+)'[^]*?(\d+) bytes stack frame/g)].filter((m) => m[1]!.includes('_fwd_sm90_'));
            expect(frames.length, `${f.path}: ptxas report of the sm90 kernels`).toBe(2);
            for (const m of frames) expect(Number(m[2]), `${f.path} ${m[1]} stack frame`).toBe(0);
          }
          expect(report).not.toMatch(/warning/i);
        });
    }
    // Two at a time: the CI machine has 2 cores.
    const queue = [...jobs];
    await Promise.all(
      [0, 1].map(async () => {
        for (let j = queue.shift(); j; j = queue.shift()) await j();
      }),
    );
  }, 900_000);

  it('the Python package is valid Python (its head table is checked in host.test.ts)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-py-'));
    for (const f of files) {
      const p = join(dir, f.path);
      execFileSync('mkdir', ['-p', join(p, '..')]);
      writeFileSync(p, f.contents);
    }
    // Every module of every package compiles; pyflakes (Debian's pyflakes3) finds no unused or
    // undefined names in the static files and the generated ones.
    const pys = files.filter((f) => f.path.endsWith('.py')).map((f) => f.path);
    execFileSync('python3', ['-m', 'py_compile', ...pys], { cwd: dir });
    execFileSync('pyflakes3', [...pys.filter((p) => !p.endsWith('_table.py'))], { cwd: dir });
    execFileSync('pyflakes3', [
      'targets/cuda/python/__init__.py',
      'targets/cuda/python/_op.py',
      'targets/cuda/python/_plan.py',
      'targets/cuda/python/_schema.py',
      'targets/cuda/python/_tuning.py',
      'test/cuda/check_cuda.py',
      'test/cuda/check_paths.py',
      'examples/distributed/tp_attention.py',
    ]);
    // The GPU-machine scripts and the torch.distributed example too (they need torch to run).
    for (const f of ['examples/distributed/tp_attention.py', 'bench/cuda/bench_cuda.py', 'bench/cuda/bench_shards.py', 'test/cuda/check_cuda.py'])
      expect(execFileSync('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read()); print("ok")', f], { encoding: 'utf8' }).trim(), f).toBe(
        'ok',
      );
    for (const f of ['bench/cuda/h100.sh', 'bench/cuda/tp.sh', 'bench/cuda/tune.sh', 'bench/cuda/profile.sh']) execFileSync('bash', ['-n', f]); // shell syntax
  });

  it("the package's shard helpers (pure Python) assign heads exactly as spc check --shards does", () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-plan-'));
    for (const f of files.filter((x) => x.path.startsWith('mixed_gqa/') || x.path.startsWith('spattention_paper/'))) {
      execFileSync('mkdir', ['-p', join(dir, f.path, '..')]);
      writeFileSync(join(dir, f.path), f.contents);
    }
    // Random work vectors (with ties) through both implementations of the assignment search.
    const cases: { work: number[]; shards: number }[] = [];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let c = 0; c < 60; c++) {
      const shards = [1, 2, 4, 8][c % 4]!;
      const heads = shards * (1 + Math.floor(rnd() * 4));
      cases.push({ shards, work: Array.from({ length: heads }, () => Math.floor(rnd() * (c % 3 === 0 ? 5 : 1000))) });
    }
    const script = [
      'import json, sys',
      'import spattention_paper as pkg, spattention_paper._plan as p  # the package imports without torch',
      'assert pkg.current_arch() == "sm90" and pkg.shard_plan(4096, 4) == p.shard_plan(4096, 4, "sm90")',
      'cases = json.loads(sys.stdin.read())',
      'out = [[p.contiguous_shards(c["work"], c["shards"]), p.balanced_shards(c["work"], c["shards"])] for c in cases]',
      'print(json.dumps({"cases": out, "plan": p.shard_plan(4096, 4), "tiles": p.head_tiles(4096)}))',
    ].join('\n');
    const res = JSON.parse(execFileSync('python3', ['-c', script], { cwd: dir, input: JSON.stringify(cases), encoding: 'utf8' })) as {
      cases: [ShardReport, ShardReport][];
      plan: { in_order: ShardReport; balanced: ShardReport };
      tiles: number[];
    };
    const strip = (r: ShardReport) => ({ heads: r.heads, work: r.work, imbalance: r.imbalance });
    cases.forEach((c, i) => {
      expect(res.cases[i]![0], `contiguous ${JSON.stringify(c)}`).toEqual(strip(contiguousShards(c.work, c.shards)));
      expect(res.cases[i]![1], `balanced ${JSON.stringify(c)}`).toEqual(strip(balancedShards(c.work, c.shards)));
    });
    // The paper's bands on 4 ranks: heads in order are 1.75x the mean; the balanced plan is even.
    expect(res.tiles).toHaveLength(16);
    expect(res.plan.in_order.imbalance).toBeCloseTo(1.75, 1);
    expect(res.plan.balanced.imbalance).toBeLessThan(1.02);
    expect(res.plan.balanced).toEqual(strip(balancedShards(res.tiles, 4)));
  });

  it("the package deals the persistent kernel's work items evenly (pure Python)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-deal-'));
    for (const f of files.filter((x) => x.path.startsWith('spattention_paper/') || x.path.startsWith('spattention_balanced/'))) {
      execFileSync('mkdir', ['-p', join(dir, f.path, '..')]);
      writeFileSync(join(dir, f.path), f.contents);
    }
    // Every item of B = 2 batches at N = 16384 once, on 132 blocks (an H100), longest first within
    // a block; the heaviest block's work (tiles plus the per-item cost) against the mean.
    const script = [
      'import json',
      'for name in ("spattention_paper", "spattention_balanced"):',
      '    p = __import__(name + "._plan", fromlist=["_plan"])',
      '    t = p._table.head_table(16384)',
      '    tiles = [x for h in range(p.HEADS) for x in p.block_tiles(t, h, 16384, "sm90")] * 2',
      '    groups = p.deal(tiles, 132)',
      '    cost = lambda i: tiles[i] + (p.ITEM_COST if tiles[i] else p.EMPTY_COST)',
      '    loads = [sum(cost(i) for i in g) for g in groups]',
      '    assert sorted(i for g in groups for i in g) == list(range(len(tiles)))',
      '    assert all(tiles[a] >= tiles[b] for g in groups for a, b in zip(g, g[1:]))',
      '    print(json.dumps({"blocks": len(groups), "items": len(tiles), "imbalance": max(loads) / (sum(loads) / len(loads))}))',
    ].join('\n');
    const res = execFileSync('python3', ['-c', script], { cwd: dir, encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { blocks: number; items: number; imbalance: number });
    expect(res).toHaveLength(2);
    for (const r of res) {
      expect(r.blocks).toBe(132);
      expect(r.items).toBe(2 * 16 * 128);
      expect(r.imbalance).toBeLessThan(1.01);
    }
  });

  it('unsupported layouts get a diagnostic and no files', async () => {
    const d = mkdtempSync(join(tmpdir(), 'spc-cu-'));
    writeFileSync(join(d, 'x.spc'), 'layout d96 { heads 2 head_dim 96 pattern dense }\n');
    let err = '';
    const code = await run(['compile', join(d, 'x.spc'), '--target', 'cuda', '-o', join(d, 'out')], { stdout: () => {}, stderr: (s) => (err += s) });
    expect(code).toBe(2);
    expect(err).toContain('error[E100]: the CUDA target supports head_dim 64 and 128; layout d96 has 96');
    expect(() => readdirSync(join(d, 'out'))).toThrow();
  });

  it('spc compile --config: a config file or inline JSON over the heuristic, lands in the manifest; a bad one is a diagnostic and writes nothing', async () => {
    const d = mkdtempSync(join(tmpdir(), 'spc-cfg-'));
    writeFileSync(join(d, 'x.spc'), 'layout cfg_test { heads 4 head_dim 128 partition equal_pairs pattern band }\n');
    writeFileSync(join(d, 'cfg.json'), JSON.stringify({ sm90: { stages: 2, qBuffers: 2 } }));
    const cli = async (...args: string[]) => {
      let err = '';
      const code = await run(['compile', join(d, 'x.spc'), '--target', 'cuda', ...args], { stdout: () => {}, stderr: (s) => (err += s) });
      return { code, err };
    };
    expect((await cli('-o', join(d, 'a'), '--config', join(d, 'cfg.json'))).code).toBe(0);
    const m = JSON.parse(readFileSync(join(d, 'a', 'cfg_test.manifest.json'), 'utf8')) as {
      config: { sm90: { stages: number; qBuffers: number; blockN: number } };
    };
    expect(m.config.sm90).toMatchObject({ stages: 2, qBuffers: 2, blockN: 128 });
    expect(readFileSync(join(d, 'a', 'cfg_test', '_layout.py'), 'utf8')).toContain('"qBuffers": 2,');
    expect(readFileSync(join(d, 'a', 'cfg_test.cu'), 'utf8')).toContain('kStages = 2, kQBufs = 2');
    for (const [config, codeText] of [
      ['{"sm90": {"stages": 9}}', "error[E105]: kernel config: field 'sm90.stages' expects one of 2, 3, 4, 5, 6, got 9"],
      ['{"sm90": {"stage": 3}}', "error[E104]: kernel config: unknown field 'sm90.stage'"],
      ['{"sm90": {"stages": 4}}', 'error[E102]'],
      ['{"sm90": {', 'error[E107]'],
    ] as const) {
      const r = await cli('-o', join(d, 'b'), '--config', config);
      expect(r.code, config).toBe(2);
      expect(r.err, config).toContain(codeText);
      expect(() => readdirSync(join(d, 'b')), config).toThrow();
    }
  });

  it('kernel configs that cannot run are refused before any code is written', () => {
    const l = layouts.find((x) => x.headDim === 128)!;
    const emitWith = (config: unknown) => () => cudaTarget.emit([l], { version: 'x', config });
    const code = (config: unknown) => {
      try {
        emitWith(config)();
        return 'ok';
      } catch (e) {
        return (e as { code?: string }).code ?? String(e);
      }
    };
    expect(code({})).toBe('ok');
    // Q (128 x 128) and 4 stages of K and V (128 x 128 each): 288 KiB of shared memory.
    expect(code({ sm90: { stages: 4 } })).toBe('E102');
    expect(code({ sm90: { stages: 2, qBuffers: 2 } })).toBe('ok');
    expect(code({ sm90: { stages: 3, qBuffers: 2 } })).toBe('E102');
    expect(emitWith({ sm90: { minBlocks: 2 } })).toThrow(/1 block per SM/);
    expect(code({ sm90: { minBlocks: 2 } })).toBe('E103');
    expect(code({ sm90: { kernel: 'blockwise', overlap: true, stages: 2 } })).toBe('E103');
    // Block-wise configs whose launch bounds leave fewer registers than the accumulators need:
    // the five that ptxas refused on the H200 (C7602; bench/results/tune-2026-12-01), and two that compiled.
    const blockwise = (wg: number, n: number, stages: number, mb: number, overlap = false) =>
      code({ sm90: { kernel: 'blockwise', warpgroups: wg, blockN: n, stages, minBlocks: mb, overlap, qBuffers: 1, wgSkip: false } });
    expect([blockwise(2, 64, 4, 3, true), blockwise(3, 64, 3, 2), blockwise(3, 64, 5, 4), blockwise(2, 64, 6, 4), blockwise(2, 96, 2, 4)]).toEqual(
      Array(5).fill('E103'),
    );
    expect([blockwise(2, 64, 2, 1), blockwise(2, 64, 4, 2)]).toEqual(['ok', 'ok']);
    expect(emitWith({ sm90: { kernel: 'blockwise', warpgroups: 2, blockN: 64, stages: 4, minBlocks: 3, overlap: true } })).toThrow(/leaves 80 registers/);
    expect(code({ sm90: { stage: 3 } })).toBe('E104');
    expect(code({ sm70: {} })).toBe('E104');
    expect(code({ sm90: { stages: 'three' } })).toBe('E105');
    expect(code({ sm90: { blockN: 100 } })).toBe('E105');
    expect(code([1, 2])).toBe('E105');
    // A config overrides the heuristic field by field, and the manifest records the result.
    const out = emitWith({ sm90: { stages: 2, qBuffers: 2 } })();
    const m = JSON.parse(out.find((f) => f.path.endsWith('.manifest.json'))!.contents) as { config: unknown };
    expect(m.config).toEqual(configFor(l, { sm90: { stages: 2, qBuffers: 2 } }));
    expect(m.config).toEqual({ ...defaultConfig(l), sm90: { ...defaultConfig(l).sm90, stages: 2, qBuffers: 2 } });
  });

  it('bwd90.rows: only head_dim 64 heuristics have the part; 128 rows only where ptxas fits them (BWD_SM90_PIPE.md)', () => {
    const byName = (n: string) => layouts.find((x) => x.name === n)!;
    const code = (name: string, raw: unknown) => {
      try {
        configFor(byName(name), raw);
        return 'ok';
      } catch (e) {
        return e instanceof TargetError ? e.code : String(e);
      }
    };
    expect(defaultConfig(byName('spattention_paper')).bwd90).toBeUndefined(); // D = 128: generated parts as before the part existed
    expect(defaultConfig(byName('strided')).bwd90).toEqual({ rows: 128, dq: 'atomic' }); // 128 rows where they fit
    expect(defaultConfig(byName('mixed_gqa')).bwd90).toEqual({ rows: 64, dq: 'atomic' }); // query-head groups keep 64
    expect(code('strided', { bwd90: { rows: 128 } })).toBe('ok');
    expect(code('spattention_local', { bwd90: { rows: 128 } })).toBe('ok');
    expect(code('mixed_gqa', { bwd90: { rows: 128 } })).toBe('E103'); // query-head groups: ptxas spills
    expect(code('band_mix', { bwd90: { rows: 128 } })).toBe('E103'); // three table slots
    expect(code('spattention_paper', { bwd90: { rows: 128 } })).toBe('E103'); // D = 128
    expect(code('spattention_paper', { bwd90: { rows: 64 } })).toBe('ok');
    expect(code('strided', { bwd90: { rows: 96 } })).toBe('E105');
    expect(code('strided', { bwd90: { row: 128 } })).toBe('E104');
    expect(code('strided', { bwd90: { dq: 'writer' } })).toBe('ok');
    expect(code('spattention_paper', { bwd90: { dq: 'writer' } })).toBe('ok'); // D = 128: the part with 64 rows
    expect(code('strided', { bwd90: { dq: 'bulk' } })).toBe('E105');
    const ws = layoutSource(byName('spattention_paper'), configFor(byName('spattention_paper'), { bwd90: { dq: 'writer' } }), 'x');
    expect(ws).toContain('static constexpr bool kDqWriter = true;');
    expect(ws).toContain('static constexpr int kBMq = 64;');
    const cu = layoutSource(byName('strided'), configFor(byName('strided'), { bwd90: { rows: 128 } }), 'x');
    expect(cu).toContain('static constexpr int kBMq = 128;');
    expect(cu).toContain('using Bwd90 = spc::BwdSm90<T, Layout, Bwd90Tiles>;');
  });

  it('the kernel headers compile on their own (a test config) for sm_90a and sm_80: no spills, no stack frame in the persistent kernel', async () => {
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
          'targets/cuda/kernels/check.cu',
          '-o',
          join(mkdtempSync(join(tmpdir(), 'spc-hdr-')), 'check.o'),
        ],
        { maxBuffer: 1 << 24 },
      );
      const report = stdout + stderr;
      expect(report).not.toMatch(/warning/i);
      const entries = [...report.matchAll(/entry function '(\w+)'[^]*?(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/g)];
      expect(entries.map((m) => m[1]).sort()).toEqual(['check_fwd_sm80', 'check_fwd_sm90', 'check_fwd_sm90_blockwise']);
      for (const m of entries) expect(Number(m[3]) + Number(m[4]), `${arch} ${m[1]} spills`).toBe(0);
      if (arch.endsWith('sm_90a')) expect(Number(entries.find((m) => m[1] === 'check_fwd_sm90')![2])).toBe(0);
    }
  }, 300_000);
});
