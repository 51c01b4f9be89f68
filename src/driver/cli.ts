// The command line. `run(argv, io)` is the whole CLI, so tests call it in-process.
// Diagnostics and progress go to stderr; --json prints exactly one JSON document to stdout.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SpecError } from '../../dsl/index.js';
import { TargetError, type TunedChoice } from '../../codegen/target.js';
import { diagnosticJson, renderDiagnostic, toDiagnostics, type SpcDiagnostic } from './diagnostics.js';
import { describeTerm, splitTerms } from './describe.js';
import { layoutStats, minDistance, type Instance, type LayoutIR, type LayoutStats } from '../ir/index.js';
import { balancedShards, contiguousShards, groupedShards, type ShardReport } from './shards.js';
import { svgPicture, textPicture } from './picture.js';
import {
  getTarget,
  instanceFor,
  lengthFor,
  loadSpec,
  MAX_SPEC_BYTES,
  ReadFailure,
  readBounded,
  readBoundedBytes,
  TARGET_NAMES,
  writeAtomically,
} from './pipeline.js';
import {
  applyMeasurements,
  type Balance,
  candidatePackages,
  planText,
  readMeasurements,
  readRecord,
  recordConfigs,
  specWithBands,
  tunedForCompile,
  tunedForInspect,
  tunedJson,
  tunedOf,
  tunedText,
  tunePlans,
} from './tuning.js';
import { DEFAULT_COST_MODEL, mergeCostModel, type CostModel } from '../tuner/cost.js';
import { DEFAULT_SMS } from '../tuner/bands.js';
import type { TuningRecord } from '../tuner/record.js';
import type { TiledConfig } from '../../targets/wgsl/tiled.js';
import { UsageError } from './usage.js';
import { WGSL_TUNE_DEFAULTS } from './wgsl-defaults.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const VERSION: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/driver, src/driver (tsx), .gpu/js/src/driver (the GPU machine's compiled copy, bench/wgsl/tune-h200.sh).
  for (const up of ['../..', '../../..', '../../../..']) {
    try {
      return (JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next */
    }
  }
  return '0.0.0';
})();

const DEFAULT_SEQ = 4096;

function positiveInt(what: string) {
  return (s: string): number => {
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 2 ** 30) throw new UsageError(`${what} must be a whole number between 1 and 2^30, got '${s}'`);
    return Number(s);
  };
}

/** The most cells per panel side: 256 x 256 cells per head is already a large SVG. */
const MAX_CELLS = 256;

function cellsValue(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_CELLS) throw new UsageError(`--cells must be a whole number between 1 and ${MAX_CELLS}, got '${s}'`);
  return Number(s);
}

function parseTile(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1 || Number(m[1]) > 4096 || Number(m[2]) > 4096)
    throw new UsageError(`--tile takes MxN such as 128x64, with M and N in 1..4096, got '${s}'`);
  return [Number(m[1]), Number(m[2])];
}

/** One option of one command: it makes both the parser's config and the --help text. */
interface OptionSpec {
  name: string;
  short?: string;
  /** A boolean option is a flag; a value option takes one argument, named `arg` in the help. */
  arg?: string;
  help: string;
  /** Shown without brackets in the usage line; the command refuses to run without it. */
  required?: boolean;
  /** Turns the text value into the command's value; throws UsageError with spc's own message. */
  validate?: (s: string) => unknown;
}

interface CommandSpec {
  summary: string;
  description: string;
  options: OptionSpec[];
}

const seqOption = (help: string): OptionSpec => ({ name: 'seq', arg: 'N', help, validate: positiveInt('--seq') });
const layoutOption: OptionSpec = { name: 'layout', arg: 'NAME', help: 'only this layout' };
const tuningOption = (help: string): OptionSpec => ({ name: 'tuning', arg: 'RECORD', help });

function seqList(s: string): number[] {
  const parts = s.split(',');
  if (parts.length > 64) throw new UsageError(`--seq takes at most 64 lengths, got ${parts.length}`);
  const ns = parts.map(positiveInt('--seq'));
  return [...new Set(ns)].sort((a, b) => a - b);
}

/** --include: tiled variant names (targets/wgsl/tiled.ts tiledName), as configurations. */
function includeList(s: string): TiledConfig[] {
  return s.split(',').map((name) => {
    const m = /^(sg|wg)-(\d+)x(\d+)-t(\d+)x(\d+)(-kv2)?(-pad)?$/.exec(name.trim());
    if (!m) throw new UsageError(`--include takes tiled variant names such as wg-32x16-t4x8-pad (reductions-BMxBN-tTMxTPR[-kv2][-pad]), got '${name}'`);
    const [bm, bn, tm, tpr] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number];
    if ([bm, bn, tm, tpr].some((x) => x < 1 || x > 1024) || bm % tm !== 0)
      throw new UsageError(`--include ${name}: sizes must be in 1..1024 and TM must divide BM`);
    return {
      blockM: bm,
      blockN: bn,
      rowsPerThread: tm,
      threadsPerRow: tpr,
      splitKV: m[6] !== undefined,
      padK: m[7] !== undefined,
      reduce: m[1] === 'sg' ? 'subgroup' : 'workgroup',
    };
  });
}

function smsValue(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 4096) throw new UsageError(`--sms must be a whole number between 1 and 4096, got '${s}'`);
  return Number(s);
}

function costValue(s: string): CostModel {
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch (e) {
    throw new UsageError(`--cost takes JSON such as '{"partialTile": 1.3}': ${(e as Error).message}`);
  }
  const m = mergeCostModel(DEFAULT_COST_MODEL, raw);
  if (typeof m === 'string') throw new UsageError(`--cost: ${m}`);
  return m;
}

function headScaleValue(s: string): number[] {
  const xs = s.split(',').map((x) => x.trim());
  if (!xs.every((x) => /^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(x) && Number(x) > 0 && Number.isFinite(Number(x))) || xs.length > 4096)
    throw new UsageError(`--head-scale takes positive numbers separated by commas, one per head, e.g. 1.05,0.98,...; got '${s}'`);
  return xs.map(Number);
}

const COMMANDS: Record<'check' | 'show' | 'compile' | 'tune', CommandSpec> = {
  check: {
    summary: "validate a spec; print each head's bands, pairs and work share",
    description: `Validates FILE and prints, for each layout at length N, each head's allowed distance
ranges, global keys and queries, useful pairs, share of the work, and the tiles a
kernel with MxN tiles visits. A layout with symbolic N uses --seq (default ${DEFAULT_SEQ}).`,
    options: [
      seqOption('sequence length for layouts with symbolic N'),
      layoutOption,
      { name: 'tile', arg: 'MxN', help: 'tile shape for the tile statistics (default 64x64)', validate: parseTile },
      {
        name: 'shards',
        arg: 'T',
        help: "tensor parallelism: T ranks of H/T heads each; print each shard's work\n(tiles visited) for heads in order and for a balanced head assignment",
        validate: positiveInt('--shards'),
      },
      { name: 'json', help: 'one JSON document on stdout instead of the table' },
      tuningOption(
        'partition tuned: take the bands from this tuning record (default: choose them now with the\ncost model, for the CUDA heuristic tile; with --shards, for the slowest shard)',
      ),
    ],
  },
  show: {
    summary: 'draw the pattern (terminal text, or SVG with -o)',
    description: `Draws each head's query x key mask. Without -o, prints a compact text picture; with -o,
writes an SVG with one panel per head and the distance bands under each panel.`,
    options: [
      seqOption('sequence length for layouts with symbolic N (default 256 for text, 1024 for SVG)'),
      layoutOption,
      { name: 'out', short: 'o', arg: 'FILE', help: 'write an SVG picture to FILE (one per layout, FILE.NAME.svg, for several)' },
      { name: 'cells', arg: 'K', help: `resolution: K x K cells per head, 1..${MAX_CELLS} (default 16 for text, 96 for SVG)`, validate: cellsValue },
      tuningOption('partition tuned: take the bands from this tuning record (default: the cost model chooses them now)'),
    ],
  },
  compile: {
    summary: 'emit kernels and host glue for a target',
    description: 'Emits code for every layout of FILE into DIR. Files are written all together or not at all.',
    options: [
      { name: 'target', arg: 'TARGET', required: true, help: `one of: ${TARGET_NAMES.join(', ')}` },
      { name: 'out', short: 'o', arg: 'DIR', required: true, help: 'output directory (created if missing)' },
      seqOption('a length for layouts with symbolic N (adds the instance and statistics to the IR output)'),
      {
        name: 'config',
        arg: 'FILE_OR_JSON',
        help: "a kernel config (JSON) that overrides the target's heuristic; see targets/cuda/README.md.\nA value starting with { is the JSON itself, anything else a file holding it",
      },
      tuningOption(
        "the tuning record (from spc tune --record): partition tuned compiles in its bands (the\ngenerated code then runs at the record's lengths N only); with --target cuda, the kernel configs\nchosen by time are compiled in (under --config) and picked per GPU and N at run time",
      ),
      { name: 'untuned', help: 'partition tuned without a record: compile the base partition at every N (says so)' },
    ],
  },
  tune: {
    summary: 'tune kernel configs and tuned bands: plan here (--plan-only, --emit), choose by measured time (--measured)',
    description: `Enumerates the kernel configs the target's kernels accept for each layout of FILE and,
for partition tuned, band boundaries; predicts each candidate's time with the cost model
(src/tuner/cost.ts) from the IR's tile statistics and prunes the slow ones (--plan-only; the
record's choice is then the heuristic's config with bands chosen by the cost model).
--emit DIR writes a package per surviving candidate; on the GPU machine (PyTorch, no Node)
bench/cuda/tune_measure.py DIR times them; --measured FILE --plan DIR/tune_plan.json then
chooses by measured time and writes the record (--record).
--target wgsl measures in this process instead, on the WebGPU adapter Dawn gives (the
npm package webgpu): every tiled variant the adapter runs (at most --max-candidates), each
checked against the float64 oracle at --check-n (long rows; at most the longest N), then timed at N (timestamp-query where the
adapter has it, else wall time); --record writes the record for spc compile --tuning.`,
    options: [
      {
        name: 'target',
        arg: 'TARGET',
        required: true,
        help: 'the target whose config space to tune: cuda (plan here, measure on the GPU machine) or wgsl (measured here, on the WebGPU adapter)',
      },
      { name: 'seq', arg: 'N[,N...]', help: `lengths to tune for layouts with symbolic N (default ${DEFAULT_SEQ})`, validate: seqList },
      { name: 'plan-only', help: 'enumerate, predict and prune (the planning half; with --emit, the packages to measure)' },
      layoutOption,
      { name: 'shards', arg: 'T', help: 'tensor parallelism: tune for the slowest of T shards of H/T consecutive heads', validate: positiveInt('--shards') },
      { name: 'sms', arg: 'K', help: `SMs for the predicted kernel time (default ${DEFAULT_SMS}: H100 and H200 SXM)`, validate: smsValue },
      { name: 'cost', arg: 'JSON', help: 'cost model constants over the defaults, e.g. \'{"partialTile": 1.3, "item": 1}\'', validate: costValue },
      {
        name: 'head-scale',
        arg: 'F,F,...',
        help: 'with --plan-only: one factor per head on the cost model (what --measured prints from per-head times), so the band search prices each head as it measured',
        validate: headScaleValue,
      },
      { name: 'record', arg: 'FILE', help: 'write the tuning record (JSON) to FILE, for spc compile --tuning FILE' },
      {
        name: 'write-spec',
        arg: 'FILE',
        help: "write FILE: the spec with each tuned layout's partition replaced by\nexplicit(...) of its chosen bands (needs exactly one N)",
      },
      {
        name: 'emit',
        arg: 'DIR',
        help: 'with --plan-only: write DIR, one package per candidate the cost model kept,\nfor bench/cuda/tune_measure.py to time on the GPU machine',
      },
      {
        name: 'emit-max',
        arg: 'K',
        help: "with --emit: at most K packages per layout and N: the plan's choice, the same config with\nthe other bands (base or tuned), then the rest spread over the predicted order",
        validate: positiveInt('--emit-max'),
      },
      {
        name: 'measured',
        arg: 'FILE',
        help: "the times tune_measure.py wrote for the packages of --emit: choose by time\n(with --plan RECORD, the plan's record; writes --record)",
      },
      { name: 'plan', arg: 'RECORD', help: 'with --measured: the record of the plan whose packages were timed' },
      {
        name: 'max-candidates',
        arg: 'K',
        help: `wgsl: time at most K candidates per layout and N: the automatic choice, then spread over\nthe rest (default ${WGSL_TUNE_DEFAULTS.maxCandidates})`,
        validate: positiveInt('--max-candidates'),
      },
      {
        name: 'budget',
        arg: 'SECONDS',
        help: 'wgsl: start no candidate after SECONDS of tuning (the rest are recorded as not timed)',
        validate: positiveInt('--budget'),
      },
      {
        name: 'timeout',
        arg: 'SECONDS',
        help: `wgsl: a candidate (its oracle check and its timing) that takes longer fails (default ${WGSL_TUNE_DEFAULTS.timeoutS})`,
        validate: positiveInt('--timeout'),
      },
      {
        name: 'reps',
        arg: 'R',
        help: `wgsl: timed dispatches per candidate after a warm-up run; the median counts (default ${WGSL_TUNE_DEFAULTS.reps})`,
        validate: positiveInt('--reps'),
      },
      {
        name: 'check-n',
        arg: 'N',
        help: `wgsl: the length of each candidate's check against the float64 oracle (default ${WGSL_TUNE_DEFAULTS.checkN})`,
        validate: positiveInt('--check-n'),
      },
      { name: 'backend', arg: 'NAME', help: "wgsl: Dawn's backend (vulkan, opengl, ...; default $SPC_WEBGPU_BACKEND, else vulkan, then opengl)" },
      {
        name: 'include',
        arg: 'VARIANT[,...]',
        help: "wgsl: also time these tiled variants (names such as wg-32x16-t4x8-pad), even where\nthe adapter's limits say they cannot run (they are then recorded as failed)",
        validate: includeList,
      },
      { name: 'json', help: 'one JSON document on stdout: the record' },
    ],
  },
};

type CommandName = keyof typeof COMMANDS;
const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

const flag = (o: OptionSpec) => (o.short ? `-${o.short}` : `--${o.name}`);
const optionList = (c: CommandName) => COMMANDS[c].options.map(flag).join(', ');

function usageLine(c: CommandName): string {
  const parts = COMMANDS[c].options.map((o) => {
    const s = o.arg ? `${flag(o)} ${o.arg}` : flag(o);
    return o.required ? s : `[${s}]`;
  });
  const req = parts.filter((_, k) => COMMANDS[c].options[k]!.required);
  const opt = parts.filter((_, k) => !COMMANDS[c].options[k]!.required);
  return `spc ${c} FILE ${[...req, ...opt].join(' ')}`;
}

function optionHelp(options: { left: string; help: string }[]): string {
  const w = Math.max(14, ...options.map((o) => o.left.length)) + 2;
  return options.map((o) => `  ${o.left.padEnd(w)}${o.help.replace(/\n/g, `\n  ${' '.repeat(w)}`)}`).join('\n');
}

function commandHelp(c: CommandName): string {
  const opts = COMMANDS[c].options.map((o) => ({ left: `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.arg ? ` ${o.arg}` : ''}`, help: o.help }));
  return `Usage: ${usageLine(c)}\n\n${COMMANDS[c].description}\n\nOptions:\n${optionHelp(opts)}`;
}

function mainHelp(): string {
  const cmds = COMMAND_NAMES.map((c) => ({ left: `${c} FILE`, help: COMMANDS[c].summary }));
  return `spc ${VERSION}: a compiler for banded sparse attention

Usage: spc <command> [options]

Commands:
${optionHelp(cmds)}

Options:
${optionHelp([
  { left: '-h, --help', help: 'help for spc or a command (spc help COMMAND works too)' },
  { left: '-v, --version', help: 'print the version' },
])}

Exit status: 0 success, 2 a problem with the input (a diagnostic was printed), 1 an internal error.`;
}

/** The help texts, generated from the command table. */
export function helpText(topic: 'main' | CommandName = 'main'): string {
  return topic === 'main' ? mainHelp() : commandHelp(topic);
}

/**
 * Parses a command's arguments against its table: an option the command does not take, a
 * missing or stray value, or a value its validator refuses is a UsageError with spc's message.
 * Values may start with a dash (`--seq -5`, `--seq=-5`): the validator, not the parser, refuses them.
 */
export function parseCommandArgs(c: CommandName, args: string[]): { values: Record<string, unknown>; positionals: string[] } {
  const specs = COMMANDS[c].options;
  const known = new Map<string, OptionSpec>();
  for (const cmd of COMMAND_NAMES) for (const o of COMMANDS[cmd].options) known.set(o.name, o);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const o of known.values()) options[o.name] = { type: o.arg ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}) };
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = specs.find((s) => s.name === t.name && (t.rawName === `--${s.name}` || t.rawName === `-${s.short}`));
    if (!o) {
      const elsewhere = known.get(t.name);
      const what =
        elsewhere && (t.rawName === `--${elsewhere.name}` || t.rawName === `-${elsewhere.short}`)
          ? `${c} does not take ${t.rawName}`
          : `unknown option '${t.rawName}' for ${c}`;
      throw new UsageError(`${what} (options: ${optionList(c)})`);
    }
    if (o.name in values) throw new UsageError(`${t.rawName} is given twice`);
    if (!o.arg) {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value, got '${t.value}'`);
      values[o.name] = true;
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${t.rawName} needs a value (${t.rawName} ${o.arg})`);
    values[o.name] = o.validate ? o.validate(t.value) : t.value;
  }
  for (const o of specs)
    if (o.required && !(o.name in values))
      throw new UsageError(`${c} needs ${flag(o)} ${o.arg}${o.name === 'target' ? ` (one of ${TARGET_NAMES.join(', ')})` : ''}`);
  return { values, positionals };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '-h' || cmd === '--help') {
      io.stdout(helpText() + '\n');
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '-v' || cmd === '--version') {
      io.stdout(`spc ${VERSION}\n`);
      return 0;
    }
    if (cmd === 'help') {
      const topic = rest[0] ?? 'main';
      if (topic !== 'main' && !isCommand(topic)) throw new UsageError(`no help for '${topic}' (commands: ${COMMAND_NAMES.join(', ')})`);
      io.stdout(helpText(topic) + '\n');
      return 0;
    }
    if (!isCommand(cmd)) throw new UsageError(`unknown command '${cmd}' (commands: ${COMMAND_NAMES.join(', ')})`);
    if (rest.includes('-h') || rest.includes('--help')) {
      io.stdout(helpText(cmd) + '\n');
      return 0;
    }
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (positionals.length !== 1) throw new UsageError(`${cmd} takes one spec file, got ${positionals.length}`);
    const file = positionals[0]!;
    const json = values.json === true;
    const seq = cmd === 'tune' ? undefined : (values.seq as number | undefined);
    const spec = loadSpecReporting(file, io, json);
    if (!spec) return 2;
    const recordFile = values.tuning as string | undefined;
    try {
      let layouts = spec.layouts;
      if (values.layout !== undefined) {
        layouts = layouts.filter((l) => l.name === values.layout);
        if (!layouts.length) throw new UsageError(`no layout named '${values.layout}' in ${file} (layouts: ${spec.layouts.map((l) => l.name).join(', ')})`);
      }
      switch (cmd) {
        case 'check':
          return await check(
            layouts,
            seq,
            (values.tile as [number, number] | undefined) ?? [64, 64],
            json,
            io,
            values.shards as number | undefined,
            tuningArg(recordFile),
          );
        case 'show':
          return await show(layouts, seq, values.out as string | undefined, values.cells as number | undefined, io, tuningArg(recordFile));
        case 'compile': {
          if (recordFile !== undefined && values.untuned === true)
            throw new UsageError('--tuning and --untuned exclude each other: give a record, or ask for the base partition');
          const rec = tuningArg(recordFile);
          const tuned = tunedForCompile(layouts, { ...rec, untuned: values.untuned === true, ...(seq !== undefined ? { seq } : {}) }, io.stderr);
          if (rec.record && values.target === 'wgsl') {
            // WGSL chooses its tiled variant at run time: the record's choices go into the module (per adapter and N).
            const { wgslTunings } = await import('./wgsl-tune.js');
            const tunings = wgslTunings(rec.record, rec.recordFile!, layouts, io.stderr);
            return await compile(tuned, seq, 'wgsl', values.out as string, values.config as string | undefined, io, {}, tunings);
          }
          const configs = rec.record ? recordConfigs(rec.record, rec.recordFile!, layouts, values.target as string, io.stderr) : {};
          return await compile(tuned, seq, values.target as string, values.out as string, values.config as string | undefined, io, configs);
        }
        case 'tune':
          return await tune(layouts, spec.source, values, io);
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const ds = toDiagnostics(e);
      if (!ds) throw e;
      report(ds, file, spec.source, io, json);
      return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`spc: ${e.message}\nRun 'spc ${cmd && isCommand(cmd) ? `${cmd} ` : ''}--help' for usage.\n`);
      return 2;
    }
    const ds = toDiagnostics(e);
    if (ds) {
      report(ds, argv[1] ?? 'spc', undefined, io, false);
      return 2;
    }
    io.stderr(`spc: internal error: ${(e as Error).message ?? String(e)}\nThis is a bug in spc; please report it with the spec that caused it.\n`);
    return 1;
  }
}

const isCommand = (c: string): c is CommandName => Object.hasOwn(COMMANDS, c);

function report(ds: SpcDiagnostic[], file: string, source: string | undefined, io: Io, json: boolean) {
  if (json) io.stdout(JSON.stringify({ errors: ds.map((d) => diagnosticJson(d, file)) }, null, 2) + '\n');
  for (const d of ds) io.stderr(renderDiagnostic(d, file, source) + '\n');
}

function loadSpecReporting(file: string, io: Io, json: boolean) {
  try {
    return loadSpec(file);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    let source: string | undefined;
    try {
      source = e.diagnostics.some((d) => d.code === 'E097') ? undefined : readBounded(file).toString('utf8');
    } catch {
      source = undefined;
    }
    report(e.diagnostics, file, source, io, json);
    return null;
  }
}

function headRows(inst: Instance) {
  const n = inst.n;
  const dMin = minDistance(inst.layout, n);
  return inst.heads.map((h) => ({ h, ...splitTerms(h, n, dMin) }));
}

function layoutSummary(l: LayoutIR, n: number): string {
  const p = l.partition;
  const part = !p
    ? 'no partition'
    : p.kind === 'tuned'
      ? `partition tuned(base = ${p.base}, tol = ${p.tol})${p.useBase ? ` compiled --untuned: ${p.base}` : ''}`
      : `partition ${p.kind}`;
  return `layout ${l.name}: ${l.heads} heads, ${l.kvHeads} KV heads, head_dim ${l.headDim}, ${l.dtype}, ${l.causal ? 'causal' : 'not causal'}, N = ${n}${l.seq === null ? ' (symbolic)' : ''}, ${part}`;
}

type RecordArg = { record?: TuningRecord; recordFile?: string };
const tuningArg = (file: string | undefined): RecordArg => (file === undefined ? {} : { record: readRecord(file), recordFile: file });

async function check(
  layouts: LayoutIR[],
  seq: number | undefined,
  [bm, bn]: [number, number],
  json: boolean,
  io: Io,
  shards: number | undefined,
  rec: RecordArg,
): Promise<number> {
  for (const l of layouts)
    if (shards !== undefined && l.kvHeads % shards !== 0)
      throw new UsageError(
        `--shards ${shards} must divide the ${l.kvHeads === l.heads ? 'heads' : 'KV heads (ranks own whole KV groups)'} of layout ${l.name} (${l.kvHeads})`,
      );
  const docs = [];
  const text: string[] = [];
  for (const given of layouts) {
    const view = await tunedForInspect(given, seq, DEFAULT_SEQ, { ...rec, ...(shards !== undefined ? { shards } : {}) });
    const l = view.layout;
    const inst = instanceFor(l, seq, DEFAULT_SEQ);
    const stats = layoutStats(inst, bm, bn);
    const rows = headRows(inst);
    if (json) {
      docs.push({
        name: l.name,
        n: inst.n,
        heads_total: l.heads,
        kv_heads: l.kvHeads,
        head_dim: l.headDim,
        dtype: l.dtype,
        causal: l.causal,
        partition: l.partition?.kind ?? null,
        ...(view.report ? { tuned: tunedJson(view.report) } : {}),
        total_pairs: stats.totalPairs,
        causal_pairs: stats.causalPairs,
        imbalance: stats.imbalance,
        tile: [bm, bn],
        tile_imbalance: stats.tileImbalance,
        ...(shards !== undefined ? { shards: shardDocs(stats, shards, l.heads / l.kvHeads) } : {}),
        heads: rows.map(({ h, ranges, keys, queries, other }, k) => {
          const s = stats.heads[k]!;
          return {
            head: h.head,
            kv_head: h.kvHead,
            band: h.band ? [h.band.start, h.band.start + h.band.width] : null,
            ranges,
            globals: { keys, queries },
            terms: other,
            pairs: s.pairs,
            share: s.share,
            tiles: stats.tiles ? { full: s.fullTiles, partial: s.partialTiles } : null,
            computed_pairs: s.computedPairs,
            wasted_pairs: s.wastedPairs,
          };
        }),
      });
      continue;
    }
    text.push(layoutSummary(l, inst.n));
    const header = ['head', 'band [S,S+W)', 'allowed', 'pairs', 'share', `tiles ${bm}x${bn} full/partial`, 'wasted'];
    const table = rows.map(({ h }, k) => {
      const s = stats.heads[k]!;
      const allowed = h.terms.length ? h.terms.map((t) => describeTerm(t, inst.n, minDistance(l, inst.n))).join(' | ') : 'nothing';
      return [
        String(h.head),
        h.band ? `[${h.band.start},${h.band.start + h.band.width})` : '-',
        allowed,
        String(s.pairs),
        `${(100 * s.share).toFixed(1)}%`,
        stats.tiles ? `${s.fullTiles}/${s.partialTiles}` : 'skipped',
        s.computedPairs ? `${((100 * s.wastedPairs) / s.computedPairs).toFixed(1)}%` : '-',
      ];
    });
    text.push(...formatTable(header, table));
    text.push(
      `total pairs ${stats.totalPairs} = ${(stats.totalPairs / stats.causalPairs).toFixed(3)} x one causal head; work imbalance max/mean ${stats.imbalance.toFixed(2)} (pairs), ${stats.tiles ? `${stats.tileImbalance.toFixed(2)} (tiles)` : 'tiles skipped (too many for statistics; pass a larger --tile)'}`,
      '',
    );
    if (view.report) text.push(...tunedText(view.report), '');
    if (shards !== undefined) text.push(...shardText(stats, shards, l.heads / l.kvHeads), '');
  }
  if (json) io.stdout(JSON.stringify({ layouts: docs }, null, 2) + '\n');
  else io.stdout(text.join('\n'));
  return 0;
}

/** Work per head for sharding: tiles a kernel visits (pairs when tile statistics were skipped). */
function shardWork(stats: LayoutStats): number[] {
  return stats.heads.map((h) => (stats.tiles ? h.fullTiles + h.partialTiles : h.pairs));
}

function shardDocs(stats: LayoutStats, shards: number, group: number) {
  const work = shardWork(stats);
  const doc = (r: ShardReport) => ({ heads: r.heads, work: r.work, imbalance: r.imbalance });
  return {
    t: shards,
    unit: stats.tiles ? 'tiles' : 'pairs',
    contiguous: doc(groupedShards(work, group, shards, contiguousShards)),
    balanced: doc(groupedShards(work, group, shards, balancedShards)),
  };
}

function shardText(stats: LayoutStats, shards: number, group: number): string[] {
  const work = shardWork(stats);
  const unit = stats.tiles ? `${stats.blockM}x${stats.blockN} tiles` : 'pairs';
  const out: string[] = [];
  const plans = [
    ['heads in order', groupedShards(work, group, shards, contiguousShards)],
    ['balanced assignment', groupedShards(work, group, shards, balancedShards)],
  ] as const;
  if (group > 1) out.push(`(ranks own whole KV groups of ${group} heads)`);
  for (const [label, r] of plans) {
    out.push(`${shards} shards, ${label}: slowest/mean ${r.imbalance.toFixed(2)} (work in ${unit})`);
    r.heads.forEach((hs, s) => out.push(`  shard ${s}: heads ${hs.join(',')}  work ${r.work[s]}`));
  }
  return out;
}

function formatTable(header: string[], rows: string[][]): string[] {
  const w = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((x, c) => (c === 2 ? x.padEnd(w[c]!) : x.padStart(w[c]!)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

async function show(given: LayoutIR[], seq: number | undefined, out: string | undefined, cells: number | undefined, io: Io, rec: RecordArg): Promise<number> {
  const views = await Promise.all(given.map((l) => tunedForInspect(l, seq, out !== undefined ? 1024 : 256, rec)));
  const layouts = views.map((v) => v.layout);
  for (const v of views) if (v.report) (out !== undefined ? io.stderr : io.stdout)(tunedText(v.report).join('\n') + '\n\n');
  if (out !== undefined) {
    const svgs = layouts.map((l) => svgPicture(instanceFor(l, seq, 1024), cells ?? 96));
    if (svgs.length === 1) writeAtomically(dirname(resolve(out)), [{ path: basename(out), contents: svgs[0]! }]);
    else
      writeAtomically(
        dirname(resolve(out)),
        layouts.map((l, k) => ({ path: basename(out).replace(/(\.svg)?$/, `.${l.name}.svg`), contents: svgs[k]! })),
      );
    io.stderr(`wrote ${svgs.length === 1 ? out : `${svgs.length} SVG files next to ${out}`}\n`);
    return 0;
  }
  for (const l of layouts) {
    const inst = instanceFor(l, seq, 256);
    io.stdout(layoutSummary(l, inst.n) + '\n\n' + textPicture(inst, cells ?? 16) + '\n\n');
  }
  return 0;
}

const basename = (p: string): string => resolve(p).split('/').pop()!;

async function compile(
  layouts: LayoutIR[],
  seq: number | undefined,
  targetName: string,
  out: string,
  configArg: string | undefined,
  io: Io,
  tuned: Record<string, TunedChoice[]> = {},
  tunings: Record<string, unknown> = {},
): Promise<number> {
  if (seq !== undefined) for (const l of layouts) lengthFor(l, seq, seq); // a fixed length must agree (E081)
  const config = configArg === undefined ? undefined : readConfig(configArg);
  const target = await getTarget(targetName);
  if (config !== undefined && target.acceptsConfig !== true) throw new TargetError('E106', [target.name]);
  // A tuning record's configs are for the target it was measured on (recordConfigs keeps only those).
  const fromRecord = target.acceptsConfig === true && Object.keys(tuned).length ? { tuned } : {};
  const files = target.emit(layouts, {
    seq,
    version: VERSION,
    ...(config !== undefined ? { config } : {}),
    ...fromRecord,
    ...(Object.keys(tunings).length ? { tunings } : {}),
  });
  const written = writeAtomically(out, files);
  for (const w of written) io.stderr(`wrote ${w}\n`);
  return 0;
}

/** The backend names Dawn's `create(['backend=NAME'])` knows (the webgpu package's dawn.node). */
const DAWN_BACKENDS = ['vulkan', 'opengl', 'opengles', 'null', 'd3d11', 'd3d12', 'metal', 'webgpu'];

/** `--config`: inline JSON when the value starts with `{`, else a file holding JSON. Any problem is E107. */
export function readConfig(arg: string): unknown {
  const inline = /^\s*\{/.test(arg);
  let text = arg;
  if (!inline) {
    try {
      // Bounded, as a spec is: a device such as /dev/zero must not be read forever.
      text = readBoundedBytes(arg, MAX_SPEC_BYTES).toString('utf8');
    } catch (e) {
      if (!(e instanceof ReadFailure)) throw e;
      throw new TargetError('E107', [`cannot read ${arg}: ${e.reason}`]);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new TargetError('E107', [`${inline ? 'the inline config' : arg} is not valid JSON: ${(e as Error).message}`]);
  }
}

/** What both targets' `spc tune` check first: the lengths (E081), --shards against the KV heads, and --write-spec's needs. */
function tuneLengths(layouts: LayoutIR[], values: Record<string, unknown>): { seqs: number[]; shards: number | undefined; writeSpec: string | undefined } {
  const seqs = (values.seq as number[] | undefined) ?? [DEFAULT_SEQ];
  const shards = values.shards as number | undefined;
  if (shards !== undefined)
    for (const l of layouts)
      if (l.kvHeads % shards !== 0) throw new UsageError(`--shards ${shards} must divide the KV heads of layout ${l.name} (${l.kvHeads})`);
  for (const l of layouts) if (l.seq !== null && values.seq !== undefined && !seqs.includes(l.seq)) lengthFor(l, seqs[0], seqs[0]!); // E081
  const writeSpec = values['write-spec'] as string | undefined;
  if (writeSpec !== undefined) {
    const tuned = layouts.filter((l) => tunedOf(l));
    if (!tuned.length) throw new UsageError('--write-spec: no layout of this file has partition tuned');
    if (tuned.some((l) => l.seq === null) && seqs.length !== 1)
      throw new UsageError('--write-spec needs exactly one N (an explicit partition holds one set of bands): give one --seq');
  }
  return { seqs, shards, writeSpec };
}

/** `spc tune --measured FILE --plan RECORD`: the plan's record with the measured times, chosen by time. */
async function tuneMeasured(layouts: LayoutIR[], values: Record<string, unknown>, io: Io): Promise<number> {
  const planFile = values.plan as string | undefined;
  if (planFile === undefined) throw new UsageError('--measured needs --plan RECORD: the record of the plan whose packages were timed (DIR/tune_plan.json)');
  const { record, summary } = applyMeasurements(readRecord(planFile), planFile, readMeasurements(values.measured as string), layouts);
  const out = values.record as string | undefined;
  if (out !== undefined)
    for (const w of writeAtomically(dirname(resolve(out)), [{ path: basename(out), contents: JSON.stringify(record, null, 2) + '\n' }]))
      io.stderr(`wrote ${w}\n`);
  if (values.json === true) {
    io.stdout(JSON.stringify(record, null, 2) + '\n');
    return 0;
  }
  const ms = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(3)} ms`);
  const text = [`measured on ${record.device.name} (${record.device.sm_count} SMs)`];
  for (const r of summary) {
    text.push(
      `layout ${r.layout} at N = ${r.n}: ${r.measured} candidates timed, ${r.failed} failed`,
      `  planned (the heuristic): ${r.planned}: ${ms(r.planned_ms)}`,
      `  chosen (fastest):        ${r.chosen}: ${ms(r.chosen_ms)}${r.planned_ms !== null && r.chosen_ms !== null ? `  (${(r.planned_ms / r.chosen_ms).toFixed(2)}x)` : ''}`,
      `  rank correlation of predicted and measured times: ${r.rank_correlation === null ? 'n/a (fewer than 3 timed)' : r.rank_correlation.toFixed(2)}`,
    );
    const bal = (b: Balance) => `per-head max/mean ${b.heads.toFixed(3)}${b.shards === null ? '' : `, per-shard max/mean ${b.shards.toFixed(3)}`}`;
    if (r.balance.chosen) text.push(`  chosen, each head alone: ${bal(r.balance.chosen)}`);
    if (r.balance.twin) text.push(`  ${r.balance.twin.id}, each head alone: ${bal(r.balance.twin.balance)}`);
    if (r.fit) {
      const f = r.fit;
      const cor = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
      text.push(
        `  cost model fitted to the choice's per-head times: --cost '${JSON.stringify({ item: +f.model.item.toFixed(3), partialTile: +f.model.partialTile.toFixed(3) })}'${f.physical ? '' : ' (a negative constant: these times do not follow the model; do not use it)'}`,
        `    per-head correlation with the measured times: plan's model ${cor(f.correlation.plan)}, fitted ${cor(f.correlation.fitted)}; per-head max/mean measured ${f.balance.measured.toFixed(3)}, plan's model ${f.balance.plan.toFixed(3)}, fitted ${f.balance.fitted.toFixed(3)}`,
        `    what the ${f.physical ? 'fitted' : "plan's"} model misses per head (measured / predicted, mean 1), for the next plan: --head-scale ${f.headScale.map((x) => x.toFixed(3)).join(',')}`,
      );
    }
  }
  io.stdout(text.join('\n') + '\n');
  return 0;
}

async function tune(layouts: LayoutIR[], source: string, values: Record<string, unknown>, io: Io): Promise<number> {
  if (values.target === 'wgsl') return await tuneWgslCommand(layouts, source, values, io);
  if (values.target !== 'cuda') throw new UsageError(`spc tune tunes the cuda and wgsl targets, got --target ${String(values.target)}`);
  for (const k of ['max-candidates', 'budget', 'timeout', 'reps', 'check-n', 'backend', 'include'])
    if (values[k] !== undefined) throw new UsageError(`--${k} is for --target wgsl (the CUDA candidates are timed by bench/cuda/tune_measure.py)`);
  if (values.measured !== undefined) {
    if (values['head-scale'] !== undefined) throw new UsageError('--head-scale is for --plan-only: it changes how the next plan prices the heads');
    return await tuneMeasured(layouts, values, io);
  }
  if (values['plan-only'] !== true)
    throw new UsageError(
      'spc tune runs in two halves: --plan-only [--emit DIR] here, bench/cuda/tune_measure.py DIR on the GPU machine, then --measured FILE --plan RECORD',
    );
  if (values['emit-max'] !== undefined && values.emit === undefined)
    throw new UsageError('--emit-max K needs --emit DIR: it limits the packages written there');
  const { seqs, shards, writeSpec } = tuneLengths(layouts, values);
  const { plans, record } = await tunePlans(layouts, {
    seqs,
    ...(shards !== undefined ? { shards } : {}),
    sms: (values.sms as number | undefined) ?? DEFAULT_SMS,
    cost: (values.cost as CostModel | undefined) ?? DEFAULT_COST_MODEL,
    ...(values['head-scale'] !== undefined ? { headScale: values['head-scale'] as number[] } : {}),
    version: VERSION,
  });
  const files: { dir: string; path: string; contents: string }[] = [];
  const record_ = values.record as string | undefined;
  if (record_ !== undefined) files.push({ dir: dirname(resolve(record_)), path: basename(record_), contents: JSON.stringify(record, null, 2) + '\n' });
  if (writeSpec !== undefined) files.push({ dir: dirname(resolve(writeSpec)), path: basename(writeSpec), contents: specWithBands(source, plans) });
  const emit = values.emit as string | undefined;
  if (emit !== undefined) {
    const { files: pkgs, list } = await candidatePackages(plans, VERSION, values['emit-max'] as number | undefined);
    pkgs.push({ path: 'tune_candidates.json', contents: JSON.stringify(list, null, 1) + '\n' });
    pkgs.push({ path: 'tune_plan.json', contents: JSON.stringify(record, null, 2) + '\n' });
    writeAtomically(resolve(emit), pkgs);
    io.stderr(`wrote ${list.length} candidate packages, tune_candidates.json and tune_plan.json to ${emit}\n`);
  }
  for (const f of files) for (const w of writeAtomically(f.dir, [{ path: f.path, contents: f.contents }])) io.stderr(`wrote ${w}\n`);
  if (values.json === true) io.stdout(JSON.stringify(record, null, 2) + '\n');
  else {
    const text: string[] = [];
    for (const { layout, plan } of plans) text.push(...planText(layout, plan), '');
    text.push(
      'Nothing was measured: the choice and the bands come from the cost model alone (src/tuner/cost.ts).' +
        (emit !== undefined
          ? ` To measure: python3 bench/cuda/tune_measure.py ${emit} --out measured.json on the GPU machine, then spc tune ... --measured measured.json --plan ${emit}/tune_plan.json --record RECORD.`
          : ''),
    );
    io.stdout(text.join('\n') + '\n');
  }
  return 0;
}

/** `spc tune --target wgsl`: measured here, on the WebGPU adapter (src/driver/wgsl-tune.ts). */
async function tuneWgslCommand(layouts: LayoutIR[], source: string, values: Record<string, unknown>, io: Io): Promise<number> {
  for (const k of ['plan-only', 'emit', 'emit-max', 'measured', 'plan', 'sms', 'head-scale'])
    if (values[k] !== undefined) throw new UsageError(`--${k} is for --target cuda; --target wgsl measures on the WebGPU adapter in this process`);
  const { seqs, shards, writeSpec } = tuneLengths(layouts, values);
  const backend = (values.backend ?? process.env.SPC_WEBGPU_BACKEND) as string | undefined;
  if (backend !== undefined && !DAWN_BACKENDS.includes(backend))
    throw new UsageError(
      `--backend ${JSON.stringify(backend)}: Dawn's backends are ${DAWN_BACKENDS.join(', ')}${values.backend === undefined ? ' (from $SPC_WEBGPU_BACKEND)' : ''}`,
    );
  const { tuneWgsl, wgslTuneText } = await import('./wgsl-tune.js');
  const { record, plans, summary } = await tuneWgsl(layouts, {
    seqs,
    version: VERSION,
    cost: (values.cost as CostModel | undefined) ?? DEFAULT_COST_MODEL,
    ...(shards !== undefined ? { shards } : {}),
    ...(backend !== undefined ? { backend } : {}),
    maxCandidates: (values['max-candidates'] as number | undefined) ?? WGSL_TUNE_DEFAULTS.maxCandidates,
    checkN: (values['check-n'] as number | undefined) ?? WGSL_TUNE_DEFAULTS.checkN,
    reps: (values.reps as number | undefined) ?? WGSL_TUNE_DEFAULTS.reps,
    timeoutS: (values.timeout as number | undefined) ?? WGSL_TUNE_DEFAULTS.timeoutS,
    budgetS: (values.budget as number | undefined) ?? Infinity,
    ...(values.include !== undefined ? { inject: values.include as TiledConfig[] } : {}),
    progress: io.stderr,
  });
  const files: { dir: string; path: string; contents: string }[] = [];
  const recordFile = values.record as string | undefined;
  if (recordFile !== undefined) files.push({ dir: dirname(resolve(recordFile)), path: basename(recordFile), contents: JSON.stringify(record, null, 2) + '\n' });
  if (writeSpec !== undefined) files.push({ dir: dirname(resolve(writeSpec)), path: basename(writeSpec), contents: specWithBands(source, plans) });
  for (const f of files) for (const w of writeAtomically(f.dir, [{ path: f.path, contents: f.contents }])) io.stderr(`wrote ${w}\n`);
  if (values.json === true) io.stdout(JSON.stringify(record, null, 2) + '\n');
  else io.stdout(wgslTuneText(record, summary).join('\n') + '\n');
  return 0;
}
