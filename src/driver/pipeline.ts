// The pipeline: file -> front end -> IR -> targets -> files on disk (atomically).
import {
  closeSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
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
  const bytes = readBounded(file);
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '') throw new SpecError([diag('E092', undefined, file)]);
  if (bytes.includes(0) || !isUtf8(bytes)) throw new SpecError([diag('E093', undefined, file)]);
  const source = bytes.toString('utf8').replace(/^\uFEFF/, '');
  return { file, source, layouts: compileSource(source) };
}

/** The largest spec file spc reads (a spec is a few hundred bytes; this bounds time and memory). */
export const MAX_SPEC_BYTES = 1 << 20;

/** Why a bounded read failed: `tooLarge`, or `reason` in words (no such file, a directory, ...). */
export class ReadFailure extends Error {
  constructor(
    readonly reason: string,
    readonly tooLarge = false,
  ) {
    super(reason);
  }
}

const errnoWords = (code: string | undefined): string =>
  code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'read error');

/**
 * Reads at most `max` bytes of a file with a bounded read (never readFileSync, which reads a
 * device such as /dev/zero forever); a larger file, or any read error, is a ReadFailure.
 */
export function readBoundedBytes(file: string, max: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new ReadFailure(errnoWords((e as NodeJS.ErrnoException).code));
  }
  try {
    const buf = Buffer.alloc(max + 1);
    let got = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, got, buf.length - got, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw new ReadFailure(errnoWords((e as NodeJS.ErrnoException).code));
      }
      if (n === 0) break;
      got += n;
      if (got > max) throw new ReadFailure(`larger than ${max} bytes`, true);
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** A spec file's bytes, at most MAX_SPEC_BYTES (E097); a read error is E090. */
export function readBounded(file: string): Buffer {
  try {
    return readBoundedBytes(file, MAX_SPEC_BYTES);
  } catch (e) {
    if (!(e instanceof ReadFailure)) throw e;
    throw new SpecError([e.tooLarge ? diag('E097', undefined, file, MAX_SPEC_BYTES) : diag('E090', undefined, file, e.reason)]);
  }
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

const WHY: Record<string, string> = {
  EISDIR: 'it is a directory',
  EEXIST: 'a file is in the way',
  ENOTDIR: 'a file is in the way',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such directory, and it cannot be created there',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
};

function writeError(path: string, e: unknown): SpecError {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof SpecError) return e;
  if (typeof err?.code !== 'string') throw e;
  return new SpecError([diag('E096', undefined, path, WHY[err.code] ?? err.code)]);
}

const refuse = (path: string, why: string) => new SpecError([diag('E096', undefined, path, why)]);

/**
 * Creates `dir` and its missing parents one level at a time (Node's recursive mkdirSync spins
 * forever on /proc): returns the directories it created, outermost first.
 */
function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw writeError(p, e);
      missing.push(p);
      const up = dirname(p);
      if (up === p) throw writeError(p, e);
      p = up;
      continue;
    }
    if (!st.isDirectory()) throw refuse(p, 'a file is in the way');
    break;
  }
  const made: string[] = [];
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      for (const x of made.reverse()) rmdirQuiet(x);
      throw writeError(m, e);
    }
    made.push(m);
  }
  return made;
}

function rmdirQuiet(d: string) {
  try {
    rmdirSync(d);
  } catch {
    /* not empty or gone: leave it */
  }
}

/** Where a destination's bytes go: a regular file replaced by rename, or a device written through. */
type Plan =
  | { kind: 'file'; shown: string; dest: string; tmp: string; backup: string | null }
  | { kind: 'device'; shown: string; dest: string; contents: string | Uint8Array };

/**
 * What a destination is, decided before anything is renamed. Symbolic links are followed:
 * a link to a regular file has its target replaced (the link stays a link), a link to a device
 * writes to the device, and a dangling link is refused. A character device or a FIFO
 * (/dev/null, /dev/stdout) is written through, never replaced; a directory, a block device or
 * a socket is refused.
 */
function destinationOf(shown: string): { kind: 'new' | 'file' | 'device'; dest: string } {
  let st;
  try {
    st = lstatSync(shown);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'new', dest: shown };
    throw writeError(shown, e);
  }
  let dest = shown;
  if (st.isSymbolicLink()) {
    try {
      st = statSync(shown);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw refuse(shown, 'it is a symbolic link to nothing (a dangling link)');
      throw writeError(shown, e);
    }
    if (st.isFile()) {
      try {
        dest = realpathSync(shown);
      } catch (e) {
        throw writeError(shown, e);
      }
    }
  }
  if (st.isDirectory()) throw refuse(shown, 'it is a directory');
  if (st.isFile()) return { kind: 'file', dest };
  if (st.isCharacterDevice() || st.isFIFO()) return { kind: 'device', dest: shown };
  throw refuse(shown, st.isBlockDevice() ? 'it is a block device (spc writes only regular files, character devices and pipes)' : 'it is not a regular file');
}

/** Test hook: the rename used to move staged files into place. */
export interface WriteOptions {
  rename?: (from: string, to: string) => void;
}

/**
 * Writes every file or none. Every destination is checked first (a directory in the way is an
 * error before anything moves); each file goes to a temporary name next to its destination,
 * then all are renamed; if a rename fails, the ones already done are undone and any file they
 * replaced is restored. A character device or pipe is written through (there is nothing to roll
 * back there); a write error on it is E096 too.
 */
export function writeAtomically(dir: string, files: EmittedFile[], options: WriteOptions = {}): string[] {
  const rename = options.rename ?? renameSync;
  // resolve('') is the current directory: an empty -o must not write there unasked.
  if (dir.trim() === '') throw refuse(JSON.stringify(dir), 'an empty output path');
  const root = resolve(dir);
  const made: string[] = [];
  const plans: Plan[] = [];
  const suffix = `.spc-tmp-${process.pid}`;
  const cleanup = () => {
    for (const p of plans) if (p.kind === 'file') rmSync(p.tmp, { force: true });
    for (const m of made.slice().reverse()) rmdirQuiet(m);
  };
  try {
    for (const f of files) {
      const shown = join(root, f.path);
      if (!shown.startsWith(root)) throw new Error(`internal: output path escapes the directory: ${f.path}`);
      made.push(...makeDirs(dirname(shown)));
      const d = destinationOf(shown);
      if (d.kind === 'device') {
        plans.push({ kind: 'device', shown, dest: d.dest, contents: f.contents });
        continue;
      }
      const tmp = `${d.dest}${suffix}`;
      try {
        writeFileSync(tmp, f.contents);
      } catch (e) {
        throw writeError(shown, e);
      }
      plans.push({ kind: 'file', shown, dest: d.dest, tmp, backup: d.kind === 'file' ? `${d.dest}.spc-old-${process.pid}` : null });
    }
    for (const p of plans) {
      if (p.kind !== 'device') continue;
      let fd: number | undefined;
      try {
        fd = openSync(p.dest, 'w');
        const buf = typeof p.contents === 'string' ? Buffer.from(p.contents) : p.contents;
        for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
      } catch (e) {
        throw writeError(p.shown, e);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
  } catch (e) {
    cleanup();
    throw writeError(root, e);
  }
  // Every destination is known good: move the staged files in, undoing all if one fails.
  const done: Extract<Plan, { kind: 'file' }>[] = [];
  for (const p of plans) {
    if (p.kind !== 'file') continue;
    try {
      if (p.backup !== null) linkOrCopy(p.dest, p.backup);
      rename(p.tmp, p.dest);
      done.push(p);
    } catch (e) {
      if (p.backup !== null) rmSync(p.backup, { force: true });
      for (const q of done.reverse()) {
        if (q.backup !== null) renameSync(q.backup, q.dest);
        else rmSync(q.dest, { force: true });
      }
      cleanup();
      throw writeError(p.shown, e);
    }
  }
  for (const p of done) if (p.backup !== null) rmSync(p.backup, { force: true });
  return plans.map((p) => p.shown);
}

/** Keeps the old contents of `file` at `backup` (a hard link where the file system has them). */
function linkOrCopy(file: string, backup: string) {
  rmSync(backup, { force: true });
  try {
    linkSync(file, backup);
  } catch {
    copyFileSync(file, backup);
  }
}
