// The training examples (examples/train/, issue 16) as far as they run without a GPU or torch:
// the scripts are valid Python with no unused or undefined names, the task generators keep their
// invariants, and examples/train/prepare.ts writes exactly the packages the scripts import, with
// the heads, KV heads, head dim and bands their names promise. The runs themselves need the GPU
// machine (examples/train/README.md).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PATTERNS, SHAPES, packageName, prepare } from '../examples/train/prepare.js';

const SCRIPTS = ['examples/train/gpt.py', 'examples/train/tasks.py', 'examples/train/hf_llama.py', 'examples/train/_packages.py'];
// Python with torch made unimportable, as on this machine, whatever is installed: the packages and
// _packages.py must work without it.
const NO_TORCH = 'import sys; sys.modules["torch"] = None\n';

function py(script: string, args: string[] = [], cwd?: string): string {
  return execFileSync('python3', ['-c', NO_TORCH + script, ...args], { encoding: 'utf8', cwd });
}

describe('examples/train scripts', () => {
  it('are every Python file of examples/train, and pyflakes finds nothing in them', () => {
    expect(
      readdirSync('examples/train')
        .filter((f) => f.endsWith('.py'))
        .map((f) => `examples/train/${f}`)
        .sort(),
    ).toEqual([...SCRIPTS].sort());
    // pyflakes3 exits non-zero on any finding and prints it; clean means no output at all.
    expect(execFileSync('pyflakes3', SCRIPTS, { encoding: 'utf8' })).toBe('');
  });

  it('compile (py_compile, into a temporary folder)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-train-pyc-'));
    const out = py(
      'import py_compile, sys\nfor i, f in enumerate(sys.argv[1:]):\n    py_compile.compile(f, cfile=f"' + dir + '/{i}.pyc", doraise=True)\nprint("ok")',
      SCRIPTS,
    );
    expect(out.trim()).toBe('ok');
    expect(readdirSync(dir)).toHaveLength(SCRIPTS.length);
  });

  it("tasks.py's generators keep their invariants (its --selftest)", () => {
    const out = execFileSync('python3', ['examples/train/tasks.py', '--selftest'], { encoding: 'utf8' });
    expect(out).toContain('ok copy N=2048 64 per sequence: 192 answers');
    expect(out).toContain('ok mqar N=2048 64 per sequence: 192 answers');
    expect(out.trim().split('\n').at(-1)).toBe('selftest passed');
  });

  it('the selftest fails on broken data (it checks something)', () => {
    // A copy batch whose target is changed must be caught by the same checks.
    const script = [
      'sys.path.insert(0, "examples/train"); import tasks',
      'b = tasks.make_batch("copy", 1, 2, 256, 8)',
      'b[3][0] = tasks.VALUE0 + (b[3][0] - tasks.VALUE0 + 1) % tasks.VALUES',
      'try:\n    tasks._check_batch("copy", *b, 256, 8)\nexcept AssertionError as e:\n    print("caught:", e)',
    ].join('\n');
    expect(py(script)).toMatch(/^caught: copy: the target is not the next token/);
  });

  const dir = mkdtempSync(join(tmpdir(), 'spc-train-pkg-'));
  const prepared = prepare(dir);

  it('prepare.ts writes exactly the packages _packages.py names (the ones gpt.py, tasks and hf_llama.py load)', () => {
    const wanted = execFileSync('python3', ['examples/train/_packages.py'], { encoding: 'utf8' }).trim().split('\n');
    expect(wanted).toHaveLength(6);
    expect([...prepared].sort()).toEqual([...wanted].sort());
    expect(SHAPES.flatMap(([H, KV, D]) => Object.keys(PATTERNS).map((p) => packageName(p, H, KV, D))).sort()).toEqual([...wanted].sort());
    for (const name of wanted)
      for (const f of ['__init__.py', '_op.py', '_table.py', '_layout.py', 'kernel.cu', 'binding.cpp'])
        expect(existsSync(join(dir, name, f)), `${name}/${f}`).toBe(true);
    const listing = JSON.parse(readFileSync(join(dir, 'layouts.json'), 'utf8')) as { name: string }[];
    expect(listing.map((l) => l.name).sort()).toEqual([...wanted].sort());
  });

  it('each package imports without torch and has the shape and bands its name says', () => {
    // Through _packages.load (what the scripts call): heads, KV heads, head dim; and at N = 2048 the
    // head table's distance intervals per head: paper [128 h, 128 (h + 1)); released the same
    // plus d <= 128 (window(W + 1)); balanced: equal-pairs bands, each with 1/16 of the pairs to
    // within N.
    const script = `
import json
sys.path.insert(0, "examples/train")
import _packages
out = {}
N = 2048
for name in _packages.required():
    m = _packages.load(sys.argv[1], name)
    t = m._table.head_table(N)
    f, slots = m._table.FIELDS_PER_TERM, m._table.TERM_SLOTS
    assert m._table.MOD_SLOTS == 0
    heads = []
    for h in range(m.HEADS):
        iv = sorted(tuple(t[(h * slots + s) * f:(h * slots + s) * f + 2]) for s in range(slots) if t[(h * slots + s) * f] < t[(h * slots + s) * f + 1])
        for s in range(slots):
            assert t[(h * slots + s) * f + 2:(h * slots + s) * f + 6] in ([0, N, 0, N], [0, 0, 0, 0]), "pure distance bands"
        heads.append(iv)
    out[name] = dict(heads=m.HEADS, kv=m.KV_HEADS, d=m.HEAD_DIM, layout=m.LAYOUT, intervals=heads, bounds=_packages.partition_bounds(m, N))
print(json.dumps(out))
`;
    const got = JSON.parse(py(script, [dir])) as Record<
      string,
      { heads: number; kv: number; d: number; layout: string; intervals: number[][][]; bounds: number[] }
    >;
    const N = 2048;
    for (const [H, KV, D] of SHAPES)
      for (const p of Object.keys(PATTERNS)) {
        const name = packageName(p, H, KV, D);
        const g = got[name]!;
        expect([g.heads, g.kv, g.d, g.layout], name).toEqual([H, KV, D, name]);
        expect(g.bounds).toHaveLength(H + 1);
        for (let h = 0; h < H; h++) {
          const band = [g.bounds[h]!, g.bounds[h + 1]!];
          if (p === 'paper') {
            expect(band).toEqual([128 * h, 128 * (h + 1)]);
            expect(g.intervals[h]).toEqual([band]);
          } else if (p === 'released') {
            expect(band).toEqual([128 * h, 128 * (h + 1)]);
            expect(g.intervals[h]).toEqual(
              h === 0
                ? [
                    [0, 128],
                    [0, 129],
                  ]
                : [[0, 129], band],
            );
          } else {
            const pairs = (a: number, b: number) => (b - a) * N - ((a + b - 1) * (b - a)) / 2;
            expect(Math.abs(pairs(band[0]!, band[1]!) - (N * (N + 1)) / 2 / H), `${name} head ${h}`).toBeLessThanOrEqual(N);
            expect(g.intervals[h]).toEqual([band]);
          }
        }
      }
    // Balanced: head 0's band is much narrower than the paper's (the work is spread evenly).
    expect(got[packageName('balanced', 16, 16, 64)]!.bounds[1]).toBeLessThan(128);
  });
});
