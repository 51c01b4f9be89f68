// The spec hash of a layout: what a tuning record (src/tuner/record.ts) is keyed by, and what a
// target's package embeds to recognise records made for it (the CUDA package's run-time cache).
import { createHash } from 'node:crypto';
import type { LayoutIR } from './types.js';

/** Sorted keys, so the hash does not depend on property order. */
function canonical(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(canonical);
  if (typeof x === 'object' && x !== null)
    return Object.fromEntries(
      Object.keys(x)
        .sort()
        .map((k) => [k, canonical((x as Record<string, unknown>)[k])]),
    );
  return x;
}

/**
 * A hash of what a layout means (heads, dims, dtype, seq, causal, partition, patterns), not of how
 * it is written: comments, spacing and source positions do not change it; tuned bands given to the
 * layout do not either. "sha256:" and 64 hex digits.
 */
export function specHash(layout: LayoutIR): string {
  const stripped = JSON.parse(JSON.stringify(layout, (k, v: unknown) => (k === 'loc' || k === 'locs' ? undefined : v))) as Omit<LayoutIR, 'partition'> & {
    partition: Record<string, unknown> | null;
  };
  if (stripped.partition && stripped.partition.kind === 'tuned') {
    delete stripped.partition.bands;
    delete stripped.partition.useBase;
  }
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(canonical(stripped)))
    .digest('hex')}`;
}
