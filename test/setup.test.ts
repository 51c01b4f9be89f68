// `npm test` on a fresh machine: its pretest installs what the suite needs (and .ci/run uses the same step).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('set-up: npm test installs the system packages it needs', () => {
  it('pretest runs .ci/ensure-system.sh, and .ci/run calls the same script', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('bash .ci/ensure-system.sh');
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^bash \.ci\/ensure-system\.sh/m);
  });

  it('with everything present it returns at once, installing nothing; a missing piece is named with its install step', () => {
    const t0 = Date.now();
    const ok = spawnSync('bash', ['.ci/ensure-system.sh'], { encoding: 'utf8', env: { ...process.env, SPC_ENSURE_DRY_RUN: '1' } });
    expect(ok.status).toBe(0);
    expect(ok.stderr).toBe('');
    expect(Date.now() - t0).toBeLessThan(5000);
    const missing = spawnSync('bash', ['.ci/ensure-system.sh'], {
      encoding: 'utf8',
      env: { ...process.env, SPC_ENSURE_DRY_RUN: '1', SPC_CHROMIUM: '/nonexistent/chromium' },
    });
    expect(missing.status).toBe(0);
    expect(missing.stderr).toContain('missing chromium (.ci/install.d/20-webgpu.sh)');
  });
});
