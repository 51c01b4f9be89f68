// Imports flow one way (README, "Layout of the repository"): dsl/ and src/ir/ import nothing
// internal; lowering joins the front end to the IR; codegen/ imports only the IR; a target imports
// codegen/, the IR and its own folder; only the driver (src/driver/) imports everything. Every
// import of every .ts file under dsl/ src/ codegen/ targets/ is checked, static and dynamic.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = process.cwd();

interface Rule {
  /** Folders (ending in /) or files, relative to the repository root, that this layer may import. */
  internal: (from: string) => string[];
  /** npm packages it may import (node: built-ins are always fine). */
  packages: string[];
}

const RULES: [test: (file: string) => boolean, name: string, rule: Rule][] = [
  [(f) => f.startsWith('dsl/'), 'the front end', { internal: () => ['dsl/'], packages: ['chevrotain'] }],
  [(f) => f.startsWith('src/ir/'), 'the IR', { internal: () => ['src/ir/'], packages: [] }],
  [(f) => f === 'src/lower.ts', 'lowering', { internal: () => ['src/lower.ts', 'dsl/', 'src/ir/'], packages: [] }],
  [(f) => f === 'src/oracle.ts', 'the oracle', { internal: () => ['src/oracle.ts', 'src/ir/'], packages: [] }],
  [(f) => f.startsWith('codegen/'), 'codegen', { internal: () => ['codegen/', 'src/ir/'], packages: [] }],
  [(f) => f.startsWith('targets/'), 'a target', { internal: (f) => [`${f.split('/').slice(0, 2).join('/')}/`, 'codegen/', 'src/ir/'], packages: ['ts-morph'] }],
  [(f) => f.startsWith('src/tuner/'), 'the tuner', { internal: () => ['src/tuner/', 'src/ir/'], packages: [] }],
  [(f) => f.startsWith('src/driver/'), 'the driver', { internal: () => ['dsl/', 'src/', 'codegen/', 'targets/'], packages: ['webgpu'] }],
];

/** The module specifiers a TypeScript source imports: import and export ... from (type-only too) and import(). */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The problems with one file's imports; file is relative to the repository root. */
export function importProblems(file: string, specifiers: string[]): string[] {
  const match = RULES.find(([test]) => test(file));
  if (!match) return [`${file}: no import rule covers this file (add one to test/imports.test.ts)`];
  const [, layer, rule] = match;
  const problems: string[] = [];
  for (const s of specifiers) {
    if (s.startsWith('node:')) continue;
    if (!s.startsWith('.')) {
      const pkg = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!;
      if (!rule.packages.includes(pkg)) problems.push(`${file}: ${layer} may not import the package '${s}'`);
      continue;
    }
    const target = normalize(join(dirname(file), s))
      .replace(/\\/g, '/')
      .replace(/\.js$/, '.ts');
    if (target.startsWith('..')) {
      problems.push(`${file}: '${s}' leaves the repository`);
      continue;
    }
    const allowed = rule.internal(file);
    if (!allowed.some((a) => (a.endsWith('/') ? target.startsWith(a) : target === a)))
      problems.push(`${file}: ${layer} may not import ${target} ('${s}'); it may import ${allowed.join(', ')}`);
  }
  return problems;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

describe('imports flow one way', () => {
  const files = ['dsl', 'src', 'codegen', 'targets'].flatMap(tsFiles);

  it('covers the source tree', () => {
    expect(files).toContain('src/driver/cli.ts');
    expect(files).toContain('targets/cuda/index.ts');
    expect(files.length).toBeGreaterThan(30);
  });

  it('every file under dsl/ src/ codegen/ targets/ imports only what its layer may', () => {
    const problems = files.flatMap((f) => importProblems(f, importsOf(readFileSync(join(ROOT, f), 'utf8'))));
    expect(problems).toEqual([]);
  });

  it('the checker itself catches bad imports (static, type-only and dynamic)', () => {
    expect(importsOf("import type { A } from '../src/ir/index.js';\nexport * from './b.js';\nconst m = await import('../targets/x/index.js');")).toEqual([
      '../src/ir/index.js',
      './b.js',
      '../targets/x/index.js',
    ]);
    expect(importProblems('codegen/x.ts', ['../src/ir/index.js', './writer.js', 'node:fs'])).toEqual([]);
    expect(importProblems('codegen/x.ts', ['../src/driver/cli.js'])).toHaveLength(1);
    expect(importProblems('codegen/x.ts', ['../dsl/index.js'])).toHaveLength(1);
    expect(importProblems('dsl/x.ts', ['../src/ir/index.js'])).toHaveLength(1);
    expect(importProblems('src/ir/x.ts', ['../lower.js'])).toHaveLength(1);
    expect(importProblems('src/ir/x.ts', ['chevrotain'])).toHaveLength(1);
    expect(importProblems('targets/wgsl/x.ts', ['../cuda/index.js'])).toHaveLength(1);
    expect(importProblems('targets/wgsl/x.ts', ['../../src/driver/pipeline.js'])).toHaveLength(1);
    expect(importProblems('targets/wgsl/x.ts', ['./plan.js', '../../codegen/writer.js', '../../src/ir/index.js', 'ts-morph'])).toEqual([]);
    expect(importProblems('src/driver/x.ts', ['../../targets/cuda/index.js', '../lower.js', '../../dsl/index.js'])).toEqual([]);
    expect(importProblems('src/new-thing.ts', [])).toHaveLength(1);
    expect(importProblems('src/tuner/x.ts', ['../ir/index.js', './cost.js', 'node:crypto'])).toEqual([]);
    expect(importProblems('src/tuner/x.ts', ['../../targets/cuda/config.js'])).toHaveLength(1);
    expect(importProblems('src/tuner/x.ts', ['../driver/shards.js'])).toHaveLength(1);
  });
});
