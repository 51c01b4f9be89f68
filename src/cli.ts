// The command line. `run(argv, io)` is the whole CLI, so tests call it in-process.
// Diagnostics and progress go to stderr; --json prints exactly one JSON document to stdout.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SpecError } from '../dsl/index.js';
import { diagnosticJson, renderDiagnostic, toDiagnostics } from './diagnostics.js';
import { describeTerm, splitTerms } from './describe.js';
import { layoutStats, minDistance, type Instance, type LayoutIR, type LayoutStats } from './ir/index.js';
import { balancedShards, contiguousShards, groupedShards, type ShardReport } from './shards.js';
import { svgPicture, textPicture } from './picture.js';
import { getTarget, instanceFor, lengthFor, loadSpec, TARGET_NAMES, writeAtomically } from './pipeline.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const VERSION: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..']) {
    try {
      return (JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next */
    }
  }
  return '0.0.0';
})();

const DEFAULT_SEQ = 4096;

const HELP: Record<string, string> = {
  main: `spc ${VERSION}: a compiler for banded sparse attention

Usage: spc <command> [options]

Commands:
  check FILE      validate a spec; print each head's bands, pairs and work share
  show FILE       draw the pattern (terminal text, or SVG with -o)
  compile FILE    emit kernels and host glue for a target

Options:
  -h, --help      help for spc or a command (spc help COMMAND works too)
  -v, --version   print the version

Exit status: 0 success, 2 a problem with the input (a diagnostic was printed), 1 an internal error.`,
  check: `Usage: spc check FILE [--seq N] [--layout NAME] [--tile MxN] [--shards T] [--json]

Validates FILE and prints, for each layout at length N, each head's allowed distance
ranges, global keys and queries, useful pairs, share of the work, and the tiles a
kernel with MxN tiles visits. A layout with symbolic N uses --seq (default ${DEFAULT_SEQ}).

Options:
  --seq N         sequence length for layouts with symbolic N
  --layout NAME   only this layout
  --tile MxN      tile shape for the tile statistics (default 64x64)
  --shards T      tensor parallelism: T ranks of H/T heads each; print each shard's work
                  (tiles visited) for heads in order and for a balanced head assignment
  --json          one JSON document on stdout instead of the table`,
  show: `Usage: spc show FILE [--seq N] [--layout NAME] [-o pattern.svg] [--cells K]

Draws each head's query x key mask. Without -o, prints a compact text picture; with -o,
writes an SVG with one panel per head and the distance bands under each panel.

Options:
  --seq N         sequence length for layouts with symbolic N (default 256 for text, 1024 for SVG)
  --layout NAME   only this layout
  -o FILE         write an SVG picture to FILE
  --cells K       resolution: K x K cells per head (default 16 for text, 96 for SVG)`,
  compile: `Usage: spc compile FILE --target TARGET -o DIR [--seq N]

Emits code for every layout of FILE into DIR. Files are written all together or not at all.

Options:
  --target T      one of: ${TARGET_NAMES.join(', ')}
  -o, --out DIR   output directory (created if missing)
  --seq N         a length for layouts with symbolic N (adds the instance and statistics to the IR output)`,
};

class UsageError extends Error {}

function positiveInt(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 2 ** 30) throw new UsageError(`${what} must be a whole number between 1 and 2^30, got '${s}'`);
  return Number(s);
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '-h' || cmd === '--help') {
      io.stdout(HELP.main + '\n');
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '-v' || cmd === '--version') {
      io.stdout(`spc ${VERSION}\n`);
      return 0;
    }
    if (cmd === 'help') {
      const topic = rest[0] ?? 'main';
      if (!(topic in HELP)) throw new UsageError(`no help for '${topic}'`);
      io.stdout(HELP[topic] + '\n');
      return 0;
    }
    if (!['check', 'show', 'compile'].includes(cmd)) throw new UsageError(`unknown command '${cmd}' (commands: check, show, compile)`);
    if (rest.includes('-h') || rest.includes('--help')) {
      io.stdout(HELP[cmd] + '\n');
      return 0;
    }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        seq: { type: 'string' },
        layout: { type: 'string' },
        tile: { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string', short: 'o' },
        target: { type: 'string' },
        cells: { type: 'string' },
        shards: { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError(`${cmd} takes one spec file, got ${positionals.length}`);
    const file = positionals[0]!;
    const seq = positiveInt(values.seq, '--seq');
    const cells = positiveInt(values.cells, '--cells');
    const spec = loadSpecReporting(file, io, values.json === true);
    if (!spec) return 2;
    try {
      let layouts = spec.layouts;
      if (values.layout !== undefined) {
        layouts = layouts.filter((l) => l.name === values.layout);
        if (!layouts.length) throw new UsageError(`no layout named '${values.layout}' in ${file} (layouts: ${spec.layouts.map((l) => l.name).join(', ')})`);
      }
      switch (cmd) {
        case 'check':
          return check(layouts, seq, values.tile, values.json === true, io, positiveInt(values.shards, '--shards'));
        case 'show':
          return show(layouts, seq, values.out, cells, io);
        default:
          return compile(layouts, seq, values.target, values.out, io);
      }
    } catch (e) {
      const ds = toDiagnostics(e);
      if (!ds) throw e;
      report(ds, file, spec.source, io, values.json === true);
      return 2;
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`spc: ${(e as Error).message}\nRun 'spc ${cmd && HELP[cmd] ? `${cmd} ` : ''}--help' for usage.\n`);
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

function report(ds: ReturnType<typeof toDiagnostics> & object, file: string, source: string | undefined, io: Io, json: boolean) {
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
      source = readFileSync(file, 'utf8');
    } catch {
      source = undefined;
    }
    report(e.diagnostics, file, source, io, json);
    return null;
  }
}

function parseTile(s: string | undefined): [number, number] {
  if (s === undefined) return [64, 64];
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1 || Number(m[1]) > 4096 || Number(m[2]) > 4096) throw new UsageError(`--tile takes MxN such as 128x64, got '${s}'`);
  return [Number(m[1]), Number(m[2])];
}

function headRows(inst: Instance) {
  const n = inst.n;
  const dMin = minDistance(inst.layout, n);
  return inst.heads.map((h) => ({ h, ...splitTerms(h, n, dMin) }));
}

function layoutSummary(l: LayoutIR, n: number): string {
  const p = l.partition;
  const part = !p ? 'no partition' : p.kind === 'tuned' ? 'partition tuned (not tuned yet: equal_pairs)' : `partition ${p.kind}`;
  return `layout ${l.name}: ${l.heads} heads, ${l.kvHeads} KV heads, head_dim ${l.headDim}, ${l.dtype}, ${l.causal ? 'causal' : 'not causal'}, N = ${n}${l.seq === null ? ' (symbolic)' : ''}, ${part}`;
}

function check(layouts: LayoutIR[], seq: number | undefined, tile: string | undefined, json: boolean, io: Io, shards?: number): number {
  const [bm, bn] = parseTile(tile);
  for (const l of layouts)
    if (shards !== undefined && l.kvHeads % shards !== 0)
      throw new UsageError(`--shards ${shards} must divide the ${l.kvHeads === l.heads ? 'heads' : 'KV heads (ranks own whole KV groups)'} of layout ${l.name} (${l.kvHeads})`);
  const docs = [];
  const text: string[] = [];
  for (const l of layouts) {
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
      return [String(h.head), h.band ? `[${h.band.start},${h.band.start + h.band.width})` : '-', allowed, String(s.pairs), `${(100 * s.share).toFixed(1)}%`, stats.tiles ? `${s.fullTiles}/${s.partialTiles}` : 'skipped', s.computedPairs ? `${((100 * s.wastedPairs) / s.computedPairs).toFixed(1)}%` : '-'];
    });
    text.push(...formatTable(header, table));
    text.push(
      `total pairs ${stats.totalPairs} = ${(stats.totalPairs / stats.causalPairs).toFixed(3)} x one causal head; work imbalance max/mean ${stats.imbalance.toFixed(2)} (pairs), ${stats.tiles ? `${stats.tileImbalance.toFixed(2)} (tiles)` : 'tiles skipped (too many for statistics; pass a larger --tile)'}`,
      '',
    );
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
  const plans = [['heads in order', groupedShards(work, group, shards, contiguousShards)], ['balanced assignment', groupedShards(work, group, shards, balancedShards)]] as const;
  if (group > 1) out.push(`(ranks own whole KV groups of ${group} heads)`);
  for (const [label, r] of plans) {
    out.push(`${shards} shards, ${label}: slowest/mean ${r.imbalance.toFixed(2)} (work in ${unit})`);
    r.heads.forEach((hs, s) => out.push(`  shard ${s}: heads ${hs.join(',')}  work ${r.work[s]}`));
  }
  return out;
}

function formatTable(header: string[], rows: string[][]): string[] {
  const w = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]) => r.map((x, c) => (c === 2 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

function show(layouts: LayoutIR[], seq: number | undefined, out: string | undefined, cells: number | undefined, io: Io): number {
  if (out !== undefined) {
    const svgs = layouts.map((l) => svgPicture(instanceFor(l, seq, 1024), cells ?? 96));
    if (svgs.length === 1) writeAtomically(dirname(resolve(out)), [{ path: basename(out), contents: svgs[0]! }]);
    else writeAtomically(dirname(resolve(out)), layouts.map((l, k) => ({ path: basename(out).replace(/(\.svg)?$/, `.${l.name}.svg`), contents: svgs[k]! })));
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

function compile(layouts: LayoutIR[], seq: number | undefined, target: string | undefined, out: string | undefined, io: Io): number {
  if (!target) throw new UsageError(`compile needs --target (one of ${TARGET_NAMES.join(', ')})`);
  if (!out) throw new UsageError('compile needs -o DIR');
  if (seq !== undefined) for (const l of layouts) lengthFor(l, seq, seq); // a fixed length must agree (E081)
  const files = getTarget(target).emit(layouts, { seq, version: VERSION });
  const written = writeAtomically(out, files);
  for (const w of written) io.stderr(`wrote ${w}\n`);
  return 0;
}
