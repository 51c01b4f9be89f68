// The tuning record: what `spc tune` writes and `spc compile --tuning RECORD` reads. One JSON
// document per tuning run (one device, one spc version): for each layout and N, every candidate
// with its predicted and (once the GPU half exists) measured time, the choice, and the band
// boundaries the choice uses. A record is what a user commits: the same spec + record gives the
// same bands on every machine. `validateRecord` checks everything a reader relies on.
import { isPartition, specHash, type LayoutIR } from '../ir/index.js';

// The spec hash lives in the IR (src/ir/hash.ts: the CUDA package embeds it to match run-time cache records); re-exported here.
export { specHash };

export const RECORD_FORMAT = 'spc-tuning-record';
export const RECORD_VERSION = 1;

export interface DeviceInfo {
  /** e.g. "NVIDIA H200"; null when nothing ran on a device (a plan). */
  name: string | null;
  /** The SM count the predictions used (measured: the device's). */
  sm_count: number;
  driver: string | null;
  cuda: string | null;
  pytorch: string | null;
  /**
   * WebGPU (spc tune --target wgsl): the adapter as Dawn reports it (GPUAdapterInfo; a module
   * compiled with the record prefers its choices only on a device whose adapterInfo has the same
   * vendor, architecture, device and description), the Dawn backend, feature level and features.
   */
  adapter?: WebGpuAdapterInfo | null;
}

export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  feature_level: string;
  features: string[];
  /** The limits the device was created with (the adapter's, for the ones the kernels use). */
  limits: Record<string, number>;
  /** How each candidate was timed: 'timestamp-query' (GPU time) or 'wall' (submit to done). */
  timing: 'timestamp-query' | 'wall';
}

export interface RecordCandidate {
  /** A stable name, e.g. "sm90 persistent wg2 n128 s3 q1 / bands tuned". */
  id: string;
  /** The kernel config part this candidate sets (CUDA: the sm90 fields); the rest is the heuristic. */
  config: Record<string, unknown>;
  tile: [number, number];
  /** 'base' or 'tuned' (the boundaries are in `bounds`). */
  bands: 'base' | 'tuned' | 'none';
  bounds: number[] | null;
  /** The cost model's predicted kernel time (abstract units) and the objective (slowest head or shard). */
  predicted: number;
  predicted_objective: number;
  /** Milliseconds, the median of timed runs; null when not measured. Infinity is written as null with `failed`. */
  measured_ms: number | null;
  failed: string | null;
  /** Why the cost model pruned it before measuring, or null when it survived. */
  pruned: string | null;
  /**
   * Milliseconds per head, each head alone (`attention(..., heads=[h])`, tune_measure.py
   * --per-head), in head order; absent or null when not measured.
   */
  measured_head_ms?: number[] | null;
  /**
   * spc tune --target wgsl: the candidate's check against the float64 oracle before it was timed
   * (length, max relative errors of out and lse, the bound); null or absent when not checked.
   */
  checked?: { n: number; rel_err_out: number | null; rel_err_lse: number | null; bound: number } | null;
}

export interface RecordEntry {
  layout: string;
  spec_hash: string;
  n: number;
  dtype: 'bf16' | 'fp16' | 'fp32';
  target: string;
  shards: number;
  objective: 'slowest head' | 'slowest shard';
  /** Whether `choice` was picked by measured time (true) or by the cost model alone (false). */
  measured: boolean;
  candidates: RecordCandidate[];
  /** Index into candidates. */
  choice: number;
  /** The band boundaries S_0..S_H for this N (the choice's), or null when the layout has no tuned partition. */
  bands: number[] | null;
}

export interface TuningRecord {
  format: typeof RECORD_FORMAT;
  version: typeof RECORD_VERSION;
  spc: string;
  created: string;
  device: DeviceInfo;
  /** The cost model constants the predictions used. */
  cost_model: Record<string, number>;
  entries: RecordEntry[];
}

export const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isInt = (x: unknown, lo = 0): x is number => Number.isSafeInteger(x) && (x as number) >= lo;
const isStrOrNull = (x: unknown) => x === null || typeof x === 'string';
const isNumOrNull = (x: unknown) => x === null || (typeof x === 'number' && Number.isFinite(x));
const isPositiveList = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0);

/** A record from parsed JSON, or the list of what is wrong with it (paths like entries[0].bands). */
export function validateRecord(raw: unknown): { record: TuningRecord } | { problems: string[] } {
  const p: string[] = [];
  if (!isObj(raw)) return { problems: ['the record is not a JSON object'] };
  if (raw.format !== RECORD_FORMAT) p.push(`format must be "${RECORD_FORMAT}", got ${JSON.stringify(raw.format)}`);
  if (raw.version !== RECORD_VERSION) p.push(`version must be ${RECORD_VERSION}, got ${JSON.stringify(raw.version)}`);
  if (typeof raw.spc !== 'string') p.push('spc (the version that wrote it) must be a string');
  if (typeof raw.created !== 'string') p.push('created must be a string (an ISO date)');
  const d = raw.device;
  if (!isObj(d)) p.push('device must be an object');
  else {
    if (!isStrOrNull(d.name)) p.push('device.name must be a string or null');
    if (!isInt(d.sm_count, 1)) p.push('device.sm_count must be a positive integer');
    for (const k of ['driver', 'cuda', 'pytorch']) if (!isStrOrNull(d[k])) p.push(`device.${k} must be a string or null`);
    const a = d.adapter;
    if (a !== undefined && a !== null) {
      if (!isObj(a)) p.push('device.adapter must be an object or null');
      else {
        for (const k of ['vendor', 'architecture', 'device', 'description', 'backend', 'feature_level'])
          if (typeof a[k] !== 'string') p.push(`device.adapter.${k} must be a string`);
        if (!Array.isArray(a.features) || !a.features.every((f) => typeof f === 'string')) p.push('device.adapter.features must be a list of strings');
        if (!isObj(a.limits) || !Object.values(a.limits).every((v) => typeof v === 'number')) p.push('device.adapter.limits must be an object of numbers');
        if (a.timing !== 'timestamp-query' && a.timing !== 'wall') p.push('device.adapter.timing must be "timestamp-query" or "wall"');
      }
    }
  }
  if (!isObj(raw.cost_model) || !Object.values(raw.cost_model).every((v) => typeof v === 'number' && Number.isFinite(v)))
    p.push('cost_model must be an object of numbers');
  if (!Array.isArray(raw.entries)) p.push('entries must be an array');
  else {
    const seen = new Set<string>();
    raw.entries.forEach((e: unknown, k) => {
      const at = `entries[${k}]`;
      if (!isObj(e)) return void p.push(`${at} must be an object`);
      if (typeof e.layout !== 'string') p.push(`${at}.layout must be a string`);
      if (typeof e.spec_hash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(e.spec_hash)) p.push(`${at}.spec_hash must be "sha256:" and 64 hex digits`);
      if (!isInt(e.n, 1)) p.push(`${at}.n must be a positive integer`);
      if (!['bf16', 'fp16', 'fp32'].includes(e.dtype as string)) p.push(`${at}.dtype must be bf16, fp16 or fp32`);
      if (typeof e.target !== 'string') p.push(`${at}.target must be a string`);
      if (!isInt(e.shards, 1)) p.push(`${at}.shards must be a positive integer`);
      if (e.objective !== 'slowest head' && e.objective !== 'slowest shard') p.push(`${at}.objective must be "slowest head" or "slowest shard"`);
      if (typeof e.measured !== 'boolean') p.push(`${at}.measured must be true or false`);
      const key = `${String(e.layout)}@${String(e.n)}`;
      if (seen.has(key)) p.push(`${at}: layout ${String(e.layout)} at N = ${String(e.n)} appears twice`);
      seen.add(key);
      if (!Array.isArray(e.candidates)) p.push(`${at}.candidates must be an array`);
      else {
        e.candidates.forEach((c: unknown, j) => {
          const cat = `${at}.candidates[${j}]`;
          if (!isObj(c)) return void p.push(`${cat} must be an object`);
          if (typeof c.id !== 'string') p.push(`${cat}.id must be a string`);
          if (!isObj(c.config)) p.push(`${cat}.config must be an object`);
          if (!Array.isArray(c.tile) || c.tile.length !== 2 || !c.tile.every((x) => isInt(x, 1))) p.push(`${cat}.tile must be [rows, keys]`);
          if (!['base', 'tuned', 'none'].includes(c.bands as string)) p.push(`${cat}.bands must be "base", "tuned" or "none"`);
          if (c.bounds !== null && !(Array.isArray(c.bounds) && c.bounds.every((x) => isInt(x)))) p.push(`${cat}.bounds must be integers or null`);
          if (typeof c.predicted !== 'number' || typeof c.predicted_objective !== 'number') p.push(`${cat}.predicted and predicted_objective must be numbers`);
          if (!isNumOrNull(c.measured_ms)) p.push(`${cat}.measured_ms must be a number or null`);
          if (!isStrOrNull(c.failed) || !isStrOrNull(c.pruned)) p.push(`${cat}.failed and pruned must be strings or null`);
          if (c.measured_head_ms !== undefined && c.measured_head_ms !== null && !isPositiveList(c.measured_head_ms))
            p.push(`${cat}.measured_head_ms must be a list of positive numbers (one per head) or null`);
          const ch = c.checked;
          if (
            ch !== undefined &&
            ch !== null &&
            !(isObj(ch) && isInt(ch.n, 1) && isNumOrNull(ch.rel_err_out) && isNumOrNull(ch.rel_err_lse) && typeof ch.bound === 'number')
          )
            p.push(`${cat}.checked must be { n, rel_err_out, rel_err_lse, bound } or null`);
        });
        if (!isInt(e.choice) || (e.choice as number) >= e.candidates.length) p.push(`${at}.choice must index candidates (0..${e.candidates.length - 1})`);
        else {
          const chosen = e.candidates[e.choice as number] as Record<string, unknown> | undefined;
          // A pruned candidate can be chosen only by its measured time (spc tune --emit-max measures
          // the choice's twin with the other bands even when the model pruned it).
          if (isObj(chosen) && chosen.pruned !== null && chosen.pruned !== undefined && (chosen.measured_ms === null || chosen.measured_ms === undefined))
            p.push(`${at}.choice is a pruned candidate that was not measured`);
          if (isObj(chosen) && e.bands !== null && JSON.stringify(chosen.bounds) !== JSON.stringify(e.bands))
            p.push(`${at}.bands are not the bounds of the chosen candidate`);
        }
      }
      if (e.bands !== null) {
        if (!Array.isArray(e.bands) || !isInt(e.n, 1)) p.push(`${at}.bands must be the H+1 band boundaries or null`);
        else if (!isPartition(e.bands as number[], e.n as number, e.bands.length - 1))
          p.push(`${at}.bands must run from 0 to N = ${String(e.n)} and never decrease (a partition of 0..N-1)`);
      }
    });
  }
  return p.length ? { problems: p } : { record: raw as unknown as TuningRecord };
}

/**
 * The tuned bands a record gives one layout: per N, after checking the record was made for this
 * layout (spec hash) and its bands have one boundary per head and one more. Returns the problem
 * as a string when it does not fit, or null when the record holds nothing for this layout.
 */
export function bandsFor(record: TuningRecord, layout: LayoutIR): { n: number; bounds: number[] }[] | string | null {
  const entries = record.entries.filter((e) => e.layout === layout.name);
  if (!entries.length) return null;
  const hash = specHash(layout);
  const out: { n: number; bounds: number[] }[] = [];
  for (const e of entries) {
    if (e.spec_hash !== hash)
      return `it was made for a different spec (spec hash ${e.spec_hash.slice(0, 19)}..., this layout has ${hash.slice(0, 19)}...): tune again`;
    if (e.bands === null) return `its entry for N = ${e.n} has no bands (the layout it was made for has no tuned partition)`;
    if (e.bands.length !== layout.heads + 1)
      return `its bands for N = ${e.n} have ${e.bands.length} boundaries, the layout's ${layout.heads} heads need ${layout.heads + 1}`;
    if (layout.seq !== null && e.n !== layout.seq) continue;
    out.push({ n: e.n, bounds: [...e.bands] });
  }
  if (!out.length) return `it has no entry for the layout's fixed length N = ${layout.seq} (it has N = ${entries.map((e) => e.n).join(', ')})`;
  return out.sort((a, b) => a.n - b.n);
}
