// Emits CUDA packages of the bench layouts for several tile configurations, named
// <pattern>_h<H>_kv<H>_d<D>_w<warps>m<mTiles>n<blockN>b<minBlocks>[s]_g<warpgroups>n<blockN>s<stages>b<minBlocks>[o|w][q2][k]
// (the mma.sync kernel's tiles, then the wgmma kernel's: o overlap, w warp-specialised, q2 two Q
// buffers, k warpgroup tile skip), for bench_cuda.py --suffixes. Fields: [warps, mTiles, blockN, minBlocks, skipRescale,
// warpgroups, blockN, stages, minBlocks, mode (1 overlap, 2 warp-specialised), Q buffers, skip (1)].
//   npx tsx bench/cuda/prepare_tune.ts out/cuda-tune '[[4,1,32,3,0,2,64,2,2],[4,1,32,3,0,2,64,3,1]]' 16x128,16x64
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCudaTarget, type CudaConfig } from '../../targets/cuda/index.js';
import { compileSource, writeAtomically } from '../../src/driver/pipeline.js';

const [dir = 'out/cuda-tune', cfgText = '[[4,1,64]]', shapes = '16x128'] = process.argv.slice(2);
const cfgs = (JSON.parse(cfgText) as number[][]).map(([warps, mTiles, blockN, minBlocks, skip, wg, bn, st, mb, ov, qb, sk]): CudaConfig => ({
  warps: warps!, mTiles: mTiles!, blockN: blockN!, minBlocks: minBlocks ?? 1, skipRescale: skip === 1,
  sm90: { warpgroups: wg ?? 2, blockN: bn ?? 64, stages: st ?? 2, minBlocks: mb ?? 2, overlap: ov === 1, ws: ov === 2, qBuffers: qb === 2 ? 2 : 1, wgSkip: sk === 1 },
}));
const PATTERNS = { paper: 'equal_width\n  pattern band', released: 'equal_width\n  pattern band | window(W + 1)', balanced: 'equal_pairs\n  pattern band' };
mkdirSync(dir, { recursive: true });
const names: { name: string; heads: number; kv_heads: number; head_dim: number; seq: null }[] = [];
for (const shape of shapes.split(',')) {
  const [H, D] = shape.split('x').map(Number);
  for (const [p, body] of Object.entries(PATTERNS))
    for (const c of cfgs) {
      const suffix = `w${c.warps}m${c.mTiles}n${c.blockN}b${c.minBlocks}${c.skipRescale ? 's' : ''}_g${c.sm90.warpgroups}n${c.sm90.blockN}s${c.sm90.stages}b${c.sm90.minBlocks}${c.sm90.ws ? 'w' : c.sm90.overlap ? 'o' : ''}${c.sm90.qBuffers === 2 ? 'q2' : ''}${c.sm90.wgSkip ? 'k' : ''}`;
      const name = `${p}_h${H}_kv${H}_d${D}_${suffix}`;
      const [l] = compileSource(`layout ${name} {\n  heads ${H}\n  head_dim ${D}\n  seq N\n  partition ${body}\n}\n`);
      writeAtomically(dir, makeCudaTarget((): CudaConfig => c).emit([l!], { version: 'tune' }));
      names.push({ name, heads: H!, kv_heads: H!, head_dim: D!, seq: null });
    }
}
writeFileSync(join(dir, 'layouts.json'), JSON.stringify(names));
writeFileSync(join(dir, 'oracle.json'), '[]');
console.log(`${names.length} packages in ${dir}`);
