// `spc check` and `spc show` must not load any target (the gpu.js target pulls in ts-morph, about
// half a second): targets are imported on first use (src/driver/pipeline.ts, getTarget). A fresh
// node process runs the CLI from source with a module hook that records every module it loads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'spc-startup-'));
const hooks = join(dir, 'hooks.mjs');
// Loader hooks run on their own thread; each resolved URL is appended to the file named by SPC_LOADED.
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.SPC_LOADED, r.url + '\\n');
  return r;
}
`,
);
const register = join(dir, 'register.mjs');
writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

/** Runs `spc ARGV` from the TypeScript sources in a fresh process; returns its exit code and the modules it loaded. */
function loaded(argv: string[]): { status: number | null; stderr: string; urls: string[] } {
  const log = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  const cli = pathToFileURL(join(process.cwd(), 'src/driver/cli.ts')).href;
  const script = `const { run } = await import(${JSON.stringify(cli)});
process.exitCode = await run(${JSON.stringify(argv)}, { stdout: () => {}, stderr: (s) => process.stderr.write(s) });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(register).href, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, SPC_LOADED: log },
  });
  return { status: r.status, stderr: r.stderr, urls: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const root = pathToFileURL(process.cwd()).href;
const inRepo = (urls: string[], folder: string) => urls.filter((u) => u.startsWith(`${root}/${folder}`));

describe('start-up', () => {
  it('spc check and spc show load no target and not ts-morph', () => {
    for (const cmd of ['check', 'show']) {
      const r = loaded([cmd, 'examples/spattention-paper.spc', '--seq', '256']);
      expect(r.status, r.stderr).toBe(0);
      expect(inRepo(r.urls, 'src/driver/').length, 'the hook saw the driver load').toBeGreaterThan(0);
      expect(inRepo(r.urls, 'targets/')).toEqual([]);
      expect(r.urls.filter((u) => u.includes('/node_modules/ts-morph/'))).toEqual([]);
      // chevrotain comes from its one-file bundle, not the ~300 modules of its entry point
      expect(r.urls.filter((u) => u.includes('/node_modules/chevrotain/'))).toEqual([expect.stringMatching(/\/chevrotain\/lib\/chevrotain\.mjs$/)]);
    }
  });

  it('spc compile loads the one target it uses (so the hook does see targets)', () => {
    const r = loaded(['compile', 'examples/dense-causal.spc', '--target', 'ir', '-o', join(dir, 'out')]);
    expect(r.status, r.stderr).toBe(0);
    const targets = new Set(
      inRepo(r.urls, 'targets/').map((u) =>
        u
          .slice(root.length + 1)
          .split('/')
          .slice(0, 2)
          .join('/'),
      ),
    );
    expect([...targets]).toEqual(['targets/ir']);
  });
});
