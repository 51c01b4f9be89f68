// Emits CUDA packages of the bench layouts for several kernel configs, named
// <pattern>_h<H>_kv<H>_d<D>_<name>, for bench_cuda.py --suffixes NAME,... Each config is a JSON
// object: a name (letters, digits) and any part of a kernel config (targets/cuda/config.ts) over
// the heuristic, the same object `spc compile --config` takes. A shape is HxD, or HxDxKV (KV heads).
//   npx tsx bench/cuda/prepare_tune.ts out/cuda-tune '[{"name":"s3"},{"name":"s4","sm90":{"stages":4}}]' 16x128,16x64
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFor, makeCudaTarget, single } from '../../targets/cuda/index.js';
import { compileSource, writeAtomically } from '../../src/driver/pipeline.js';

const [dir = 'out/cuda-tune', cfgText = '[{"name":"default"}]', shapes = '16x128'] = process.argv.slice(2);
const cfgs = JSON.parse(cfgText) as ({ name: string } & Record<string, unknown>)[];
const PATTERNS = { paper: 'equal_width\n  pattern band', released: 'equal_width\n  pattern band | window(W + 1)', balanced: 'equal_pairs\n  pattern band' };
mkdirSync(dir, { recursive: true });
const names: { name: string; heads: number; kv_heads: number; head_dim: number; seq: null; config: unknown }[] = [];
for (const shape of shapes.split(',')) {
  const [H, D, KV = H] = shape.split('x').map(Number); // HxD, or HxDxKV for query-head groups
  for (const [p, body] of Object.entries(PATTERNS))
    for (const { name: suffix, ...override } of cfgs) {
      if (!/^[a-z0-9]+$/i.test(suffix)) throw new Error(`config name '${suffix}': letters and digits only`);
      const name = `${p}_h${H}_kv${KV}_d${D}_${suffix}`;
      const [l] = compileSource(`layout ${name} {\n  heads ${H}\n  kv_heads ${KV}\n  head_dim ${D}\n  seq N\n  partition ${body}\n}\n`);
      const cfg = configFor(l!, override);
      writeAtomically(dir, makeCudaTarget(() => single(cfg)).emit([l!], { version: 'tune' }));
      names.push({ name, heads: H!, kv_heads: KV!, head_dim: D!, seq: null, config: cfg });
    }
}
writeFileSync(join(dir, 'layouts.json'), JSON.stringify(names));
writeFileSync(join(dir, 'oracle.json'), '[]');
console.log(`${names.length} packages in ${dir}`);
