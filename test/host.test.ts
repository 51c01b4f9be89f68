import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsHostTable, pyHostTable } from '../codegen/host.js';
import { headTable, partitionBounds, type LayoutIR } from '../src/ir/index.js';
import { compileSource } from '../src/driver/pipeline.js';
import { readFileSync, readdirSync } from 'node:fs';

const examples = readdirSync('examples').filter((f) => f.endsWith('.spc'));
const layouts: LayoutIR[] = examples.flatMap((f) => compileSource(readFileSync(join('examples', f), 'utf8')));
const extra = compileSource(`
layout h7 { heads 7 kv_heads 1 head_dim 8 partition equal_pairs pattern band & stride(W / 4 + 1) | sinks(3) | queries(0, N / 10) }
layout h33 { heads 33 head_dim 8 causal false partition equal_width pattern band | dist(-W, 0) | fixed(16, 2) }
layout explicit3 { heads 3 head_dim 8 partition explicit(0, N / 3, 2 * N / 3, N) pattern band }
layout norez { heads 2 head_dim 8 pattern window(8) | fixed(16, h) }
`);
const all = [...layouts, ...extra];
const lengths = (l: LayoutIR) => (l.seq !== null ? [l.seq] : [1, 2, 3, 7, 16, 17, 100, 1000, 4095, 4096, 16384, 32768, 100003, 1 << 20]);

describe('host code builds the same head table as the IR', () => {
  it('JavaScript, for every example and many N', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-host-'));
    for (const l of all) {
      const file = join(dir, `${l.name}.mjs`);
      writeFileSync(file, jsHostTable(l));
      const mod = (await import(file)) as { headTable(n: number): Int32Array; partitionBounds(n: number): number[] | null };
      for (const n of lengths(l)) {
        expect(mod.headTable(n), `${l.name} N=${n}`).toEqual(headTable(l, n));
        expect(mod.partitionBounds(n)).toEqual(partitionBounds(l, n));
      }
    }
  });

  it('Python, for every example and many N', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-host-'));
    const cases: { name: string; n: number; want: number[] }[] = [];
    const script: string[] = ['import json, sys', 'out = {}'];
    for (const l of all) {
      writeFileSync(join(dir, `${l.name}_table.py`), pyHostTable(l));
      script.push(`import ${l.name}_table`);
      for (const n of lengths(l)) {
        cases.push({ name: l.name, n, want: [...headTable(l, n)] });
        script.push(`out['${l.name}:${n}'] = ${l.name}_table.head_table(${n})`);
      }
    }
    script.push('json.dump(out, sys.stdout)');
    writeFileSync(join(dir, 'run.py'), script.join('\n'));
    const got = JSON.parse(execFileSync('python3', ['run.py'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 })) as Record<string, number[]>;
    for (const c of cases) expect(got[`${c.name}:${c.n}`], `${c.name} N=${c.n}`).toEqual(c.want);
  });

  it('expressions past 2^53 evaluate exactly: the IR, the JavaScript and the Python tables agree with integer arithmetic', async () => {
    const big = compileSource(`
layout big1 { heads 1 head_dim 8 pattern window((N * N - 1) / N) }
layout big2 { heads 3 head_dim 8 causal false partition explicit(0, (N * N - 1) / N / 3, (N * N * N - 1) / (N * N) - N / 3, N) pattern dist(-((N * N - 1) / N) + S, (N * N + N) / N - W % 3) & stride((N * N * 7 - 1) % N + 1) | keys((N * N * N - 2) / (N * N), N) | fixed(N, (N * N - 2) % N) }
`);
    const ns = [999000000, 1 << 30, 999999937, 94906267, 94906266, 100, 7];
    // Exact values by Python's integers: (N*N-1)//N = N-1, and so on.
    expect([...headTable(big[0]!, 999000000)].slice(0, 2)).toEqual([0, 998999999]);
    const dir = mkdtempSync(join(tmpdir(), 'spc-host-big-'));
    const script: string[] = ['import json, sys', 'out = {}'];
    for (const l of big) {
      const file = join(dir, `${l.name}.mjs`);
      writeFileSync(file, jsHostTable(l));
      writeFileSync(join(dir, `${l.name}_table.py`), pyHostTable(l));
      script.push(`import ${l.name}_table`);
      const mod = (await import(file)) as { headTable(n: number): Int32Array; partitionBounds(n: number): number[] | null };
      for (const n of ns) {
        expect(mod.headTable(n), `${l.name} N=${n}`).toEqual(headTable(l, n));
        expect(mod.partitionBounds(n)).toEqual(partitionBounds(l, n));
        script.push(`out['${l.name}:${n}'] = ${l.name}_table.head_table(${n})`);
      }
    }
    script.push('json.dump(out, sys.stdout)');
    writeFileSync(join(dir, 'run.py'), script.join('\n'));
    const got = JSON.parse(execFileSync('python3', ['run.py'], { cwd: dir, encoding: 'utf8' })) as Record<string, number[]>;
    for (const l of big) for (const n of ns) expect(got[`${l.name}:${n}`], `${l.name} N=${n}`).toEqual([...headTable(l, n)]);
  });

  it('a term whose residue window is empty (head 0 of norez: fixed(16, 0)) gets an empty distance interval', () => {
    const l = extra.find((x) => x.name === 'norez')!;
    const t = headTable(l, 100);
    const f = t.length / (2 * 2); // fields per term (2 heads x 2 term slots)
    expect([t[f]!, t[f + 1]!]).toEqual([0, 0]); // head 0, slot 1: nothing allowed, nothing to walk
    expect(t[3 * f + 1]! > t[3 * f]!).toBe(true); // head 1, slot 1: j mod 16 in [15, 16) stays
  });

  it('host code rejects bad N and explicit boundaries that break at some N', async () => {
    const [l] = compileSource('layout e { heads 2 head_dim 8 partition explicit(0, 100, N) pattern band }');
    const dir = mkdtempSync(join(tmpdir(), 'spc-host-'));
    writeFileSync(join(dir, 'e.mjs'), jsHostTable(l!));
    const mod = (await import(join(dir, 'e.mjs'))) as { headTable(n: number): Int32Array };
    expect(() => mod.headTable(50)).toThrow(/decrease|out of range/);
    expect(() => mod.headTable(0)).toThrow(/N must be an integer in 1..1073741824/);
    expect(mod.headTable(200)).toEqual(headTable(l!, 200));
  });
});
