// `spc tune --target wgsl`: tunes the WGSL tiled variant (tile shape, reductions, split K/V,
// padding) on the WebGPU adapter Dawn gives in this process, and writes a tuning record in the
// CUDA one's format (src/tuner/record.ts, target 'wgsl'); `spc compile --target wgsl --tuning
// RECORD` compiles the record's choices into the module (wgslTunings), whose createAttention then
// prefers them on that adapter.
//
// Per layout and N: every tiled configuration the layout can be built with (targets/wgsl/tune.ts)
// that the adapter runs (the runtime's unfit()), priced by the tuner's cost model for the record
// (src/tuner/plan.ts; tuned partitions: base and tuned bands per tile shape), at most
// --max-candidates of them timed: the automatic choice first, then spread over the rest. Each
// candidate is checked once against the float64 oracle (src/oracle.ts) at a small N, then timed
// at N on fresh random inputs (median of --reps dispatches after a warm-up; timestamp-query where
// the device has it, else wall time). A candidate that fails to build, throws, is wrong or runs
// past --timeout is recorded as failed with its reason; the tuner goes on (after a timeout, on a
// new device). Everything is built and imported before the device opens (Mesa's GL threads do not
// survive a module loader's child processes: test/wgsl-oracle.test.ts).
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { diag, SpecError, type Diagnostic } from '../../dsl/index.js';
import { tiledName, type TiledConfig } from '../../targets/wgsl/index.js';
import type { WgslTuning } from '../../targets/wgsl/index.js';
import { asTiledConfig, wgslTuneSpace } from '../../targets/wgsl/tune.js';
import { fitTiledConfig } from '../../targets/wgsl/tiled.js';
import { planLayout as planWgsl } from '../../targets/wgsl/plan.js';
import { instantiate, type LayoutIR } from '../ir/index.js';
import { referenceAttention } from '../oracle.js';
import { TunerError } from '../tuner/bands.js';
import type { CostModel } from '../tuner/cost.js';
import { planLayout, type ConfigCandidate, type Plan } from '../tuner/plan.js';
import { RECORD_FORMAT, RECORD_VERSION, specHash, validateRecord, type RecordCandidate, type TuningRecord } from '../tuner/record.js';
import { candidateOrder, tunedOf, withBands } from './tuning.js';
import { UsageError } from './usage.js';
import {
  lastModuleDir,
  loadWgslModule,
  openDefaultWebGpu,
  randomArray,
  relError,
  timeDispatches,
  WebGpuUnavailable,
  type WebGpu,
  type WgslModule,
} from './webgpu.js';

export interface WgslTuneOptions {
  seqs: number[];
  version: string;
  cost: CostModel;
  /** Dawn backend (default: vulkan, then opengl). */
  backend?: string;
  shards?: number;
  /** Candidates timed per layout and N. */
  maxCandidates: number;
  /** The length of the oracle check (at most the longest N tuned). */
  checkN: number;
  reps: number;
  /** Seconds per candidate (its check and its timing). */
  timeoutS: number;
  /** Seconds of tuning after which no candidate starts. */
  budgetS: number;
  /** Test hook: tiled configurations added to every layout's candidates, timed whatever the adapter's limits say. */
  inject?: readonly TiledConfig[];
  progress: (s: string) => void;
}

export { WGSL_TUNE_DEFAULTS } from './wgsl-defaults.js';

/** The relative error a candidate may have against the float64 oracle (as the WGSL tests). */
export const CHECK_BOUND = 1e-5;

export interface WgslTuneSummary {
  layout: string;
  n: number;
  timed: number;
  failed: number;
  /** Candidates not timed (--max-candidates, --budget). */
  skipped: number;
  rejected: Record<string, number>;
  auto: { id: string; ms: number | null };
  chosen: { id: string; ms: number | null };
  /** Timed or failed candidates, fastest first, the failed after. */
  rows: { id: string; bands: string; ms: number | null; failed: string | null; checked: RecordCandidate['checked'] }[];
}

/** How far a candidate's result was from the oracle: the record's `checked` field. */
type Checked = NonNullable<RecordCandidate['checked']>;

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, s: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout(`timed out: no result from ${what} after ${s} s`)), s * 1000);
    }),
  ]);
}

const NAN_BITS = 0x7fc00000;
const firstLine = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]!
    .replace(/^spc wgsl \(layout [^)]*\): /, '');

interface LayoutWork {
  layout: LayoutIR;
  space: ReturnType<typeof wgslTuneSpace>;
  /** The layout and module the oracle check runs (the base partition for tuned layouts: bands are data, the shaders are the same). */
  checkLayout: LayoutIR;
  checkModule: WgslModule;
  /** Per N: the plan and, per band boundaries, the module the timing runs. */
  perN: { n: number; plan: Plan; modules: Map<string, WgslModule> }[];
}

/** The runtime's unfit(), from the runtime file next to a loaded module. */
type Unfit = (t: WgslModule['TILED_VARIANTS'][number], device: GPUDevice) => string | null;

/** `spc tune --target wgsl`: the record (and plans, for --write-spec) after timing the candidates on the adapter. */
export async function tuneWgsl(
  layouts: LayoutIR[],
  o: WgslTuneOptions,
): Promise<{ record: TuningRecord; plans: { layout: LayoutIR; plan: Plan }[]; summary: WgslTuneSummary[] }> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  // 1. Plans and modules, before the device exists.
  const work: LayoutWork[] = [];
  for (const l of layouts) {
    let space;
    try {
      space = wgslTuneSpace(l, o.inject ?? []);
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    if (!space.candidates.length) throw new UsageError(`layout ${l.name}: no tiled WGSL configuration can be built at head_dim ${l.headDim}: nothing to tune`);
    const configs: ConfigCandidate[] = space.candidates.map((c, k) => ({
      id: c.id,
      config: c.config as unknown as Record<string, unknown>,
      bm: c.bm,
      bn: c.bn,
      isDefault: k === 0, // provisional: the device's automatic choice is known once it is open
    }));
    const extras = { extraVariants: space.candidates.map((c) => c.config) };
    const p = tunedOf(l);
    const checkLayout = p ? withBands(l, p, [], true) : l;
    o.progress(`layout ${l.name}: ${space.candidates.length} tiled configurations build at head_dim ${l.headDim}; emitting the modules\n`);
    const checkModule = await loadWgslModule(checkLayout, { dts: false, extras, version: o.version });
    // Never dropped as too small to price: the variants createAttention may pick unnamed (one of
    // them is the automatic choice, known once the device is open) and the injected ones.
    const mustPlan = new Set([
      ...checkModule.TILED_VARIANTS.filter((t) => t.auto).map((t) => t.name),
      ...space.candidates.filter((c) => c.injected).map((c) => c.id),
    ]);
    const perN: LayoutWork['perN'] = [];
    for (const n of l.seq !== null ? [l.seq] : o.seqs) {
      let plan: Plan;
      try {
        plan = planLayout(l, n, configs, space.rejected, {
          target: 'wgsl',
          sms: 1,
          cost: o.cost,
          pruneFactor: Infinity,
          keep: (c) => mustPlan.has(c.id),
          ...(o.shards ? { shards: o.shards } : {}),
        });
      } catch (e) {
        if (e instanceof TunerError) throw new SpecError([diag('E059', l.locs?.partition, n, e.message)]);
        throw e;
      }
      // Without a tuned partition the shaders and the head table do not depend on N: the check's module times too.
      const modules = new Map<string, WgslModule>();
      if (p)
        for (const c of plan.entry.candidates) {
          const key = JSON.stringify(c.bounds);
          if (modules.has(key)) continue;
          const configsHere = plan.entry.candidates.filter((x) => JSON.stringify(x.bounds) === key).map((x) => x.config as unknown as TiledConfig);
          modules.set(
            key,
            await loadWgslModule(withBands(l, p, [{ n, bounds: [...c.bounds!] }]), { dts: false, extras: { extraVariants: configsHere }, version: o.version }),
          );
        }
      perN.push({ n, plan, modules });
    }
    work.push({ layout: l, space, checkLayout, checkModule, perN });
  }
  const runtimeUrl = pathToFileURL(join(lastModuleDir()!, 'spc-wgsl-runtime.js')).href;
  const { unfit } = (await import(runtimeUrl)) as { unfit: Unfit };

  // 2. The device.
  let gpu: WebGpu;
  try {
    gpu = await openDefaultWebGpu(o.backend);
  } catch (e) {
    if (e instanceof WebGpuUnavailable) throw new UsageError(`spc tune --target wgsl: ${e.message}`);
    throw e;
  }
  o.progress(
    `adapter ${gpu.description}; features ${gpu.features.join(' ') || '-'}; timing ${gpu.timestamps ? 'timestamp-query' : 'wall (no timestamp-query)'}\n`,
  );
  const adapter = {
    vendor: gpu.info.vendor,
    architecture: gpu.info.architecture,
    device: gpu.info.device,
    description: gpu.info.description,
    backend: gpu.backend,
    feature_level: gpu.featureLevel,
    features: gpu.features,
    limits: gpu.limits,
    timing: gpu.timestamps ? ('timestamp-query' as const) : ('wall' as const),
  };

  const plans: { layout: LayoutIR; plan: Plan }[] = [];
  const summary: WgslTuneSummary[] = [];
  let timingsUsed: 'timestamp-query' | 'wall' = adapter.timing;
  for (const w of work) {
    const l = w.layout;
    // Which candidates the adapter runs (the injected ones stay, to fail visibly), and the automatic choice.
    const descs = new Map(w.checkModule.TILED_VARIANTS.map((t) => [t.name, t]));
    const unfitWhy = new Map<string, string>();
    for (const c of w.space.candidates) {
      const why = unfit(descs.get(c.id)!, gpu.device);
      if (why !== null) unfitWhy.set(c.id, why);
    }
    const autoDesc = w.checkModule.TILED_VARIANTS.find((t) => t.auto && unfit(t, gpu.device) === null); // the runtime's pickVariant
    if (!autoDesc)
      throw new UsageError(`layout ${l.name}: this adapter runs none of the automatic tiled variants (${gpu.description}): nothing to compare with`);
    // The oracle's inputs and result at the check length, once per layout: --check-n (long rows by
    // default), but not beyond the longest N tuned, whose whole bucket it then covers.
    const checkN = l.seq ?? Math.min(o.checkN, Math.max(...w.perN.map((p) => p.n)));
    const s = w.checkModule.sizes(checkN, 1);
    const seed = 7919 * checkN + l.headDim;
    const cq = randomArray(s.q, seed + 1);
    const ck = randomArray(s.k, seed + 2);
    const cv = randomArray(s.v, seed + 3);
    let ref: ReturnType<typeof referenceAttention> | null = null;
    const checks = new Map<string, { ok: true; checked: Checked } | { ok: false; why: string }>();
    // Bumped when a candidate times out and the device is replaced: what a timed-out attempt
    // finishes later (on the old device) is dropped, never recorded.
    let generation = 0;
    const check = async (id: string): Promise<{ ok: true; checked: Checked } | { ok: false; why: string }> => {
      const old = checks.get(id);
      if (old) return old;
      const gen = generation;
      const out = gpu.device.createBuffer({
        size: s.outBytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        mappedAtCreation: true,
      });
      new Uint32Array(out.getMappedRange()).fill(NAN_BITS);
      out.unmap();
      let r: { ok: true; checked: Checked } | { ok: false; why: string };
      try {
        const att = await w.checkModule.createAttention(gpu.device, { n: checkN, variant: id, buffers: { out } });
        try {
          const got = await att.run(cq, ck, cv);
          ref ??= referenceAttention(instantiate(w.checkLayout, checkN), { batch: 1, q: cq, k: ck, v: cv });
          let unwritten = 0;
          for (const x of got.out) if (!Number.isFinite(x)) unwritten++;
          for (const x of got.lse) if (Number.isNaN(x) || x === Infinity) unwritten++;
          const eOut = relError(got.out, ref.out);
          const eLse = relError(got.lse, ref.lse);
          const checked: Checked = {
            n: checkN,
            rel_err_out: Number.isFinite(eOut) ? eOut : null,
            rel_err_lse: Number.isFinite(eLse) ? eLse : null,
            bound: CHECK_BOUND,
          };
          r =
            unwritten === 0 && eOut < CHECK_BOUND && eLse < CHECK_BOUND
              ? { ok: true, checked }
              : {
                  ok: false,
                  why: `wrong against the float64 oracle at N = ${checkN}: relative error out ${eOut.toExponential(2)}, lse ${eLse.toExponential(2)} (bound ${CHECK_BOUND}), ${unwritten} non-finite`,
                };
        } finally {
          att.destroy();
        }
      } catch (e) {
        if (e instanceof Timeout) throw e;
        r = { ok: false, why: firstLine(e) };
      } finally {
        out.destroy();
      }
      if (gen === generation) checks.set(id, r);
      return r;
    };

    for (const { n, plan, modules } of w.perN) {
      const e = plan.entry;
      // Drop what the adapter cannot run (counted in rejected), unless injected.
      const rejected = { ...plan.rejected };
      const injected = new Set(w.space.candidates.filter((c) => c.injected).map((c) => c.id));
      const idOf = (c: RecordCandidate) => tiledName(c.config as unknown as TiledConfig);
      e.candidates = e.candidates.filter((c) => {
        const why = unfitWhy.get(idOf(c));
        if (why === undefined || injected.has(idOf(c))) return true;
        const key = `the adapter: ${why.replace(/ = \d+/g, '').replace(/ \d+/g, ' K')}`;
        // Base and tuned bands are one configuration: count it once.
        if (c.bands !== 'base') rejected[key] = (rejected[key] ?? 0) + 1;
        return false;
      });
      plan.rejected = rejected;
      const autoBands = tunedOf(l) ? 'tuned' : 'none';
      e.choice = e.candidates.findIndex((c) => idOf(c) === autoDesc.name && c.bands === autoBands);
      if (e.choice < 0) throw new Error(`internal: the automatic choice ${autoDesc.name} is not among the candidates of layout ${l.name}`);
      if (e.bands !== null) e.bands = [...e.candidates[e.choice]!.bounds!];
      for (const c of e.candidates) c.checked = null;
      // The automatic choice first, then spread over the rest (candidateOrder), then the injected ones (always timed).
      const order = candidateOrder(e, o.maxCandidates);
      e.candidates.forEach((c, k) => {
        if (injected.has(idOf(c)) && !order.includes(k)) order.push(k);
      });
      const notTimed = e.candidates.filter((_, k) => !order.includes(k));
      for (const c of notTimed) c.pruned = `not timed: over --max-candidates ${o.maxCandidates}`;
      o.progress(
        `layout ${l.name} at N = ${n}: ${e.candidates.length} candidates the adapter runs${injected.size ? ` (${injected.size} injected)` : ''}, timing ${order.length} (automatic choice: ${autoDesc.name})\n`,
      );
      let k = 0;
      for (const ci of order) {
        k++;
        const c = e.candidates[ci]!;
        const id = idOf(c);
        const label = `[${k}/${order.length}] ${l.name} N=${n} ${c.id}`;
        if (elapsed() > o.budgetS) {
          if (ci !== e.choice) c.pruned = `not timed: over --budget ${o.budgetS} s`;
          o.progress(`${label}: skipped (over --budget ${o.budgetS} s)\n`);
          continue;
        }
        const gen = generation;
        const one = async (): Promise<{ failed: string; times?: undefined } | { failed?: undefined; times: Awaited<ReturnType<typeof timeDispatches>> }> => {
          const ok = await check(id);
          if (!ok.ok) return { failed: ok.why };
          if (gen !== generation) return { failed: 'timed out' }; // this attempt was given up: the result is not used
          c.checked = ok.checked;
          const mod = tunedOf(l) ? modules.get(JSON.stringify(c.bounds))! : w.checkModule;
          const att = await mod.createAttention(gpu.device, { n, variant: id });
          try {
            const sz = mod.sizes(n, 1);
            const seedT = randomInt(1, 2 ** 31 - 1); // fresh inputs for every candidate
            await att.run(randomArray(sz.q, seedT), randomArray(sz.k, seedT + 1), randomArray(sz.v, seedT + 2)); // warm-up: uploads, compiles, reads back
            return { times: await timeDispatches(gpu.device, att, o.reps, gpu.timestamps) };
          } finally {
            att.destroy();
          }
        };
        try {
          const r = await withTimeout(one(), o.timeoutS, 'its check and timing');
          if (r.failed !== undefined) {
            c.failed = r.failed;
            o.progress(`${label}: FAILED ${r.failed}\n`);
          } else {
            c.measured_ms = r.times.ms;
            if (r.times.timing === 'wall') timingsUsed = 'wall';
            o.progress(
              `${label}: oracle ok (rel err ${c.checked!.rel_err_out!.toExponential(1)}); ${r.times.ms.toFixed(3)} ms (${r.times.timing}${r.times.note ? `; ${r.times.note}` : ''})\n`,
            );
          }
        } catch (err) {
          c.failed = err instanceof Timeout ? err.message : firstLine(err);
          o.progress(`${label}: FAILED ${c.failed}\n`);
          if (err instanceof Timeout) {
            generation++;
            // The device may be stuck: the next candidates get a new one.
            o.progress('  opening a new device after the timeout\n');
            try {
              gpu.destroy();
            } catch {
              /* a stuck device may refuse */
            }
            try {
              gpu = await openDefaultWebGpu(gpu.backend);
            } catch (err2) {
              if (err2 instanceof WebGpuUnavailable) throw new UsageError(`spc tune --target wgsl: no device after a candidate's timeout: ${err2.message}`);
              throw err2;
            }
            checks.clear();
          }
        }
      }
      // The choice: the fastest timed candidate (a failed one never); none timed leaves the automatic one, unmeasured.
      const timed = e.candidates.filter((c) => c.measured_ms !== null);
      const auto = e.candidates[e.choice]!;
      if (timed.length) {
        const best = timed.reduce((a, b) => (b.measured_ms! < a.measured_ms! ? b : a));
        e.choice = e.candidates.indexOf(best);
        e.measured = true;
        if (e.bands !== null) e.bands = [...best.bounds!];
      }
      const chosen = e.candidates[e.choice]!;
      const attempted = e.candidates.filter((c) => c.measured_ms !== null || c.failed !== null);
      summary.push({
        layout: l.name,
        n,
        timed: timed.length,
        failed: e.candidates.filter((c) => c.failed !== null).length,
        skipped: e.candidates.length - attempted.length,
        rejected,
        auto: { id: auto.id, ms: auto.measured_ms },
        chosen: { id: chosen.id, ms: chosen.measured_ms },
        rows: attempted
          .map((c) => ({ id: c.id, bands: c.bands, ms: c.measured_ms, failed: c.failed, checked: c.checked ?? null }))
          .sort((a, b) => (a.ms ?? Infinity) - (b.ms ?? Infinity)),
      });
      plans.push({ layout: l, plan });
    }
  }
  gpu.destroy();
  adapter.timing = timingsUsed;
  const record: TuningRecord = {
    format: RECORD_FORMAT,
    version: RECORD_VERSION,
    spc: o.version,
    created: new Date().toISOString(),
    device: {
      name: [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' / ') || 'unnamed adapter',
      sm_count: 1,
      driver: null,
      cuda: null,
      pytorch: null,
      adapter,
    },
    cost_model: { ...o.cost },
    entries: plans.map((p) => p.plan.entry),
  };
  const v = validateRecord(JSON.parse(JSON.stringify(record)));
  if ('problems' in v) throw new Error(`internal: the WGSL tuning record is not valid: ${v.problems.slice(0, 3).join('; ')}`);
  return { record, plans, summary };
}

const msText = (x: number | null) => (x === null ? '-' : x.toFixed(3));

/** The summary table of a WGSL tuning run. */
export function wgslTuneText(record: TuningRecord, summary: WgslTuneSummary[]): string[] {
  const a = record.device.adapter!;
  const out = [
    `WGSL tuning on ${record.device.name} [Dawn ${a.backend}, ${a.feature_level}]; times: ${a.timing === 'wall' ? 'wall (submit to done)' : 'GPU (timestamp-query)'}, ms, median`,
  ];
  for (const s of summary) {
    const rej = Object.entries(s.rejected)
      .map(([why, k]) => `${k} ${why}`)
      .join('; ');
    out.push(
      '',
      `layout ${s.layout} at N = ${s.n}: ${s.timed} timed, ${s.failed} failed, ${s.skipped} not timed${rej ? `; refused: ${rej}` : ''}`,
      `  automatic choice: ${s.auto.id}: ${msText(s.auto.ms)} ms`,
      `  chosen (fastest): ${s.chosen.id}: ${msText(s.chosen.ms)} ms${s.auto.ms !== null && s.chosen.ms !== null ? ` (${(s.auto.ms / s.chosen.ms).toFixed(2)}x the automatic choice)` : ''}`,
    );
    const w = Math.max(9, ...s.rows.map((r) => r.id.length));
    out.push(`  ${'candidate'.padEnd(w)}  ${'ms'.padStart(10)}  ${'vs auto'.padStart(7)}  oracle (rel err out)`);
    for (const r of s.rows)
      out.push(
        `  ${r.id.padEnd(w)}  ${(r.failed ? 'failed' : msText(r.ms)).padStart(10)}  ${(r.ms !== null && s.auto.ms !== null ? `${(s.auto.ms / r.ms).toFixed(2)}x` : '-').padStart(7)}  ${r.failed ? r.failed : r.checked?.rel_err_out != null ? `ok ${r.checked.rel_err_out.toExponential(1)} at N = ${r.checked.n}` : '-'}`,
      );
  }
  return out;
}

/**
 * For `spc compile --target wgsl --tuning RECORD`: per layout, the record's measured WGSL choices
 * (the adapter and, per N, the chosen candidate's tiled configuration), for the target to compile
 * in. A layout without measured wgsl entries gets none (note says so when the record has other
 * entries for it); an entry made for another spec, or a record without an adapter, is E084.
 */
export function wgslTunings(record: TuningRecord, recordFile: string, layouts: readonly LayoutIR[], note: (s: string) => void): Record<string, WgslTuning> {
  const out: Record<string, WgslTuning> = {};
  const problems: Diagnostic[] = [];
  for (const l of layouts) {
    const entries = record.entries.filter((e) => e.layout === l.name && e.target === 'wgsl');
    if (!entries.length) {
      note(
        record.entries.some((e) => e.layout === l.name)
          ? `layout ${l.name}: ${recordFile} has no wgsl entries for it: no tiled variant from the record (the automatic choice)\n`
          : `layout ${l.name}: ${recordFile} has no entry for this layout: no tiled variant from the record (the automatic choice)\n`,
      );
      continue;
    }
    const bad = (why: string) => problems.push(diag('E084', l.locs?.partition, recordFile, l.name, why));
    const a = record.device.adapter;
    if (!a) {
      bad('its wgsl entries have no WebGPU adapter in device.adapter (not written by spc tune --target wgsl)');
      continue;
    }
    if (entries.some((e) => e.spec_hash !== specHash(l))) {
      bad('it was made for a different spec: tune again');
      continue;
    }
    const measured = entries.filter((e) => e.measured);
    if (!measured.length) {
      note(`layout ${l.name}: ${recordFile} timed no wgsl candidate for it: the automatic choice\n`);
      continue;
    }
    const plan = planWgsl(l);
    const choices: WgslTuning['choices'] = [];
    for (const e of measured) {
      const c = e.candidates[e.choice]!;
      // Only a choice the tuner timed and checked against the oracle (a hand-edited or merged record may hold another).
      const ch = c.checked;
      if (
        c.failed !== null ||
        c.measured_ms === null ||
        !ch ||
        ch.rel_err_out === null ||
        !(ch.rel_err_out < ch.bound) ||
        (ch.rel_err_lse !== null && !(ch.rel_err_lse < ch.bound))
      ) {
        bad(`its choice at N = ${e.n} (${c.id}) was not timed and checked against the oracle (measured_ms, checked within its bound, not failed)`);
        continue;
      }
      const cfg = asTiledConfig(c.config);
      const fit = typeof cfg === 'string' ? cfg : fitTiledConfig(plan, cfg, null, {}, false);
      if (typeof fit === 'string' || typeof cfg === 'string') {
        bad(`its choice at N = ${e.n} (${c.id}) is not a tiled configuration of this layout: ${typeof cfg === 'string' ? cfg : fit}`);
        continue;
      }
      choices.push({ n: e.n, config: cfg, ms: c.measured_ms });
    }
    if (choices.length !== measured.length) continue;
    choices.sort((x, y) => x.n - y.n);
    out[l.name] = {
      record: recordFile.split('/').pop()!,
      device: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description },
      choices,
    };
    note(
      `layout ${l.name}: tiled variants from ${recordFile} for adapter ${record.device.name}: ${choices.map((c) => `N <= ${c.n}: ${tiledName(c.config)}`).join(', ')} (elsewhere the automatic choice)\n`,
    );
  }
  if (problems.length) throw new SpecError(problems);
  return out;
}
