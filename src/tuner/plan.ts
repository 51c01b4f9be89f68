// The plan of a tuning run: every candidate (a kernel config from the target's config space,
// times a choice of bands for `partition tuned`) with the cost model's prediction, the ones the
// model prunes before anything runs, and the choice. Without measurements (`spc tune
// --plan-only`, the only mode so far) the kernel config stays the target's heuristic: the model
// cannot rank stages, buffers or kernel families it does not see, and ranks tile shapes only by
// an area rule it has not been fitted to. It does choose the bands, by the objective, for the
// heuristic's tile shape.
import { MAX_STAT_TILES, partitionBounds, type LayoutIR } from '../ir/index.js';
import { BandPricer, DEFAULT_SMS, predict, tuneBands, type BandTuning, type Prediction } from './bands.js';
import { DEFAULT_COST_MODEL, type CostModel } from './cost.js';
import { specHash, type RecordCandidate, type RecordEntry } from './record.js';

/** One kernel config the target can run for this layout (the target enumerates them, checked against its limits). */
export interface ConfigCandidate {
  id: string;
  config: Record<string, unknown>;
  bm: number;
  bn: number;
  /** Whether this is the target's heuristic config for the layout. */
  isDefault: boolean;
}

export interface PlanOptions {
  target: string;
  shards?: number;
  sms?: number;
  cost?: CostModel;
  /** Candidates predicted slower than this times the best are pruned (default 1.15). */
  pruneFactor?: number;
  /** Configs that must be planned even where their tile shape is too small to price (then planning fails, E059): besides the heuristic's, those the target may pick unnamed or was told to time. */
  keep?: (c: ConfigCandidate) => boolean;
  /** Per-head factors on the model's cost (BandTuneOptions.headScale). */
  headScale?: readonly number[];
}

export interface Plan {
  entry: RecordEntry;
  /** The tuned bands for the heuristic's tile shape (what the choice uses), when the layout's partition is tuned. */
  bands: BandTuning | null;
  /** Configs the target refused for this layout, by reason (not listed as candidates). */
  rejected: Record<string, number>;
}

/** The plan for one layout at one N over the target's configs (the heuristic among them). */
export function planLayout(layout: LayoutIR, n: number, allConfigs: readonly ConfigCandidate[], rejectedIn: Record<string, number>, o: PlanOptions): Plan {
  // Tile shapes with more than MAX_STAT_TILES tiles per head at this N cannot be priced (the tile
  // statistics walk every tile): their configs are rejected here, with the count under that
  // reason, unless the heuristic's (or one o.keep keeps) is one of them (then nothing can be
  // planned: BandPricer says why).
  const rejected = { ...rejectedIn };
  const priceable = (c: ConfigCandidate) => c.isDefault || o.keep?.(c) === true || Math.ceil(n / c.bm) * Math.ceil(n / c.bn) <= MAX_STAT_TILES;
  const configs = allConfigs.filter(priceable);
  const tooMany = allConfigs.length - configs.length;
  if (tooMany > 0) {
    const why = `more than ${MAX_STAT_TILES} tiles per head at N = ${n} (too many to price)`;
    rejected[why] = (rejected[why] ?? 0) + tooMany;
  }
  const shards = o.shards ?? 1;
  const sms = o.sms ?? DEFAULT_SMS;
  const cost = o.cost ?? DEFAULT_COST_MODEL;
  const prune = o.pruneFactor ?? 1.15;
  const def = configs.find((c) => c.isDefault);
  if (!def) throw new Error('internal: the target gave no heuristic config among the candidates');
  const p = layout.partition;
  const tuned = p?.kind === 'tuned' ? p : null;
  // Predictions per tile shape: the base (or the layout's own) bands, and tuned bands.
  const byShape = new Map<string, { base: Prediction; tuned: BandTuning | null }>();
  const own = tuned ? null : partitionBounds(layout, n);
  // Without a partition the patterns use no S or W: any H+1 bounds price the heads the same.
  const placeholder = Array.from({ length: layout.heads + 1 }, (_, k) => (k === 0 ? 0 : n));
  for (const c of configs) {
    const key = `${c.bm}x${c.bn}`;
    if (byShape.has(key)) continue;
    if (tuned) {
      const t = tuneBands(layout, n, {
        base: tuned.base,
        tol: tuned.tol,
        bm: c.bm,
        bn: c.bn,
        shards,
        sms,
        cost,
        ...(o.headScale ? { headScale: o.headScale } : {}),
      });
      byShape.set(key, { base: t.before, tuned: t });
    } else {
      const b = own ?? placeholder;
      byShape.set(key, { base: predict(new BandPricer(layout, n, c.bm, c.bn, cost, o.headScale ?? null), b, b, shards, sms), tuned: null });
    }
  }
  // The kernel time: the items over the SMs (of the slowest shard); the model does not see how
  // resident blocks per SM, stages or buffers hide latency, so configs of one tile shape tie.
  const kernelOf = (pr: Prediction) => (shards > 1 ? pr.shards!.kernel : pr.kernel);
  const objectiveOf = (pr: Prediction) => (shards > 1 ? pr.shards!.max : pr.maxHead);
  const candidates: RecordCandidate[] = [];
  for (const c of configs) {
    const s = byShape.get(`${c.bm}x${c.bn}`)!;
    const variants: [RecordCandidate['bands'], Prediction][] = tuned
      ? [
          ['base', s.base],
          ['tuned', s.tuned!.after],
        ]
      : [['none', s.base]];
    for (const [bands, pr] of variants) {
      const kernel = kernelOf(pr);
      candidates.push({
        id: `${c.id} / bands ${bands}`,
        config: c.config,
        tile: [c.bm, c.bn],
        bands,
        bounds: bands === 'none' ? own : pr.bounds,
        predicted: kernel,
        predicted_objective: objectiveOf(pr),
        measured_ms: null,
        failed: null,
        pruned: null,
      });
    }
  }
  const best = Math.min(...candidates.map((c) => c.predicted));
  for (const c of candidates)
    if (c.predicted > prune * best) c.pruned = `predicted ${c.predicted.toFixed(1)}, more than ${prune}x the best prediction (${best.toFixed(1)})`;
  // The choice: the heuristic's config (the model does not rank configs well enough to replace it
  // unmeasured) with the bands of lowest objective for its tile shape; never pruned.
  const choice = candidates.findIndex((c) => c.config === def.config && c.bands === (tuned ? 'tuned' : 'none'));
  candidates[choice]!.pruned = null;
  const bandsChosen = tuned ? byShape.get(`${def.bm}x${def.bn}`)!.tuned : null;
  return {
    entry: {
      layout: layout.name,
      spec_hash: specHash(layout),
      n,
      dtype: layout.dtype,
      target: o.target,
      shards,
      objective: shards > 1 ? 'slowest shard' : 'slowest head',
      measured: false,
      candidates,
      choice,
      bands: tuned ? [...bandsChosen!.after.bounds] : null,
    },
    bands: bandsChosen,
    rejected,
  };
}
