// `partition tuned` in the driver: where tuned bands come from (a tuning record, the cost model
// for `spc check` and `spc show`, or the base partition when the user asks with --untuned), the
// report of how far they moved and what the model predicts, and `spc tune --plan-only`.
import { readFileSync, statSync } from 'node:fs';
import { diag, SpecError, type Diagnostic } from '../../dsl/index.js';
import type { TunedChoice } from '../../codegen/target.js';
import type { LayoutIR, Partition, TunedBands } from '../ir/index.js';
import { BandPricer, baseBounds, DEFAULT_SMS, predict, tuneBands, TunerError, type BandTuning, type Prediction } from '../tuner/bands.js';
import { DEFAULT_COST_MODEL, fitCostModel, headCost, pearson, rankCorrelation, type CostModel } from '../tuner/cost.js';
import { planLayout, type Plan } from '../tuner/plan.js';
import { bandsFor, isObj, RECORD_FORMAT, RECORD_VERSION, specHash, validateRecord, type RecordEntry, type TuningRecord } from '../tuner/record.js';
import { lengthFor } from './pipeline.js';
import { UsageError } from './usage.js';

/** The CUDA target's tuning space, loaded on first use: `spc check` of an untuned spec loads no target (test/startup.test.ts). */
const cudaTune = () => import('../../targets/cuda/tune.js');

export type TunedPartition = Extract<Partition, { kind: 'tuned' }>;
export const tunedOf = (l: LayoutIR): TunedPartition | null => (l.partition?.kind === 'tuned' ? l.partition : null);

/** The largest tuning record spc reads (a plan of many configs at several N is a few MiB). */
export const MAX_RECORD_BYTES = 64 << 20;

/** Reads and validates a tuning record; every problem is E083. */
export function readRecord(file: string): TuningRecord {
  const bad = (why: string) => new SpecError([diag('E083', undefined, file, why)]);
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw bad('it is not a regular file');
    if (st.size > MAX_RECORD_BYTES) throw bad(`it is larger than ${MAX_RECORD_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof SpecError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? e));
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(`it is not JSON (${(e as Error).message})`);
  }
  const v = validateRecord(raw);
  if ('problems' in v) throw bad(v.problems.slice(0, 5).join('; ') + (v.problems.length > 5 ? `; and ${v.problems.length - 5} more` : ''));
  return v.record;
}

export const withBands = (l: LayoutIR, p: TunedPartition, bands: TunedBands[], useBase = false): LayoutIR => ({ ...l, partition: { ...p, bands, useBase } });

/**
 * For `spc compile`: each tuned layout gets the record's bands (E084 when the record does not fit
 * it or lacks the N asked for), or its base partition at every N with --untuned; with neither it
 * is E082. Never the base partition silently.
 */
export function tunedForCompile(
  layouts: LayoutIR[],
  o: { record?: TuningRecord; recordFile?: string; untuned: boolean; seq?: number },
  note: (s: string) => void,
): LayoutIR[] {
  const problems = [];
  const out: LayoutIR[] = [];
  for (const l of layouts) {
    const p = tunedOf(l);
    if (!p) {
      out.push(l);
      continue;
    }
    if (o.untuned) {
      note(`layout ${l.name}: partition tuned compiled with --untuned: the base partition ${p.base} at every N (no tuning applied)\n`);
      out.push(withBands(l, p, [], true));
      continue;
    }
    if (!o.record) {
      problems.push(diag('E082', l.locs?.partition, l.name));
      continue;
    }
    const b = bandsFor(o.record, l);
    const n = l.seq ?? o.seq;
    if (b === null) problems.push(diag('E084', l.locs?.partition, o.recordFile!, l.name, 'it has no entry for this layout'));
    else if (typeof b === 'string') problems.push(diag('E084', l.locs?.partition, o.recordFile!, l.name, b));
    else if (n !== undefined && !b.some((x) => x.n === n))
      problems.push(diag('E084', l.locs?.partition, o.recordFile!, l.name, `it has no bands for N = ${n} (it has N = ${b.map((x) => x.n).join(', ')})`));
    else {
      note(
        `layout ${l.name}: tuned bands from ${o.recordFile} for N = ${b.map((x) => x.n).join(', ')}${o.record.entries.some((e) => e.layout === l.name && !e.measured) ? ' (chosen by the cost model, not measured)' : ''}\n`,
      );
      out.push(withBands(l, p, b));
    }
  }
  if (problems.length) throw new SpecError(problems);
  return out;
}

/**
 * The kernel configs a tuning record chose by measured time, per layout, for `spc compile --tuning`
 * to a target: per measured entry of the layout for that target, the record's GPU, the entry's N
 * and the chosen candidate's config. Entries the cost model alone chose give none (their choice is
 * the heuristic's config); `note` says what was taken. A record whose entries for a layout were made
 * for another spec (a different spec hash), or that names no GPU, does not fit: E084, as for the
 * WGSL target (wgslTunings), so that a stale record is never compiled in without a word or dropped
 * with only a note. The CUDA target compiles each distinct config in and picks one per GPU and N at
 * run time.
 */
export function recordConfigs(
  record: TuningRecord,
  recordFile: string,
  layouts: readonly LayoutIR[],
  target: string,
  note: (s: string) => void,
): Record<string, TunedChoice[]> {
  const out: Record<string, TunedChoice[]> = {};
  const problems: Diagnostic[] = [];
  const device = record.device.name;
  for (const l of layouts) {
    const mine = record.entries.filter((e) => e.layout === l.name && e.target === target);
    const bad = (why: string) => problems.push(diag('E084', l.locs?.partition, recordFile, l.name, why));
    if (mine.some((e) => e.spec_hash !== specHash(l))) {
      bad(`its ${target} entries were made for a different spec: tune again`);
      continue;
    }
    const measured = mine.filter((e) => e.measured);
    if (!measured.length) {
      // Said, not silent: the user named the record and it gives this layout nothing.
      const all = record.entries.filter((e) => e.layout === l.name);
      const why = !all.length
        ? 'no entry for this layout'
        : !mine.length
          ? `entries for target ${[...new Set(all.map((e) => e.target))].join(', ')} only`
          : 'no measured entry for this target (configs chosen by the cost model alone are the heuristic)';
      note(`layout ${l.name}: ${recordFile} has ${why}: its kernel configs are the heuristic's\n`);
      continue;
    }
    if (device === null) {
      bad(`its ${target} entries name no GPU (device.name; not written by spc tune)`);
      continue;
    }
    out[l.name] = measured.map((e) => ({ device, n: e.n, id: e.candidates[e.choice]!.id, config: e.candidates[e.choice]!.config })).sort((a, b) => a.n - b.n);
    note(
      `layout ${l.name}: kernel configs from ${recordFile}, chosen by measured time on ${device} (picked at run time by GPU and N): ${out[l.name]!.map((c) => `N = ${c.n}: ${c.id}`).join('; ')}\n`,
    );
  }
  if (problems.length) throw new SpecError(problems);
  return out;
}

/** The tile shape tuned bands are tuned for: the CUDA heuristic's sm90 forward tile, or 128 x 128 where CUDA cannot compile the layout. */
export async function tuningTile(l: LayoutIR): Promise<[number, number]> {
  const { defaultTile } = await cudaTune();
  try {
    return defaultTile(l);
  } catch {
    return [128, 128]; // the CUDA sm90 default tile, for layouts CUDA cannot compile (head_dim, fp32)
  }
}

export interface TunedView {
  layout: LayoutIR;
  /** What the check and show commands print about the bands; null for layouts without tuned partitions. */
  report: { source: 'cost model' | 'record'; record?: string; tuning: BandTuning } | null;
}

/**
 * For `spc check` and `spc show`: a tuned layout at length n with bands from the record (when
 * given) or chosen by the cost model now, and the predictions before and after.
 */
export async function tunedForInspect(
  l: LayoutIR,
  seq: number | undefined,
  fallback: number,
  o: { record?: TuningRecord; recordFile?: string; shards?: number; cost?: CostModel },
): Promise<TunedView> {
  const p = tunedOf(l);
  if (!p) return { layout: l, report: null };
  const n = lengthFor(l, seq, fallback);
  const tile = o.record ? ([0, 0] as [number, number]) : await tuningTile(l);
  const shards = o.shards ?? 1;
  const tune = (): BandTuning => {
    try {
      return tuneBands(l, n, { base: p.base, tol: p.tol, bm: tile[0], bn: tile[1], shards, ...(o.cost ? { cost: o.cost } : {}) });
    } catch (e) {
      if (e instanceof TunerError) throw new SpecError([diag('E059', l.locs?.partition, n, e.message)]);
      throw e;
    }
  };
  if (o.record) {
    const b = bandsFor(o.record, l);
    if (b === null || typeof b === 'string')
      throw new SpecError([diag('E084', l.locs?.partition, o.recordFile!, l.name, b ?? 'it has no entry for this layout')]);
    const at = b.find((x) => x.n === n);
    if (!at)
      throw new SpecError([
        diag('E084', l.locs?.partition, o.recordFile!, l.name, `it has no bands for N = ${n} (it has N = ${b.map((x) => x.n).join(', ')})`),
      ]);
    const entry = o.record.entries.find((e) => e.layout === l.name && e.n === n)!;
    const chosenTile = entry.candidates[entry.choice]!.tile;
    const cost = o.cost ?? DEFAULT_COST_MODEL;
    const pricer = new BandPricer(l, n, chosenTile[0], chosenTile[1], cost);
    const base = baseBounds(p.base, n, l.heads);
    const tuning: BandTuning = {
      n,
      heads: l.heads,
      base: p.base,
      tol: p.tol,
      tile: chosenTile,
      shards,
      sms: o.record.device.sm_count,
      objective: shards > 1 ? 'slowest shard' : 'slowest head',
      cost,
      before: predict(pricer, base, base, shards, o.record.device.sm_count),
      after: predict(pricer, at.bounds, base, shards, o.record.device.sm_count),
    };
    return { layout: withBands(l, p, [{ n, bounds: at.bounds }]), report: { source: 'record', record: o.recordFile!, tuning } };
  }
  const tuning = tune();
  return { layout: withBands(l, p, [{ n, bounds: tuning.after.bounds }]), report: { source: 'cost model', tuning } };
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'inf');

/** The text report of tuned bands: per head, the band, share and cost before and after; then the balance. */
export function tunedText(v: NonNullable<TunedView['report']>): string[] {
  const t = v.tuning;
  const head = `tuned bands (${v.source === 'record' ? `from ${v.record}` : 'chosen now by the cost model: predicted, not measured; compile needs --tuning RECORD'}): ${t.tile[0]}x${t.tile[1]} tiles, objective ${t.objective}${t.shards > 1 ? ` of ${t.shards}` : ''}, each head's pair share within ${t.tol} of ${t.base}`;
  const header = ['head', `${t.base} band`, 'tuned band', 'share', 'moved', 'tiles full/partial', 'predicted cost'];
  const rows = t.after.heads.map((h, k) => {
    const b = t.before.heads[k]!;
    return [
      String(h.head),
      `[${b.band[0]},${b.band[1]})`,
      `[${h.band[0]},${h.band[1]})`,
      `${(100 * b.share).toFixed(2)}% -> ${(100 * h.share).toFixed(2)}%`,
      Number.isFinite(h.shareMove) ? pct(h.shareMove) : 'new',
      `${b.fullTiles}/${b.partialTiles} -> ${h.fullTiles}/${h.partialTiles}`,
      `${b.cost.toFixed(1)} -> ${h.cost.toFixed(1)}`,
    ];
  });
  const w = header.map((x, c) => Math.max(x.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((x, c) => x.padStart(w[c]!))
      .join('  ')
      .trimEnd();
  const line = (label: string, f: (p: Prediction) => string) => `${label} ${f(t.before)} -> ${f(t.after)}`;
  return [
    head,
    fmt(header),
    ...rows.map(fmt),
    [
      line('predicted balance max/mean', (p) => f2(p.balance)),
      line('slowest head', (p) => p.maxHead.toFixed(1)),
      ...(t.shards > 1 ? [line(`slowest of ${t.shards} shards`, (p) => p.shards!.max.toFixed(1)), line('shard balance', (p) => f2(p.shards!.balance))] : []),
      line('tiles max/min', (p) => f2(p.tileSpread)),
      line('total', (p) => p.total.toFixed(1)),
      line(`kernel (${t.sms} SMs)`, (p) => (t.shards > 1 ? p.shards!.kernel : p.kernel).toFixed(1)),
    ].join('; '),
    `(cost model units: a full ${Math.sqrt(t.cost.refArea)}x${Math.sqrt(t.cost.refArea)} tile = ${t.cost.fullTile}, partial ${t.cost.partialTile}, per work item ${t.cost.item}; not measured)`,
  ];
}

const predictionJson = (p: Prediction) => ({
  bounds: p.bounds,
  balance: p.balance,
  max_head: p.maxHead,
  mean_head: p.meanHead,
  tile_spread: p.tileSpread,
  total: p.total,
  kernel: p.kernel,
  ...(p.shards ? { shards: { work: p.shards.work, max: p.shards.max, balance: p.shards.balance, kernel: p.shards.kernel } } : {}),
});

export function tunedJson(v: NonNullable<TunedView['report']>) {
  const t = v.tuning;
  return {
    source: v.source,
    ...(v.record ? { record: v.record } : {}),
    measured: false,
    base: t.base,
    tol: t.tol,
    tile: t.tile,
    objective: t.objective,
    shards: t.shards,
    sms: t.sms,
    cost_model: t.cost,
    heads: t.after.heads.map((h, k) => {
      const b = t.before.heads[k]!;
      return {
        head: h.head,
        base_band: b.band,
        band: h.band,
        base_share: b.share,
        share: h.share,
        share_move: Number.isFinite(h.shareMove) ? h.shareMove : null,
        base_tiles: { full: b.fullTiles, partial: b.partialTiles, items: b.items },
        tiles: { full: h.fullTiles, partial: h.partialTiles, items: h.items },
        base_cost: b.cost,
        cost: h.cost,
      };
    }),
    before: predictionJson(t.before),
    after: predictionJson(t.after),
  };
}

export interface TuneOptions {
  seqs: number[];
  shards?: number;
  sms: number;
  cost: CostModel;
  /** Per-head factors on the cost (--head-scale; every layout must have that many heads). */
  headScale?: readonly number[];
  version: string;
}

/** `spc tune --plan-only`: the plan and a record (unmeasured) for every layout and N. */
export async function tunePlans(layouts: LayoutIR[], o: TuneOptions): Promise<{ plans: { layout: LayoutIR; plan: Plan }[]; record: TuningRecord }> {
  const { cudaTuneSpace } = await cudaTune();
  const plans: { layout: LayoutIR; plan: Plan }[] = [];
  for (const l of layouts) {
    const { candidates, rejected } = cudaTuneSpace(l);
    if (o.headScale && o.headScale.length !== l.heads)
      throw new UsageError(`--head-scale has ${o.headScale.length} factors; layout ${l.name} has ${l.heads} heads (use --layout to tune one layout)`);
    const ns = l.seq !== null ? [l.seq] : o.seqs;
    for (const n of ns) {
      try {
        plans.push({
          layout: l,
          plan: planLayout(l, n, candidates, rejected, {
            target: 'cuda',
            sms: o.sms,
            cost: o.cost,
            ...(o.shards ? { shards: o.shards } : {}),
            ...(o.headScale ? { headScale: o.headScale } : {}),
          }),
        });
      } catch (e) {
        if (e instanceof TunerError) throw new SpecError([diag('E059', l.locs?.partition, n, e.message)]);
        throw e;
      }
    }
  }
  const record: TuningRecord = {
    format: RECORD_FORMAT,
    version: RECORD_VERSION,
    spc: o.version,
    created: new Date().toISOString(),
    device: { name: null, sm_count: o.sms, driver: null, cuda: null, pytorch: null },
    cost_model: { ...o.cost },
    entries: plans.map((p) => p.plan.entry),
  };
  return { plans, record };
}

/** The text summary of one plan. */
export function planText(layout: LayoutIR, plan: Plan): string[] {
  const e = plan.entry;
  const kept = e.candidates.filter((c) => c.pruned === null);
  const rejected = Object.values(plan.rejected).reduce((a, b) => a + b, 0);
  const chosen = e.candidates[e.choice]!;
  const out = [
    `layout ${layout.name} at N = ${e.n}: plan only (nothing was run or measured; predictions are the cost model's, in abstract units)`,
    `  ${e.candidates.length} candidates (${new Set(e.candidates.map((c) => JSON.stringify(c.config))).size} sm90 configs the kernels accept${tunedOf(layout) ? ' x base or tuned bands' : ''}; ${rejected} combinations refused (by checkConfig, or too small to price at this N))`,
    `  ${e.candidates.length - kept.length} pruned by the cost model, ${kept.length} left to measure on the GPU (--emit DIR, then bench/cuda/tune_measure.py)`,
    `  choice (cost model, not time): ${chosen.id}: the heuristic's kernel config${tunedOf(layout) ? ' with tuned bands' : ''}; predicted ${chosen.predicted.toFixed(1)}`,
  ];
  const top = [...kept].sort((a, b) => a.predicted - b.predicted || a.predicted_objective - b.predicted_objective || (a.id < b.id ? -1 : 1)).slice(0, 5);
  out.push('  best predictions (configs of one tile shape tie: the model does not see stages, buffers or kernel families):');
  for (const c of top)
    out.push(
      `    ${c.predicted.toFixed(1).padStart(9)}  slowest ${e.objective === 'slowest shard' ? 'shard' : 'head'} ${c.predicted_objective.toFixed(1).padStart(8)}  ${c.tile[0]}x${c.tile[1]}  ${c.id}`,
    );
  if (plan.bands) out.push(...tunedText({ source: 'cost model', tuning: plan.bands }).map((s) => `  ${s}`));
  return out;
}

/**
 * The spec text with each tuned layout's partition replaced by `explicit(...)` of its chosen
 * bands at the one N given, and a comment line above saying so.
 */
export function specWithBands(source: string, plans: { layout: LayoutIR; plan: Plan }[]): string {
  const edits = plans
    .filter((p) => tunedOf(p.layout) && p.plan.entry.bands && p.layout.locs?.partition)
    .map((p) => ({ loc: p.layout.locs!.partition!, bands: p.plan.entry.bands!, n: p.plan.entry.n, tile: p.plan.entry.candidates[p.plan.entry.choice]!.tile }))
    .sort((a, b) => b.loc.offset - a.loc.offset);
  let s = source;
  for (const e of edits) {
    const lineStart = s.lastIndexOf('\n', e.loc.offset - 1) + 1;
    const indent = /^[ \t]*/.exec(s.slice(lineStart))![0];
    s = s.slice(0, e.loc.offset) + `explicit(${e.bands.join(', ')})` + s.slice(e.loc.offset + e.loc.length);
    s =
      s.slice(0, lineStart) +
      `${indent}# spc tune --plan-only: tuned bands for N = ${e.n} and ${e.tile[0]}x${e.tile[1]} tiles, chosen by the cost model (not measured)\n` +
      s.slice(lineStart);
  }
  return s;
}

// ---- The measuring half: `spc tune --plan-only --emit DIR` writes one CUDA package per candidate
// the cost model kept; bench/cuda/tune_measure.py times them on the GPU machine (which has no
// Node) and writes a measurements file; `spc tune --measured FILE --plan RECORD` folds the times
// into the record and chooses by time.

export const MEASUREMENTS_FORMAT = 'spc-tuning-measurements';

/** One candidate package of a plan: which entry and candidate of the record it times. */
export interface CandidatePackage {
  package: string;
  entry: number;
  candidate: number;
  layout: string;
  n: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
  dtype: string;
  id: string;
}

/**
 * Which candidates of an entry to emit, in order: all that the cost model kept, by predicted time,
 * the plan's choice first; or, with `max`, at most `max`: the choice, its twin with the other bands
 * (the same config, base against tuned: what the tuned bands alone change; emitted even when the
 * model pruned it, since it is the comparison that shows whether the pruning is safe), then the
 * rest of the kept ones spread evenly over the predicted order (so the measured times span the
 * model's range, for the rank correlation).
 */
export function candidateOrder(e: RecordEntry, max?: number): number[] {
  const kept = e.candidates
    .map((c, k) => k)
    .filter((k) => e.candidates[k]!.pruned === null)
    .sort((a, b) => (a === e.choice ? -1 : b === e.choice ? 1 : e.candidates[a]!.predicted - e.candidates[b]!.predicted || a - b));
  if (max === undefined || kept.length <= max) return kept;
  const chosen = e.candidates[e.choice]!;
  const twin = e.candidates.findIndex(
    (c, k) => k !== e.choice && c.bands !== chosen.bands && c.bands !== 'none' && JSON.stringify(c.config) === JSON.stringify(chosen.config),
  );
  const head = [e.choice, ...(twin >= 0 && max >= 2 ? [twin] : [])].slice(0, max);
  const rest = kept.filter((k) => !head.includes(k));
  const m = max - head.length;
  const spread = m <= 0 ? [] : m === 1 ? [rest[0]!] : Array.from({ length: m }, (_, i) => rest[Math.round((i * (rest.length - 1)) / (m - 1))]!);
  return [...head, ...spread];
}

/** The packages (files) of the candidates the cost model kept (at most `max` an entry: candidateOrder), and their list (tune_candidates.json). */
export async function candidatePackages(
  plans: { layout: LayoutIR; plan: Plan }[],
  version: string,
  max?: number,
): Promise<{ files: { path: string; contents: string }[]; list: CandidatePackage[] }> {
  const { emitCandidate } = await cudaTune();
  const files: { path: string; contents: string }[] = [];
  const list: CandidatePackage[] = [];
  plans.forEach(({ layout, plan }, entry) => {
    const e = plan.entry;
    // The plan's choice (the heuristic config) first: tune_measure.py --max K times the first K.
    candidateOrder(e, max).forEach((k) => {
      const c = e.candidates[k]!;
      const name = `${layout.name}_n${e.n}_c${k}`;
      const p = tunedOf(layout);
      const named: LayoutIR = { ...layout, name };
      const l = p && c.bounds ? withBands(named, p, [{ n: e.n, bounds: [...c.bounds] }]) : named;
      files.push(...emitCandidate(l, c.config, version));
      list.push({
        package: name,
        entry,
        candidate: k,
        layout: layout.name,
        n: e.n,
        heads: layout.heads,
        kv_heads: layout.kvHeads,
        head_dim: layout.headDim,
        dtype: e.dtype,
        id: c.id,
      });
    });
  });
  return { files, list };
}

export interface Measurements {
  format: typeof MEASUREMENTS_FORMAT;
  device: { name: string; sm_count: number; driver: string | null; cuda: string | null; pytorch: string | null };
  results: {
    package: string;
    entry: number;
    candidate: number;
    layout: string;
    n: number;
    measured_ms: number | null;
    failed: string | null;
    /** tune_measure.py --per-head: each head alone, in head order. */
    per_head_ms?: number[] | null;
  }[];
}

/** Reads a measurements file from tune_measure.py; every problem is a UsageError naming it. */
export function readMeasurements(file: string): Measurements {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--measured ${file}: cannot read it as JSON (${(e as Error).message})`);
  }
  const bad = (why: string) => new UsageError(`--measured ${file}: not a measurements file of bench/cuda/tune_measure.py: ${why}`);
  if (!isObj(raw) || raw.format !== MEASUREMENTS_FORMAT) throw bad(`"format" must be "${MEASUREMENTS_FORMAT}"`);
  const d = raw.device;
  if (!isObj(d) || typeof d.name !== 'string' || !Number.isInteger(d.sm_count)) throw bad('"device" needs a name and an integer sm_count');
  if (!Array.isArray(raw.results)) throw bad('"results" must be a list');
  raw.results.forEach((r: unknown, x) => {
    if (
      !isObj(r) ||
      typeof r.package !== 'string' ||
      !Number.isInteger(r.entry) ||
      !Number.isInteger(r.candidate) ||
      typeof r.layout !== 'string' ||
      !Number.isInteger(r.n) ||
      !((typeof r.measured_ms === 'number' && r.measured_ms > 0 && r.failed === null) || (r.measured_ms === null && typeof r.failed === 'string'))
    )
      throw bad(`results[${x}] needs package, entry, candidate, layout, n, and a positive measured_ms or a failed reason`);
    const ph = r.per_head_ms;
    if (ph !== undefined && ph !== null && !(Array.isArray(ph) && ph.length > 0 && ph.every((t) => typeof t === 'number' && Number.isFinite(t) && t > 0)))
      throw bad(`results[${x}].per_head_ms must be a list of positive times (one per head) or null`);
  });
  return raw as unknown as Measurements;
}

/** Max / mean of measured per-head times, and with T > 1 shards of H/T consecutive heads, of the shards' sums. */
export interface Balance {
  heads: number;
  shards: number | null;
}

export function measuredBalance(perHead: readonly number[], shards: number): Balance {
  const ratio = (xs: readonly number[]) => Math.max(...xs) / (xs.reduce((a, b) => a + b, 0) / xs.length);
  let sh: number | null = null;
  if (shards > 1 && perHead.length % shards === 0) {
    const per = perHead.length / shards;
    sh = ratio(Array.from({ length: shards }, (_, s) => perHead.slice(s * per, (s + 1) * per).reduce((a, b) => a + b, 0)));
  }
  return { heads: ratio(perHead), shards: sh };
}

/** The cost model fitted to one candidate's per-head times, and how well each model predicts them. */
export interface CostFit {
  /** The fitted constants, for `spc tune --cost` (fullTile = 1 is the unit, refArea kept). */
  model: CostModel;
  /** Pearson correlation of predicted and measured per-head times: the plan's model and the fitted one. */
  correlation: { plan: number | null; fitted: number | null };
  /** Per-head max/mean: measured, and as each model predicts it for these bands. */
  balance: { measured: number; plan: number; fitted: number };
  /** False when a fitted constant came out negative: the times do not follow this model (noise or another cost), do not use it. */
  physical: boolean;
  /**
   * Per-head factors, measured over predicted (by the fitted model when physical, else the plan's),
   * scaled to a mean of 1: what the model misses per head, for `spc tune --plan-only --head-scale`
   * (with the fitted --cost) so that the next band search prices each head as it measured.
   */
  headScale: number[];
}

/**
 * Fits the cost model (fitCostModel: item and partialTile per full tile) to a candidate's per-head
 * times, each head alone at batch B x H, which is what headCost predicts: a head's work when it has
 * the GPU to itself. Only for a partition whose bands the candidate names (its bounds), with the
 * candidate's tile. Null when there are no per-head times or they do not determine the constants.
 */
export function fitPerHead(l: LayoutIR, n: number, c: RecordEntry['candidates'][number], plan: CostModel): CostFit | null {
  const ph = c.measured_head_ms;
  if (!ph || !c.bounds || !c.tile || ph.length !== l.heads) return null;
  const [bm, bn] = c.tile;
  const pricer = new BandPricer(l, n, bm, bn);
  const works = ph.map((_, h) => pricer.work(h, c.bounds![h]!, c.bounds![h + 1]!));
  const model = fitCostModel(
    works.map((w, h) => ({ items: w.items.length, fullTiles: w.fullTiles, partialTiles: w.partialTiles, bm, bn, time: ph[h]! })),
    plan.refArea,
  );
  if (!model) return null;
  const ratio = (xs: readonly number[]) => Math.max(...xs) / (xs.reduce((a, b) => a + b, 0) / xs.length);
  const predPlan = works.map((w) => headCost(plan, bm, bn, w));
  const predFit = works.map((w) => headCost(model, bm, bn, w));
  const physical = model.item >= 0 && model.partialTile >= 0;
  const pred = physical ? predFit : predPlan;
  const raw = ph.map((t, h) => (pred[h]! > 0 ? t / pred[h]! : 1));
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return {
    model,
    correlation: { plan: pearson(predPlan, ph), fitted: pearson(predFit, ph) },
    balance: { measured: ratio(ph), plan: ratio(predPlan), fitted: ratio(predFit) },
    physical,
    headScale: raw.map((x) => (mean > 0 ? x / mean : 1)),
  };
}

/**
 * The plan record with the measured times folded in: each entry with a measured candidate chooses
 * the fastest (a failed one counts as infinitely slow and is never chosen), its bands are that
 * candidate's, and it is marked measured. The plan must fit the spec's layouts (E084).
 */
export function applyMeasurements(
  plan: TuningRecord,
  planFile: string,
  m: Measurements,
  layouts: LayoutIR[],
): {
  record: TuningRecord;
  summary: {
    layout: string;
    n: number;
    measured: number;
    failed: number;
    planned: string;
    chosen: string;
    planned_ms: number | null;
    chosen_ms: number | null;
    rank_correlation: number | null;
    /** Measured balance (each head alone, --per-head) of the chosen candidate and of its twin with the other bands. */
    balance: { chosen: Balance | null; twin: { id: string; balance: Balance } | null };
    /** The cost model fitted to the chosen candidate's per-head times (null without them, or when they do not determine it). */
    fit: CostFit | null;
  }[];
} {
  const record = JSON.parse(JSON.stringify(plan)) as TuningRecord;
  for (const e of record.entries) {
    const l = layouts.find((x) => x.name === e.layout);
    if (!l) throw new SpecError([diag('E084', undefined, planFile, e.layout, 'the spec has no layout of that name')]);
    if (specHash(l) !== e.spec_hash) throw new SpecError([diag('E084', l.locs?.partition, planFile, e.layout, 'it was made for a different spec: plan again')]);
  }
  for (const r of m.results) {
    const e = record.entries[r.entry];
    const c = e?.candidates[r.candidate];
    if (!e || !c || e.layout !== r.layout || e.n !== r.n)
      throw new UsageError(
        `the measurement of ${r.package} does not match the plan ${planFile} (entry ${r.entry}, candidate ${r.candidate}): measure the packages of this plan`,
      );
    c.measured_ms = r.measured_ms;
    c.failed = r.failed;
    if (r.per_head_ms) {
      const heads = layouts.find((x) => x.name === e.layout)!.heads;
      if (r.per_head_ms.length !== heads)
        throw new UsageError(`the measurement of ${r.package} has ${r.per_head_ms.length} per-head times, layout ${e.layout} has ${heads} heads`);
      c.measured_head_ms = [...r.per_head_ms];
    }
  }
  record.device = { ...m.device };
  const summary = record.entries.map((e) => {
    const planned = e.candidates[e.choice]!;
    const timed = e.candidates.filter((c) => c.measured_ms !== null);
    const failed = e.candidates.filter((c) => c.failed !== null).length;
    if (timed.length) {
      const best = timed.reduce((a, b) => (b.measured_ms! < a.measured_ms! ? b : a));
      e.choice = e.candidates.indexOf(best);
      e.measured = true;
      if (e.bands !== null && best.bounds) e.bands = [...best.bounds];
    }
    const chosen = e.candidates[e.choice]!;
    const twin = e.candidates.find(
      (c) => c !== chosen && c.bands !== chosen.bands && JSON.stringify(c.config) === JSON.stringify(chosen.config) && c.measured_head_ms,
    );
    return {
      layout: e.layout,
      n: e.n,
      measured: timed.length,
      failed,
      planned: planned.id,
      chosen: chosen.id,
      planned_ms: planned.measured_ms,
      chosen_ms: chosen.measured_ms,
      rank_correlation: rankCorrelation(
        timed.map((c) => c.predicted),
        timed.map((c) => c.measured_ms!),
      ),
      balance: {
        chosen: chosen.measured_head_ms ? measuredBalance(chosen.measured_head_ms, e.shards) : null,
        twin: twin ? { id: twin.id, balance: measuredBalance(twin.measured_head_ms!, e.shards) } : null,
      },
      fit: fitPerHead(
        layouts.find((x) => x.name === e.layout)!,
        e.n,
        chosen,
        { ...DEFAULT_COST_MODEL, ...plan.cost_model },
      ),
    };
  });
  const v = validateRecord(record);
  if ('problems' in v) throw new UsageError(`the measured record is not valid: ${v.problems.slice(0, 3).join('; ')}`);
  return { record: v.record, summary };
}
