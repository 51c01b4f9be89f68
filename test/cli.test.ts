import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../src/driver/cli.js';
import { equalWidthBounds } from '../src/ir/index.js';

async function spc(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'spc-cli-'));
const examples = readdirSync('examples').filter((f) => f.endsWith('.spc')).map((f) => join('examples', f));

describe('spc check', () => {
  it('prints the band table of the paper layout', async () => {
    const r = await spc('check', 'examples/spattention-paper.spc', '--seq', '4096');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('layout spattention_paper: 16 heads');
    expect(r.stdout).toMatch(/^\s+0\s+\[0,256\)\s+d in \[0,256\)/m);
    expect(r.stdout).toMatch(/^\s+15\s+\[3840,4096\)/m);
    expect(r.stdout).toContain('total pairs 8390656 = 1.000 x one causal head');
  });

  it('--json gives one document with half-open distance ranges that reproduce Eq. 4', async () => {
    for (const [n, H] of [[4096, 16], [1000, 16], [77, 16], [5, 16]] as const) {
      const r = await spc('check', 'examples/spattention-paper.spc', '--seq', String(n), '--json');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      const L = doc.layouts[0];
      expect(L.name).toBe('spattention_paper');
      expect(L.n).toBe(n);
      const b = equalWidthBounds(n, H);
      L.heads.forEach((h: { head: number; ranges: number[][]; pairs: number }, k: number) => {
        expect(h.head).toBe(k);
        expect(h.ranges).toEqual(b[k] === b[k + 1] ? [] : [[b[k], b[k + 1]]]);
      });
      expect(L.heads.reduce((s: number, h: { pairs: number }) => s + h.pairs, 0)).toBe((n * (n + 1)) / 2);
    }
  });

  it('lists global tokens separately', async () => {
    const r = await spc('check', 'examples/sinks-window.spc', '--seq', '2048', '--json');
    const h = JSON.parse(r.stdout).layouts[0].heads[0];
    expect(h.ranges).toEqual([[0, 1024]]);
    expect(h.globals.keys).toEqual([[0, 4]]);
    expect(h.kv_head).toBe(0);
    expect(JSON.parse(r.stdout).layouts[0].heads[31].kv_head).toBe(7);
  });

  it('every example checks, shows and compiles to IR', async () => {
    for (const f of examples) {
      expect((await spc('check', f)).code, f).toBe(0);
      const shown = await spc('show', f);
      expect(shown.code, f).toBe(0);
      expect(shown.stdout).toContain('head 0');
      const out = tmp();
      const svg = await spc('show', f, '-o', join(out, 'p.svg'));
      expect(svg.code).toBe(0);
      const svgs = readdirSync(out).filter((x) => x.endsWith('.svg'));
      expect(svgs.length).toBeGreaterThan(0);
      for (const s of svgs) expect(readFileSync(join(out, s), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
      // Layouts with a fixed length refuse a different --seq (E081), so pass one only to symbolic specs.
      const seqArgs = /\bseq\s+\d/.test(readFileSync(f, 'utf8')) ? [] : ['--seq', '512'];
      const c = await spc('compile', f, '--target', 'ir', '-o', out, ...seqArgs);
      expect(c.code, c.stderr).toBe(0);
      const irs = readdirSync(out).filter((x) => x.endsWith('.ir.json'));
      expect(irs.length).toBeGreaterThan(0);
      for (const x of irs) {
        const doc = JSON.parse(readFileSync(join(out, x), 'utf8'));
        expect(doc.layout.groups.length).toBeGreaterThan(0);
        expect(doc.instance.heads.length).toBe(doc.layout.heads);
      }
    }
  });

  it('symbolic layouts compile to IR without N, and with it', async () => {
    const out = tmp();
    expect((await spc('compile', 'examples/spattention-balanced.spc', '--target', 'ir', '-o', out)).code).toBe(0);
    const doc = JSON.parse(readFileSync(join(out, 'spattention_balanced.ir.json'), 'utf8'));
    expect(doc.layout.partition).toEqual({ kind: 'equal_pairs' });
    expect(doc.instance).toBeUndefined();
  });
});

describe('CLI behaviour', () => {
  it('--help, help COMMAND, COMMAND --help, --version', async () => {
    expect((await spc('--help')).stdout).toContain('Commands:');
    for (const c of ['check', 'show', 'compile']) {
      const a = await spc(c, '--help');
      const b = await spc('help', c);
      expect(a.code).toBe(0);
      expect(a.stdout).toContain(`spc ${c}`);
      expect(b.stdout).toBe(a.stdout);
    }
    expect((await spc('--version')).stdout).toMatch(/^spc \d+\.\d+\.\d+\n$/);
  });

  it('usage errors exit 2 with a pointer to --help', async () => {
    for (const argv of [['frobnicate'], ['check'], ['check', 'a', 'b'], ['check', 'examples/dense-causal.spc', '--seq', 'abc'], ['check', 'examples/dense-causal.spc', '--bogus'], ['compile', 'examples/dense-causal.spc', '-o', 'x'], ['compile', 'examples/dense-causal.spc', '--target', 'ir']]) {
      const r = await spc(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^spc: .*\nRun 'spc .*--help' for usage\.\n$/);
      expect(r.stdout).toBe('');
    }
  });

  it('missing files, directories, empty and binary files: clear messages, exit 2', async () => {
    const d = tmp();
    writeFileSync(join(d, 'empty.spc'), '  \n');
    writeFileSync(join(d, 'bin.spc'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]));
    writeFileSync(join(d, 'latin1.spc'), Buffer.from([0x6c, 0x61, 0xe9, 0x0a]));
    const cases: [string, RegExp][] = [
      [join(d, 'nope.spc'), /error\[E090\]: cannot read .*nope\.spc: no such file/],
      [d, /error\[E091\]: .* is a directory/],
      [join(d, 'empty.spc'), /error\[E092\]: .*empty\.spc is empty/],
      [join(d, 'bin.spc'), /error\[E093\]: .*binary data/],
      [join(d, 'latin1.spc'), /error\[E093\]/],
    ];
    for (const [f, re] of cases) {
      const r = await spc('check', f);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('targets that are not built yet say so and write nothing', async () => {
    const out = join(tmp(), 'o');
    for (const t of ['cuda', 'wgsl', 'gpujs']) {
      const r = await spc('compile', 'examples/dense-causal.spc', '--target', t, '-o', out);
      if (r.code === 0) continue; // built by its own issue
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/not built yet/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('a spec error writes no output file, not even a partial one', async () => {
    const d = tmp();
    // The first layout is fine; the second breaks only at N = 64 (boundary 100 > N).
    writeFileSync(join(d, 'two.spc'), 'layout ok { heads 2 head_dim 8 pattern dense }\nlayout bad { heads 2 head_dim 8 partition explicit(0, 100, N) pattern band }\n');
    const out = join(d, 'out');
    const r = await spc('compile', join(d, 'two.spc'), '--target', 'ir', '-o', out, '--seq', '64');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('two.spc:2:55 error[E053]');
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('a fixed-length layout refuses a different --seq', async () => {
    for (const cmd of [['check'], ['show'], ['compile', '--target', 'ir', '-o', join(tmp(), 'o')]]) {
      const r = await spc(cmd[0]!, 'examples/sparse-transformer.spc', ...cmd.slice(1), '--seq', '100');
      expect(r.code, cmd[0]).toBe(2);
      expect(r.stderr).toContain('error[E081]');
    }
  });

  it('an output path that cannot be written is a diagnostic, not a crash', async () => {
    const d = tmp();
    writeFileSync(join(d, 'file'), 'x');
    const a = await spc('show', 'examples/dense-causal.spc', '-o', d);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(`error[E096]: cannot write ${d}: it is a directory`);
    const b = await spc('compile', 'examples/dense-causal.spc', '--target', 'ir', '-o', join(d, 'file'));
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/error\[E096\]: cannot write .*file.*: a file is in the way/);
  });

  it('--json errors are one JSON document on stdout too', async () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.spc'), 'layout a { heads 0 head_dim 8 pattern dense }');
    const r = await spc('check', join(d, 'bad.spc'), '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).errors[0]).toMatchObject({ code: 'E030', line: 1, col: 18 });
  });

  it('the installed binary runs: exit codes and streams', () => {
    mkdirSync('dist', { recursive: true });
    const ok = spawnSync('node', ['bin/spc.js', 'check', 'examples/spattention-paper.spc', '--seq', '64'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const bad = spawnSync('node', ['bin/spc.js', 'check', 'test/does-not-exist.spc'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('error[E090]');
    expect(execFileSync('node', ['bin/spc.js', '--version'], { encoding: 'utf8' })).toMatch(/^spc /);
  });
});
