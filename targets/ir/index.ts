import type { Target } from '../../codegen/target.js';
import { instantiate, layoutStats, type LayoutIR } from '../../src/ir/index.js';

/** `--target ir`: the lowered IR as JSON, plus the instance and statistics when N is known. */
export const irTarget: Target = {
  name: 'ir',
  description: 'the lowered band IR as JSON',
  emit(layouts: LayoutIR[], options) {
    return layouts.map((layout) => {
      const n = layout.seq ?? options.seq;
      const doc: Record<string, unknown> = { spc: options.version, layout: stripLocs(layout) };
      if (n !== undefined) {
        const inst = instantiate(layout, n);
        doc.instance = { n, heads: inst.heads };
        doc.stats = layoutStats(inst, 64, 64);
      }
      return { path: `${layout.name}.ir.json`, contents: JSON.stringify(doc, null, 2) + '\n' };
    });
  },
};

function stripLocs<T>(x: T): T {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === 'loc' || k === 'locs' ? undefined : v))) as T;
}
