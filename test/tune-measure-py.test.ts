// bench/cuda/tune_measure.py's own logic (rounds, failures, medians, the file spc tune --measured
// reads) with its child processes replaced by fakes: there is no GPU here. The kernels' timing
// itself runs only on the GPU machine.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('tune_measure.py --rounds', () => {
  it('times every candidate once per round in a fresh process, takes the median, drops a candidate that fails in any round', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-tm-'));
    const out = join(dir, 'measured.json');
    const log = JSON.parse(execFileSync('python3', ['test/tune_measure_rounds.py', dir, out], { encoding: 'utf8' }).trim().split('\n').at(-1)!);
    expect(log.exit).toBe(0);
    const m = JSON.parse(readFileSync(out, 'utf8'));
    expect(m.format).toBe('spc-tuning-measurements');
    const by = Object.fromEntries(m.results.map((r: { package: string }) => [r.package, r]));
    // p0: rounds 1, 3, 2 ms -> median 2; p1: 2, 6, 4 -> 4.
    expect(by.p0.measured_ms).toBe(2);
    expect(by.p0.round_ms).toEqual([1, 3, 2]);
    expect(by.p1.measured_ms).toBe(4);
    expect(by.p0.per_head_ms).toEqual([0.5, 0.7]);
    expect(by.p0.per_head_batch).toBe(2);
    // p2 crashed in round 2: failed, with the round named, no time, and no third round.
    expect(by.p2.measured_ms).toBeNull();
    expect(by.p2.failed).toMatch(/^round 2: time: exit -11/);
    expect(by.p2.per_head_ms).toBeNull();
    // p3 failed to build: never timed.
    expect(by.p3.failed).toMatch(/^build: exit 1: nvcc: error: boom/);
    const calls: [string, boolean][] = log.calls;
    expect(calls.filter((c) => c[0] === 'p3')).toEqual([]);
    expect(calls.filter((c) => c[0] === 'p2').length).toBe(2);
    // Per-head timing only in the first round; rounds interleave the candidates.
    expect(calls.filter((c) => c[1]).map((c) => c[0])).toEqual(['p0', 'p1', 'p2']);
    expect(calls.slice(0, 6).map((c) => c[0])).toEqual(['p0', 'p1', 'p2', 'p0', 'p1', 'p2']);
  });
});
