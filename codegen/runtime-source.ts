// Runtime files that targets copy into their output (targets/*/runtime/): plain JS and .d.ts
// sources in the repository, read at emit time. This module runs from source (tsx, vitest:
// codegen/runtime-source.ts) and from the compiled tree (the CLI: dist/codegen/runtime-source.js),
// so the repository root is found by walking up from this file to spc's package.json; tsc does
// not copy the runtime files into dist/, they are always read from the source tree.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The directory holding spc's package.json (the repository, or the installed package). */
export function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'spc') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`internal: spc's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The text of a file of the spc package, by its path from the package root (e.g. `targets/wgsl/runtime/spc-wgsl-runtime.js`). */
export function readRuntimeSource(path: string): string {
  const file = join(packageRoot(), path);
  if (!existsSync(file)) throw new Error(`internal: runtime file ${path} is missing from ${packageRoot()}`);
  return readFileSync(file, 'utf8');
}
