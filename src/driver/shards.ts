// Tensor-parallel shards: each of T ranks owns H/T heads. With equal-width bands the rank that
// owns the short-distance heads does most of the work; this reports each shard's share and
// finds a head-to-shard assignment (equal head counts) whose largest shard is as small as
// the greedy-plus-swaps search below can make it.

export interface ShardReport {
  shards: number;
  /** heads[s] = the heads shard s owns. */
  heads: number[][];
  /** Work per shard (same unit as the input). */
  work: number[];
  /** max/mean over shards; 1 is perfectly balanced. */
  imbalance: number;
}

function report(assign: number[][], work: readonly number[]): ShardReport {
  const w = assign.map((hs) => hs.reduce((s, h) => s + work[h]!, 0));
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  return { shards: assign.length, heads: assign.map((hs) => [...hs].sort((a, b) => a - b)), work: w, imbalance: mean === 0 ? 1 : Math.max(...w) / mean };
}

export function checkShards(heads: number, shards: number): void {
  if (!Number.isInteger(shards) || shards < 1 || heads % shards !== 0) throw new RangeError(`--shards ${shards} must divide the ${heads} heads`);
}

/** Heads in order, H/T per shard: what tensor parallelism does by default. */
export function contiguousShards(work: readonly number[], shards: number): ShardReport {
  checkShards(work.length, shards);
  const per = work.length / shards;
  return report(
    Array.from({ length: shards }, (_, s) => Array.from({ length: per }, (_, k) => s * per + k)),
    work,
  );
}

/**
 * A balanced assignment with H/T heads per shard. Two starts, longest work first onto the
 * lightest shard with room, and heads in order; each improved by swapping one head between the
 * heaviest shard and another while the heaviest gets lighter; the better result wins, so it is
 * never worse than heads in order. Deterministic.
 */
export function balancedShards(work: readonly number[], shards: number): ShardReport {
  checkShards(work.length, shards);
  const per = work.length / shards;
  const order = work.map((w, h) => [w, h] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const greedy: number[][] = Array.from({ length: shards }, () => []);
  const load = Array<number>(shards).fill(0);
  for (const [w, h] of order) {
    let best = -1;
    for (let s = 0; s < shards; s++) if (greedy[s]!.length < per && (best < 0 || load[s]! < load[best]!)) best = s;
    greedy[best]!.push(h);
    load[best]! += w;
  }
  const inOrder = contiguousShards(work, shards).heads;
  const candidates = [greedy, inOrder].map((a) => report(improveBySwaps(a, work), work));
  return candidates[1]!.imbalance < candidates[0]!.imbalance ? candidates[1]! : candidates[0]!;
}

function improveBySwaps(start: number[][], work: readonly number[]): number[][] {
  const assign = start.map((hs) => [...hs]);
  const load = assign.map((hs) => hs.reduce((s, h) => s + work[h]!, 0));
  for (let rounds = 0; rounds < 1000; rounds++) {
    const heavy = load.indexOf(Math.max(...load));
    let bestGain = 0;
    let move: [number, number, number] | null = null; // [other shard, index in heavy, index in other]
    for (let o = 0; o < assign.length; o++) {
      if (o === heavy) continue;
      for (let a = 0; a < assign[heavy]!.length; a++)
        for (let b = 0; b < assign[o]!.length; b++) {
          const d = work[assign[heavy]![a]!]! - work[assign[o]![b]!]!;
          // Swapping moves d of work off the heavy shard; it helps while the other stays lighter.
          const gain = load[heavy]! - Math.max(load[heavy]! - d, load[o]! + d);
          if (d > 0 && gain > bestGain) [bestGain, move] = [gain, [o, a, b]];
        }
    }
    if (!move) break;
    const [o, a, b] = move;
    const ha = assign[heavy]![a]!;
    const hb = assign[o]![b]!;
    assign[heavy]![a] = hb;
    assign[o]![b] = ha;
    load[heavy]! += work[hb]! - work[ha]!;
    load[o]! += work[ha]! - work[hb]!;
  }
  return assign;
}

/**
 * Shards in units of KV groups: with GQA a rank must own whole groups of `group` query heads that
 * share a KV head, so the search runs over groups (work summed per group) and the result lists
 * heads. `plan` is contiguousShards or balancedShards.
 */
export function groupedShards(work: readonly number[], group: number, shards: number, plan: (w: readonly number[], t: number) => ShardReport): ShardReport {
  if (group === 1) return plan(work, shards);
  const groups = Array.from({ length: work.length / group }, (_, g) => work.slice(g * group, (g + 1) * group).reduce((a, b) => a + b, 0));
  const r = plan(groups, shards);
  return { ...r, heads: r.heads.map((gs) => gs.flatMap((g) => Array.from({ length: group }, (_, i) => g * group + i))) };
}
