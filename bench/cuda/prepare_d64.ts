// Prepares the GPU check of the head_dim 64 sm_90 dK/dV kernel with 128 query rows per step
// (issue 15; targets/cuda/BWD_SM90_PIPE.md, "D = 64: 128 query rows per step"), for
// bench/cuda/d64-check.sh. The GPU machine has no Node, so the packages are made here:
//   npx tsx bench/cuda/prepare_d64.ts out/d64-check [ROWS]
// writes, under one directory to carry:
//   - the check layouts under their own names, with bwd90.rows = ROWS (default 128: the new kernel)
//     where it fits (config.ts bwd90WideFits; the GQA ones, balanced H16 KV4 and mixed_gqa, keep 64),
//     for check_cuda.py, profile_one.py and bench_cuda.py (suffix ""): balanced, paper, released
//     H16 KV16, balanced H16 KV4, released H8 KV8 (all D = 64, from test/cuda/prepare.ts's
//     variants) and the mixed_gqa example;
//   - balanced, paper, released H16 KV16 D64 with bwd90.rows = 64 (the kernel measured on
//     2026-12-01), named <name>_r64, for bench_cuda.py --suffixes ,r64 and ncu;
//   - layouts.json (every package, so that check_cuda.py --build-only builds them all in parallel)
//     and an empty oracle.json (the check runs the backward only).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bwd90WideFits } from '../../targets/cuda/config.js';
import { configFor, makeCudaTarget, single } from '../../targets/cuda/index.js';
import { compileSource, writeAtomically } from '../../src/driver/pipeline.js';

const [dir = 'out/d64-check', rowsText = '128'] = process.argv.slice(2);
const rows = Number(rowsText);
const PATTERNS = {
  paper: 'partition equal_width\n  pattern band',
  released: 'partition equal_width\n  pattern band | window(W + 1)',
  balanced: 'partition equal_pairs\n  pattern band',
};
const text = (p: keyof typeof PATTERNS, H: number, KV: number, suffix = '') =>
  `layout ${p}_h${H}_kv${KV}_d64${suffix} {\n  heads ${H}\n  kv_heads ${KV}\n  head_dim 64\n  seq N\n  ${PATTERNS[p]}\n}\n`;
const check = compileSource(
  [text('balanced', 16, 16), text('paper', 16, 16), text('released', 16, 16), text('balanced', 16, 4), text('released', 8, 8)].join('\n') +
    readFileSync('examples/mixed-gqa.spc', 'utf8'),
);
const old = compileSource((['balanced', 'paper', 'released'] as const).map((p) => text(p, 16, 16, '_r64')).join('\n'));
mkdirSync(dir, { recursive: true });
const names: { name: string; heads: number; kv_heads: number; head_dim: number; seq: number | null; config: unknown }[] = [];
for (const [layouts, r] of [
  [check, rows],
  [old, 64],
] as const)
  for (const l of layouts) {
    const cfg = configFor(l, { bwd90: { rows: bwd90WideFits(l) ? r : 64 } });
    writeAtomically(dir, makeCudaTarget(() => single(cfg)).emit([l], { version: 'd64-check' }));
    names.push({ name: l.name, heads: l.heads, kv_heads: l.kvHeads, head_dim: l.headDim, seq: l.seq, config: cfg });
  }
writeFileSync(join(dir, 'layouts.json'), JSON.stringify(names));
writeFileSync(join(dir, 'oracle.json'), '[]');
console.log(`${names.length} packages in ${dir}: ${names.map((x) => `${x.name} (rows ${(x.config as { bwd90: { rows: number } }).bwd90.rows})`).join(', ')}`);
