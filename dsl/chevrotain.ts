// chevrotain's runtime, loaded from the single-file bundle the package ships (lib/chevrotain.mjs).
// The package's entry point is some 300 small ES modules (lodash-es and friends) that take about
// 0.45 s to load; the bundle, the same code of the same version, takes about 0.02 s, which is most
// of `spc check`'s start-up. Types still come from 'chevrotain' (import type). Every runtime use of
// chevrotain in the front end goes through this module, so there is one chevrotain instance.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Chevrotain from 'chevrotain';

async function load(): Promise<typeof Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve('chevrotain'); // <package>/lib/src/api.js
    return (await import(pathToFileURL(join(dirname(entry), '..', 'chevrotain.mjs')).href)) as typeof Chevrotain;
  } catch {
    return import('chevrotain'); // a layout without the bundle: the slow, equivalent entry point
  }
}

const chevrotain = await load();
export const { createToken, CstParser, EOF, Lexer } = chevrotain;
