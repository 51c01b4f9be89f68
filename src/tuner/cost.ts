// The cost model: predicted kernel time in abstract units from the IR's tile statistics, before
// anything runs on a device. It prices what a tiled forward kernel does for one head at one N:
// each work item (a head's query tile with at least one visited key tile) pays a fixed overhead
// (load Q, write O and the log-sum-exp), each visited key tile a cost by its class (a full tile
// needs no mask; a partial tile is masked element-wise). Times are in units of one full tile of
// the reference shape; a tile of another shape costs in proportion to its area.
//
// The constants are guesses until the measuring half of `spc tune` (on the GPU) fits them:
// `fitCostModel` does that by least squares from measured per-head times. Nothing here is
// measured; a prediction is a ranking aid, not a time.
import { headTileRows, type HeadInstance } from '../ir/index.js';

export interface CostModel {
  /** Cost of a full tile of the reference shape (the unit: 1). */
  fullTile: number;
  /** Cost of a partial (masked) tile of the reference shape: the mask and the wasted lanes. */
  partialTile: number;
  /** Cost of one work item beyond its tiles: Q load, epilogue, scheduling, in reference full tiles. */
  item: number;
  /** The reference tile area (rows x keys) that `fullTile` and `partialTile` price: 128 x 128. */
  refArea: number;
}

/**
 * Defaults (not measured): a partial tile costs 1.5 full tiles (the element-wise mask and the
 * softmax of masked lanes run on the CUDA cores beside the tensor cores); an item costs 2 full
 * tiles (a Q tile load and the O epilogue are each about one K/V tile's traffic).
 */
export const DEFAULT_COST_MODEL: Readonly<CostModel> = Object.freeze({ fullTile: 1, partialTile: 1.5, item: 2, refArea: 128 * 128 });

const COST_FIELDS = Object.keys(DEFAULT_COST_MODEL) as (keyof CostModel)[];

/** A cost model from JSON (any part of a CostModel) over `base`; a message for what is wrong, else the model. */
export function mergeCostModel(base: CostModel, raw: unknown): CostModel | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'a cost model is a JSON object such as {"partialTile": 1.3}';
  const out = { ...base };
  for (const [k, v] of Object.entries(raw)) {
    if (!(COST_FIELDS as string[]).includes(k)) return `unknown cost model field '${k}' (fields: ${COST_FIELDS.join(', ')})`;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (k === 'refArea' && v <= 0))
      return `cost model field '${k}' must be a finite number >= 0, got ${JSON.stringify(v)}`;
    out[k as keyof CostModel] = v;
  }
  return out;
}

/** What the model sees of one head: its work items and their tiles. */
export interface HeadWork {
  head: number;
  /** Per work item (query tile with any visited tile), in query-tile order: full and partial tiles. */
  items: { qt: number; full: number; partial: number }[];
  fullTiles: number;
  partialTiles: number;
}

export function headWork(head: HeadInstance, n: number, bm: number, bn: number): HeadWork {
  const { full, partial } = headTileRows(head, n, bm, bn);
  const items: HeadWork['items'] = [];
  let f = 0;
  let p = 0;
  for (let qt = 0; qt < full.length; qt++) {
    if (full[qt]! + partial[qt]! === 0) continue;
    items.push({ qt, full: full[qt]!, partial: partial[qt]! });
    f += full[qt]!;
    p += partial[qt]!;
  }
  return { head: head.head, items, fullTiles: f, partialTiles: p };
}

/** The predicted cost of one work item with `full` and `partial` tiles of shape bm x bn. */
export function itemCost(m: CostModel, bm: number, bn: number, full: number, partial: number): number {
  const scale = (bm * bn) / m.refArea;
  return m.item + scale * (m.fullTile * full + m.partialTile * partial);
}

/** A head's predicted work: the sum of its items' costs (its time when it runs alone on enough SMs for a large batch). */
export function headCost(m: CostModel, bm: number, bn: number, w: HeadWork): number {
  const scale = (bm * bn) / m.refArea;
  return m.item * w.items.length + scale * (m.fullTile * w.fullTiles + m.partialTile * w.partialTiles);
}

/**
 * Wave quantisation: `costs` (work items) dealt longest first, each to the least loaded of
 * `slots` blocks (what spc's host does for the persistent kernel: one block per SM); the
 * predicted time is the most loaded block's total. Ties go to the lowest block, so it is
 * deterministic. O(items x log slots).
 */
export function makespan(costs: readonly number[], slots: number): number {
  if (slots < 1 || !Number.isInteger(slots)) throw new RangeError(`slots must be a positive integer, got ${slots}`);
  const sorted = [...costs].sort((a, b) => b - a);
  if (sorted.length <= slots) return sorted[0] ?? 0;
  // A binary heap of [load, block] ordered by load then block.
  const heap: [number, number][] = Array.from({ length: slots }, (_, s) => [0, s]);
  const less = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  let worst = 0;
  for (const c of sorted) {
    heap[0]![0] += c;
    worst = Math.max(worst, heap[0]![0]);
    down(0);
  }
  return worst;
}

/** One measurement to fit the model to: a kernel's (or one head's) tile counts and its measured time. */
export interface CostSample {
  items: number;
  fullTiles: number;
  partialTiles: number;
  /** The tile shape it ran with. */
  bm: number;
  bn: number;
  /** Measured time, any unit (the fitted constants come out in that unit per reference tile). */
  time: number;
}

/**
 * Fits item, fullTile and partialTile by least squares (time = item x items + scale x (fullTile x
 * full + partialTile x partial)), then rescales so fullTile = 1 (the unit); refArea is kept. For
 * the GPU half of `spc tune`: it has samples, this has no device. Returns null when the samples
 * do not determine the three constants (fewer than three, or collinear).
 */
export function fitCostModel(samples: readonly CostSample[], refArea = DEFAULT_COST_MODEL.refArea): CostModel | null {
  if (samples.length < 3) return null;
  // Normal equations A^T A x = A^T y for columns [items, scale*full, scale*partial].
  const ata = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const aty = [0, 0, 0];
  for (const s of samples) {
    const scale = (s.bm * s.bn) / refArea;
    const row = [s.items, scale * s.fullTiles, scale * s.partialTiles];
    for (let i = 0; i < 3; i++) {
      aty[i]! += row[i]! * s.time;
      for (let j = 0; j < 3; j++) ata[i]![j]! += row[i]! * row[j]!;
    }
  }
  const x = solve3(ata, aty);
  if (!x || !(x[1]! > 0)) return null;
  return { item: x[0]! / x[1]!, fullTile: 1, partialTile: x[2]! / x[1]!, refArea };
}

/** Gaussian elimination with partial pivoting on a 3 x 3 system; null when singular. */
function solve3(a: number[][], b: number[]): number[] | null {
  const m = a.map((r, i) => [...r, b[i]!]);
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    const scaleOf = Math.max(...m.map((r) => Math.abs(r[c]!)), 1e-300);
    if (Math.abs(m[p]![c]!) <= 1e-12 * scaleOf) return null;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k < 4; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return [0, 1, 2].map((i) => m[i]![3]! / m[i]![i]!);
}

/** Spearman's rank correlation of two equally long lists (ties get their mean rank); null below 3 values. */
export function rankCorrelation(a: number[], b: number[]): number | null {
  if (a.length < 3) return null;
  const ranks = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length;) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  return pearson(ranks(a), ranks(b));
}

/** Pearson's correlation of two equally long lists; null when either is constant (or empty). */
export function pearson(a: readonly number[], b: readonly number[]): number | null {
  const mean = (v: readonly number[]) => v.reduce((x, y) => x + y, 0) / v.length;
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return da === 0 || db === 0 ? null : num / Math.sqrt(da * db);
}
