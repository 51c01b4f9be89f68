// The pipeline: file -> front end -> IR -> targets -> files on disk (atomically).
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { diag, frontEnd, SpecError, type Diagnostic } from '../../dsl/index.js';
import type { EmittedFile, Target } from '../../codegen/target.js';
import { instantiate, type Instance, type LayoutIR } from '../ir/index.js';
import { lowerLayout } from '../lower.js';

export interface LoadedSpec {
  file: string;
  source: string;
  layouts: LayoutIR[];
}

/** Reads and checks a spec file. Every problem, from a missing file to a bad band, is a SpecError. */
export function loadSpec(file: string): LoadedSpec {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpecError([diag('E090', undefined, file, code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code))]);
  }
  if (st.isDirectory()) throw new SpecError([diag('E091', undefined, file)]);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new SpecError([diag('E090', undefined, file, (e as NodeJS.ErrnoException).code ?? 'read error')]);
  }
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '') throw new SpecError([diag('E092', undefined, file)]);
  if (bytes.includes(0) || !isUtf8(bytes)) throw new SpecError([diag('E093', undefined, file)]);
  const source = bytes.toString('utf8').replace(/^\uFEFF/, '');
  return { file, source, layouts: compileSource(source) };
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Source text to IR layouts; every layout is lowered, so a SpecError holds the problems of all of them. */
export function compileSource(source: string): LayoutIR[] {
  const problems: Diagnostic[] = [];
  const layouts: LayoutIR[] = [];
  for (const checked of frontEnd(source)) {
    try {
      layouts.push(lowerLayout(checked));
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      problems.push(...e.diagnostics);
    }
  }
  if (problems.length) throw new SpecError(problems);
  return layouts;
}

/** The length to use: the layout's own, or the one asked for (a fixed layout length must agree). */
export function lengthFor(layout: LayoutIR, seq: number | undefined, fallback: number): number {
  if (layout.seq !== null) {
    if (seq !== undefined && seq !== layout.seq) throw new SpecError([diag('E081', layout.locs?.seq, layout.seq, seq)]);
    return layout.seq;
  }
  return seq ?? fallback;
}

export function instanceFor(layout: LayoutIR, seq: number | undefined, fallback = 4096): Instance {
  return instantiate(layout, lengthFor(layout, seq, fallback));
}

/**
 * The targets, loaded on first use: `spc check` and `spc show` never load a target (the gpu.js
 * target pulls in ts-morph, which alone costs about half a second).
 */
const TARGETS: Record<string, () => Promise<Target>> = {
  ir: async () => (await import('../../targets/ir/index.js')).irTarget,
  cuda: async () => (await import('../../targets/cuda/index.js')).cudaTarget,
  wgsl: async () => (await import('../../targets/wgsl/index.js')).wgslTarget,
  gpujs: async () => (await import('../../targets/gpujs/index.js')).gpujsTarget,
};

export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);

export async function getTarget(name: string): Promise<Target> {
  const load = Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
  if (load === undefined) throw new SpecError([diag('E094', undefined, name, TARGET_NAMES.join(', '))]);
  return load();
}

/** Writes every file or none: each goes to a temporary name first, then all are renamed. */
export function writeAtomically(dir: string, files: EmittedFile[]): string[] {
  const root = resolve(dir);
  const staged: [string, string][] = [];
  try {
    for (const f of files) {
      const dest = join(root, f.path);
      if (!dest.startsWith(root)) throw new Error(`internal: output path escapes the directory: ${f.path}`);
      mkdirSync(dirname(dest), { recursive: true });
      const tmp = `${dest}.spc-tmp-${process.pid}`;
      writeFileSync(tmp, f.contents);
      staged.push([tmp, dest]);
    }
    for (const [tmp, dest] of staged) renameSync(tmp, dest);
  } catch (e) {
    for (const [tmp] of staged) rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && err.path !== undefined) {
      const why = { EISDIR: 'it is a directory', EEXIST: 'a file is in the way', ENOTDIR: 'a file is in the way', EACCES: 'permission denied', EROFS: 'read-only file system', ENOSPC: 'no space left on the device' }[err.code] ?? err.code;
      throw new SpecError([diag('E096', undefined, String(err.path).replace(/\.spc-tmp-\d+$/, ''), why)]);
    }
    throw e;
  }
  return staged.map(([, d]) => d);
}

