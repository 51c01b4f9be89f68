// Lists the tiled variants of an example layout at a head_dim (name, tile shape, workgroup memory, features, key tiles per pass).
// Run: npx tsx bench/wgsl/variants.ts [pattern] [heads] [D...]
import { planLayout, planTiledVariants } from '../../targets/wgsl/index.js';
import { exampleLayout } from './common.js';

const [pattern = 'spattention-paper', heads = '16', ...dims] = process.argv.slice(2);
for (const d of dims.length ? dims.map(Number) : [32, 64, 128]) {
  const plan = planLayout(exampleLayout(pattern, Number(heads), d));
  for (const t of planTiledVariants(plan))
    console.log(`D=${d} ${t.name}: WG ${t.invocations}, ${t.sharedBytes} B, tiles/pass ${t.tilesPerPass}, features [${t.features.join(', ')}]`);
}
