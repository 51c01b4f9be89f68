import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../src/driver/cli.js';
import { writeAtomically } from '../src/driver/pipeline.js';
import { SpecError } from '../dsl/index.js';
import { equalWidthBounds } from '../src/ir/index.js';

async function spc(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'spc-cli-'));
const examples = readdirSync('examples')
  .filter((f) => f.endsWith('.spc'))
  .map((f) => join('examples', f));

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
    for (const [n, H] of [
      [4096, 16],
      [1000, 16],
      [77, 16],
      [5, 16],
    ] as const) {
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
    for (const argv of [
      ['frobnicate'],
      ['check'],
      ['check', 'a', 'b'],
      ['check', 'examples/dense-causal.spc', '--seq', 'abc'],
      ['check', 'examples/dense-causal.spc', '--bogus'],
      ['compile', 'examples/dense-causal.spc', '-o', 'x'],
      ['compile', 'examples/dense-causal.spc', '--target', 'ir'],
    ]) {
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

  it('every target compiles; a target that refuses a layout says where and writes nothing', async () => {
    for (const t of ['ir', 'cuda', 'wgsl', 'gpujs']) {
      const out = join(tmp(), 'o');
      const r = await spc('compile', 'examples/dense-causal.spc', '--target', t, '-o', out);
      expect(r.code, `${t}: ${r.stderr}`).toBe(0);
      expect(readdirSync(out).length, t).toBeGreaterThan(0);
    }
    const d = tmp();
    // The first layout compiles for CUDA, the second does not (head_dim 96): neither is written.
    writeFileSync(join(d, 'x.spc'), 'layout ok { heads 2 head_dim 64 pattern dense }\nlayout d96 {\n  heads 2\n  head_dim 96\n  pattern dense\n}\n');
    const out = join(d, 'out');
    const r = await spc('compile', join(d, 'x.spc'), '--target', 'cuda', '-o', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('x.spc:4:12 error[E100]: the CUDA target supports head_dim 64 and 128; layout d96 has 96');
    expect(existsSync(out)).toBe(false);
    const unknown = await spc('compile', join(d, 'x.spc'), '--target', 'metal', '-o', out);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error[E094]: unknown target 'metal' (targets: ir, cuda, wgsl, gpujs)");
    expect(existsSync(out)).toBe(false);
  });

  it('a spec error writes no output file, not even a partial one', async () => {
    const d = tmp();
    // The first layout is fine; the second breaks only at N = 64 (boundary 100 > N).
    writeFileSync(
      join(d, 'two.spc'),
      'layout ok { heads 2 head_dim 8 pattern dense }\nlayout bad { heads 2 head_dim 8 partition explicit(0, 100, N) pattern band }\n',
    );
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

describe('options: one table per command', () => {
  const usage = (r: { code: number; stdout: string; stderr: string }, command: string) => {
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`\nRun 'spc ${command} --help' for usage\.\n$`));
    return r.stderr.split('\n')[0];
  };

  it('a command refuses the options it does not take, naming the ones it does', async () => {
    expect(usage(await spc('show', 'examples/spattention-paper.spc', '--target', 'cuda', '--shards', '3'), 'show')).toBe(
      'spc: show does not take --target (options: --seq, --layout, -o, --cells, --tuning)',
    );
    expect(usage(await spc('show', 'examples/spattention-paper.spc', '--shards', '3'), 'show')).toBe(
      'spc: show does not take --shards (options: --seq, --layout, -o, --cells, --tuning)',
    );
    expect(usage(await spc('compile', 'examples/dense-causal.spc', '--target', 'ir', '-o', tmp(), '--json'), 'compile')).toBe(
      'spc: compile does not take --json (options: --target, -o, --seq, --config, --tuning, --untuned)',
    );
    expect(usage(await spc('check', 'examples/dense-causal.spc', '-o', 'x.svg'), 'check')).toBe(
      'spc: check does not take -o (options: --seq, --layout, --tile, --shards, --json, --tuning)',
    );
    expect(usage(await spc('check', 'examples/dense-causal.spc', '--config', '{}'), 'check')).toMatch(/^spc: check does not take --config/);
    expect(usage(await spc('check', 'examples/dense-causal.spc', '--frobnicate'), 'check')).toBe(
      "spc: unknown option '--frobnicate' for check (options: --seq, --layout, --tile, --shards, --json, --tuning)",
    );
    expect(usage(await spc('check', 'examples/dense-causal.spc', '-x'), 'check')).toMatch(/^spc: unknown option '-x' for check/);
  });

  it('values starting with a dash reach the validator: spc says what is wrong, not the argument parser', async () => {
    const cases: [string[], string][] = [
      [['check', 'examples/dense-causal.spc', '--seq', '-5'], "spc: --seq must be a whole number between 1 and 2^30, got '-5'"],
      [['check', 'examples/dense-causal.spc', '--seq=-5'], "spc: --seq must be a whole number between 1 and 2^30, got '-5'"],
      [['show', 'examples/dense-causal.spc', '--seq', '0'], "spc: --seq must be a whole number between 1 and 2^30, got '0'"],
      [['check', 'examples/dense-causal.spc', '--seq', '2000000000'], "spc: --seq must be a whole number between 1 and 2^30, got '2000000000'"],
      [['check', 'examples/dense-causal.spc', '--tile', '-1x4'], "spc: --tile takes MxN such as 128x64, with M and N in 1..4096, got '-1x4'"],
      [['check', 'examples/dense-causal.spc', '--tile=64'], "spc: --tile takes MxN such as 128x64, with M and N in 1..4096, got '64'"],
      [['check', 'examples/dense-causal.spc', '--shards', '-1'], "spc: --shards must be a whole number between 1 and 2^30, got '-1'"],
      [['check', 'examples/dense-causal.spc', '--shards=-1'], "spc: --shards must be a whole number between 1 and 2^30, got '-1'"],
      [['show', 'examples/dense-causal.spc', '--cells', '-3'], "spc: --cells must be a whole number between 1 and 256, got '-3'"],
      [['check', 'examples/dense-causal.spc', '--seq'], 'spc: --seq needs a value (--seq N)'],
      [['check', 'examples/dense-causal.spc', '--json=yes'], "spc: --json takes no value, got 'yes'"],
      [['check', 'examples/dense-causal.spc', '--seq', '64', '--seq', '128'], 'spc: --seq is given twice'],
      [['compile', 'examples/dense-causal.spc', '-o', 'x'], 'spc: compile needs --target TARGET (one of ir, cuda, wgsl, gpujs)'],
      [['compile', 'examples/dense-causal.spc', '--target', 'ir'], 'spc: compile needs -o DIR'],
    ];
    for (const [argv, message] of cases) {
      const r = await spc(...argv);
      expect(r.stderr, argv.join(' ')).not.toMatch(/ambiguous|ERR_PARSE_ARGS/);
      expect(usage(r, argv[0]!), argv.join(' ')).toBe(message);
    }
  });

  it('--help is made from the same table: every option a command takes is in its usage line and option list', async () => {
    const takes: Record<string, string[]> = {
      check: ['--seq N', '--layout NAME', '--tile MxN', '--shards T', '--json', '--tuning RECORD'],
      show: ['--seq N', '--layout NAME', '-o FILE', '--cells K', '--tuning RECORD'],
      compile: ['--target TARGET', '-o DIR', '--seq N', '--config FILE_OR_JSON', '--tuning RECORD', '--untuned'],
      tune: [
        '--target TARGET',
        '--seq N[,N...]',
        '--plan-only',
        '--layout NAME',
        '--shards T',
        '--sms K',
        '--cost JSON',
        '--head-scale F,F,...',
        '--record FILE',
        '--write-spec FILE',
        '--emit DIR',
        '--emit-max K',
        '--measured FILE',
        '--plan RECORD',
        '--max-candidates K',
        '--budget SECONDS',
        '--timeout SECONDS',
        '--reps R',
        '--check-n N',
        '--backend NAME',
        '--include VARIANT[,...]',
        '--json',
      ],
    };
    for (const [cmd, options] of Object.entries(takes)) {
      const help = (await spc(cmd, '--help')).stdout;
      const [usageLine] = help.split('\n');
      for (const o of options) expect(usageLine, `${cmd} ${o}`).toContain(o);
      expect(usageLine!.match(/(?<![\w-])-{1,2}[a-z]+/g)).toHaveLength(options.length);
      for (const o of options) expect(help, `${cmd} ${o}`).toMatch(new RegExp(`^  (-o, --out|${o.split(' ')[0]}) ?`, 'm'));
    }
    expect((await spc('compile', '--help')).stdout).toContain("a kernel config (JSON) that overrides the target's heuristic; see targets/cuda/README.md");
  });

  it('compile --config: inline JSON or a file; bad JSON or a missing file is E107, a target without configs E106; nothing written', async () => {
    const d = tmp();
    const out = join(d, 'out');
    writeFileSync(join(d, 'bad.json'), '{"blockN": 64,');
    writeFileSync(join(d, 'ok.json'), '{"blockN": 64}');
    const cases: [string, RegExp][] = [
      ['{"blockN": ', /^examples\/dense-causal\.spc: error\[E107\]: --config: the inline config is not valid JSON: /],
      ['  {oops}', /error\[E107\]: --config: the inline config is not valid JSON/],
      [join(d, 'bad.json'), /error\[E107\]: --config: .*bad\.json is not valid JSON/],
      [join(d, 'missing.json'), /error\[E107\]: --config: cannot read .*missing\.json: no such file/],
      [d, /error\[E107\]: --config: cannot read .*: it is a directory/],
      ['/dev/zero', /error\[E107\]: --config: cannot read \/dev\/zero: larger than 1048576 bytes/], // a bounded read
      ['{"blockN": 64}', /error\[E106\]: the ir target takes no kernel config \(--config\)/],
      [join(d, 'ok.json'), /error\[E106\]: the ir target takes no kernel config/],
    ];
    for (const [config, re] of cases) {
      const r = await spc('compile', 'examples/dense-causal.spc', '--target', 'ir', '-o', out, '--config', config);
      expect(r.code, config).toBe(2);
      expect(r.stderr, config).toMatch(re);
      expect(existsSync(out), config).toBe(false);
    }
    // Names an object inherits are unknown fields too (E104), not an internal error.
    for (const key of ['toString', 'constructor', '__proto__']) {
      const r = await spc('compile', 'examples/dense-causal.spc', '--target', 'cuda', '-o', out, '--config', `{"sm90": {"${key}": 1}}`);
      expect(r.code, key).toBe(2);
      expect(r.stderr, key).toContain(`error[E104]: kernel config: unknown field 'sm90.${key}'`);
      expect(existsSync(out), key).toBe(false);
    }
    // spc tune --target wgsl: an unknown Dawn backend is a usage error (exit 2), before any adapter.
    const b = await spc('tune', 'examples/dense-causal.spc', '--target', 'wgsl', '--seq', '64', '--backend', 'foo');
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('--backend "foo": Dawn\'s backends are vulkan, opengl, opengles, null, d3d11, d3d12, metal, webgpu');
    // An empty -o is refused, not the current directory.
    const e = await spc('compile', 'examples/dense-causal.spc', '--target', 'ir', '-o', '');
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('error[E096]: cannot write "": an empty output path');
    expect(existsSync('dense_causal.ir.json')).toBe(false);
  });
});

describe('input limits', () => {
  it('check /dev/zero and an oversized file stop at 1 MiB with E097; 256 layouts at most (E027)', () => {
    const zero = spawnSync('node', ['bin/spc.js', 'check', '/dev/zero'], { encoding: 'utf8', timeout: 20000 });
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('error[E097]: /dev/zero is too large: a spec file may hold at most 1048576 bytes');
    const d = tmp();
    // 50 MB of layouts: refused by its size at once, not after minutes and the whole heap.
    writeFileSync(
      join(d, 'huge.spc'),
      Array.from({ length: 400_000 }, (_, k) => `layout a${k} { heads 1 head_dim 8 pattern window(${k + 1}) | sinks(1) }`).join('\n'),
    );
    const t0 = Date.now();
    const huge = spawnSync('node', ['bin/spc.js', 'check', join(d, 'huge.spc')], { encoding: 'utf8', timeout: 20000 });
    expect(huge.status).toBe(2);
    expect(huge.stderr).toContain('error[E097]');
    expect(Date.now() - t0).toBeLessThan(15000);
    // Under 1 MiB but 21000 layouts: E027 before any is checked.
    writeFileSync(join(d, 'many.spc'), Array.from({ length: 21000 }, (_, k) => `layout a${k}{heads 1 head_dim 8 pattern dense}`).join('\n'));
    const many = spawnSync('node', ['bin/spc.js', 'check', join(d, 'many.spc')], { encoding: 'utf8', timeout: 20000 });
    expect(many.status).toBe(2);
    expect(many.stderr).toContain('error[E027]: the file declares 21000 layouts (at most 256)');
  });
});

describe('output paths: devices, links, all files or none', () => {
  const tinySpec = (d: string) => {
    writeFileSync(join(d, 't.spc'), 'layout t { heads 2 head_dim 64 pattern dense }\n');
    return join(d, 't.spc');
  };

  it('a character device is written through, never replaced; its write errors are E096', async () => {
    // Copies of /dev/null and /dev/full (mknod: the tests run as root), so a regression cannot replace the real ones.
    const d = tmp();
    execFileSync('mknod', [join(d, 'null'), 'c', '1', '3']);
    execFileSync('mknod', [join(d, 'full'), 'c', '1', '7']);
    const nul = await spc('show', 'examples/dense-causal.spc', '-o', join(d, 'null'));
    expect(nul.code).toBe(0);
    expect(statSync(join(d, 'null')).isCharacterDevice()).toBe(true);
    const full = await spc('show', 'examples/dense-causal.spc', '-o', join(d, 'full'));
    expect(full.code).toBe(2);
    expect(full.stderr).toContain(`error[E096]: cannot write ${join(d, 'full')}: no space left on the device`);
    expect(full.stderr).not.toContain('wrote');
    expect(statSync(join(d, 'full')).isCharacterDevice()).toBe(true);
    expect(readdirSync(d).sort()).toEqual(['full', 'null']);
  });

  it('symbolic links are followed: the target file is replaced and the link stays; a dangling link is refused', async () => {
    const d = tmp();
    writeFileSync(join(d, 'real.svg'), 'old');
    symlinkSync('real.svg', join(d, 'link.svg'));
    const r = await spc('show', 'examples/dense-causal.spc', '-o', join(d, 'link.svg'));
    expect(r.code).toBe(0);
    expect(lstatSync(join(d, 'link.svg')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(d, 'real.svg'), 'utf8')).toMatch(/^<svg/);
    symlinkSync('nowhere.svg', join(d, 'dangling.svg'));
    const bad = await spc('show', 'examples/dense-causal.spc', '-o', join(d, 'dangling.svg'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('dangling');
    expect(lstatSync(join(d, 'dangling.svg')).isSymbolicLink()).toBe(true);
    expect(readdirSync(d).sort()).toEqual(['dangling.svg', 'link.svg', 'real.svg']);
  });

  it('a directory in the way of one output: nothing is written and the files already there are kept', async () => {
    const d = tmp();
    const spec = tinySpec(d);
    const out = join(d, 'out');
    expect((await spc('compile', spec, '--target', 'cuda', '-o', out)).code).toBe(0);
    const before = new Map(
      readdirSync(out, { recursive: true, encoding: 'utf8' })
        .filter((f) => statSync(join(out, f)).isFile())
        .map((f) => [f, readFileSync(join(out, f), 'utf8')]),
    );
    writeFileSync(spec, 'layout t { heads 4 head_dim 64 pattern dense }\n');
    rmSync(join(out, 't', '__init__.py'));
    mkdirSync(join(out, 't', '__init__.py'));
    const r = await spc('compile', spec, '--target', 'cuda', '-o', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('it is a directory');
    for (const [f, text] of before) if (f !== join('t', '__init__.py')) expect(readFileSync(join(out, f), 'utf8'), f).toBe(text);
    expect(readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('.spc-'))).toEqual([]);
    // Into a fresh directory: not one of the outputs appears.
    const fresh = join(d, 'fresh');
    mkdirSync(join(fresh, 't', '__init__.py'), { recursive: true });
    expect((await spc('compile', spec, '--target', 'cuda', '-o', fresh)).code).toBe(2);
    expect(readdirSync(fresh, { recursive: true, encoding: 'utf8' }).sort()).toEqual(['t', join('t', '__init__.py')]);
  });

  it('a rename that fails half-way is rolled back: replaced files are restored, new ones removed', () => {
    const d = tmp();
    writeFileSync(join(d, 'a'), 'old a');
    let n = 0;
    const rename = (from: string, to: string) => {
      if (++n === 3) throw Object.assign(new Error('boom'), { code: 'EIO', path: to });
      renameSync(from, to);
    };
    expect(() =>
      writeAtomically(
        d,
        [
          { path: 'a', contents: 'new a' },
          { path: 'sub/b', contents: 'b' },
          { path: 'c', contents: 'c' },
        ],
        { rename },
      ),
    ).toThrow(SpecError);
    expect(readFileSync(join(d, 'a'), 'utf8')).toBe('old a');
    expect(readdirSync(d)).toEqual(['a']);
  });

  it('compile -o under /proc is refused at once (no endless mkdir)', () => {
    const r = spawnSync('node', ['bin/spc.js', 'compile', 'examples/dense-causal.spc', '--target', 'ir', '-o', '/proc/spc-test/x'], {
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E096]: cannot write /proc/spc-test');
  });
});

describe('SVG pictures', () => {
  const svgOf = async (pattern: string, extra: string[] = []) => {
    const d = tmp();
    writeFileSync(join(d, 'p.spc'), `layout p { heads 4 head_dim 64 ${pattern} }\n`);
    const r = await spc('show', join(d, 'p.spc'), '--seq', '1024', '-o', join(d, 'p.svg'), ...extra);
    return { ...r, svg: r.code === 0 ? readFileSync(join(d, 'p.svg'), 'utf8') : '' };
  };
  /** The orange rectangles of each panel's distance bar, as [x, width]. */
  const bars = (svg: string) =>
    svg
      .split('<g transform')
      .slice(1)
      .map((g) => [...g.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="10" fill="#d9822b"\/>/g)].map((m) => [Number(m[1]), Number(m[2])]));

  it('--cells is capped with a range message', async () => {
    const r = await svgOf('pattern dense', ['--cells', '2000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--cells must be a whole number between 1 and 256, got '2000'");
    expect((await svgOf('pattern dense', ['--cells', '256'])).code).toBe(0);
  });

  it('panel titles fit their panel (cut with an ellipsis, the full text as a tooltip)', async () => {
    const r = await svgOf('pattern window(100) | sinks(4) | dist(300, 400) | keys(500, 600) | stride(64) | dilated(8, 16)');
    expect(r.code).toBe(0);
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(r.svg)![1]) - 20;
    const panelW = width / 4;
    const titles = [...r.svg.matchAll(/<text x="0" y="12">([^<]*)<title>([^<]*)<\/title>/g)];
    expect(titles.length).toBe(4);
    for (const [, shown, full] of titles) {
      expect(shown!.length * 6.8, shown).toBeLessThanOrEqual(panelW - 8);
      expect(full!.length).toBeGreaterThan(shown!.length);
      expect(shown!.endsWith('\u2026')).toBe(true);
    }
  });

  it('the distance bar shows dilated and strided heads, not only their window part', async () => {
    const dil = bars((await svgOf('pattern dilated(8, 16)')).svg)[0]!;
    // d in {0, 16, ..., 112} of 0..1023 on a 192-pixel bar: 8 separate ticks within the first 22 pixels.
    expect(dil.length).toBe(8);
    for (const [x] of dil) expect(x).toBeLessThan(22);
    const str = bars((await svgOf('pattern window(64) | stride(4)')).svg)[0]!;
    // Every pixel (about 5 distances) holds a multiple of 4: the whole bar.
    expect(str).toEqual([[0, 192]]);
    const sparse = bars((await svgOf('pattern stride(256)')).svg)[0]!;
    expect(sparse.map(([x]) => x)).toEqual([0, 48, 96, 144]);
  });
});
