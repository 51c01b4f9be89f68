// The WGSL config space for `spc tune --target wgsl`: every tiled configuration (tiled.ts: tile
// shapes x subgroup / workgroup reductions x split K/V and padding) that can be built for a layout
// at its head_dim, whatever the limits; the driver (src/driver/wgsl-tune.ts) drops those the
// adapter cannot run (the runtime's unfit()) once the device is open, prices them with the tuner's
// cost model (src/tuner/plan.ts) and times them on the device.
import type { LayoutIR } from '../../src/ir/index.js';
import { planLayout, type WgslPlan } from './plan.js';
import { fitTiledConfig, tiledConfigSpace, tiledName, type TiledConfig, type TiledPlan } from './tiled.js';

export interface WgslTuneCandidate {
  /** The variant's name, e.g. "sg-32x16-t4x8-pad". */
  id: string;
  /** The tiled configuration: the record's candidate config, what `spc compile --tuning` builds. */
  config: TiledConfig;
  plan: TiledPlan;
  /** The tile: query rows x keys. */
  bm: number;
  bn: number;
  /** Added by the caller (tests): kept whatever the adapter's limits, so that it fails visibly. */
  injected: boolean;
}

/** The configuration fields of a tiled plan (what a record stores). */
export const configOf = (t: TiledConfig): TiledConfig => ({
  blockM: t.blockM,
  blockN: t.blockN,
  rowsPerThread: t.rowsPerThread,
  threadsPerRow: t.threadsPerRow,
  splitKV: t.splitKV,
  padK: t.padK,
  reduce: t.reduce,
});

/**
 * The layout's buildable tiled configurations, in tiledCandidates' preference order (subgroup
 * reductions first), plus `inject` (configurations the caller adds; one that cannot be built at
 * this head_dim is refused here, with its reason); and the configurations refused, by reason.
 */
export function wgslTuneSpace(
  layout: LayoutIR,
  inject: readonly TiledConfig[] = [],
): { plan: WgslPlan; candidates: WgslTuneCandidate[]; rejected: Record<string, number> } {
  const plan = planLayout(layout);
  const { fits, rejected } = tiledConfigSpace(plan, null);
  const candidates: WgslTuneCandidate[] = fits.map((t) => ({ id: t.name, config: configOf(t), plan: t, bm: t.blockM, bn: t.blockN, injected: false }));
  for (const c of inject) {
    const t = fitTiledConfig(plan, c, null, {}, false);
    if (typeof t === 'string') throw new RangeError(`injected tiled configuration ${tiledName(c)} cannot be built for layout ${layout.name}: ${t}`);
    const old = candidates.find((x) => x.id === t.name);
    if (old) old.injected = true;
    else candidates.push({ id: t.name, config: configOf(t), plan: t, bm: t.blockM, bn: t.blockN, injected: true });
  }
  return { plan, candidates, rejected };
}

/** A record's candidate config as a tiled configuration, or why it is not one. */
export function asTiledConfig(x: unknown): TiledConfig | string {
  if (typeof x !== 'object' || x === null) return 'the config is not an object';
  const c = x as Record<string, unknown>;
  for (const k of ['blockM', 'blockN', 'rowsPerThread', 'threadsPerRow'])
    if (!Number.isSafeInteger(c[k]) || (c[k] as number) < 1 || (c[k] as number) > 1024) return `config.${k} must be an integer in 1..1024`;
  if (typeof c.splitKV !== 'boolean' || typeof c.padK !== 'boolean') return 'config.splitKV and config.padK must be true or false';
  if (c.reduce !== 'subgroup' && c.reduce !== 'workgroup') return 'config.reduce must be "subgroup" or "workgroup"';
  const t = c as unknown as TiledConfig;
  if (t.blockM % t.rowsPerThread !== 0 || t.blockN % t.threadsPerRow !== 0)
    return 'config.blockM must be a multiple of rowsPerThread and blockN of threadsPerRow';
  return configOf(t);
}
