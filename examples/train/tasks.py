"""Synthetic long-range lookup tasks, generated here from a seed (no downloads).

Both tasks are next-token prediction scored only at answer positions. The vocabulary has three
disjoint ranges: filler tokens, key tokens and value tokens, so a key token appears in a sequence
only where the task put it.

- copy: filler everywhere; `lookups` times, a pair (key, value) at positions j, j+1 and the same
  pair again at i, i+1 with i - j = d drawn uniformly from [2, N/2]. At position i (the key's
  second occurrence) the model must predict the value: a copy of the token at distance d - 1,
  found by matching the key at distance d. Keys are distinct within a sequence.
- mqar (multi-query associative recall): the sequence opens with `pairs` (key, value) pairs
  (k1 v1 k2 v2 ...), filler follows, and every key is queried once at a random later position q
  (the key, then its value): at q the model must predict the key's value. d = q - (the key's first
  position) runs from a few tokens up to about N.

The lookup distance d of every answer is kept, for accuracy by distance: with band attention,
head h only sees distances in its band [S_h, S_h+1), so a lookup at a distance beyond head 0's band
must be found by the head whose band holds it (through depth: the value's position first learns
its key from the previous token, d = 1, in head 0's band).

Pure Python (random.Random), so the same seed gives the same data everywhere, and this file runs
without torch: `python3 examples/train/tasks.py --selftest` checks the generators' invariants.
"""
import random
import sys

FILLER = 256
KEYS = 256
VALUES = 256
VOCAB = FILLER + KEYS + VALUES
KEY0 = FILLER  # key tokens: KEY0 .. KEY0 + KEYS - 1
VALUE0 = FILLER + KEYS  # value tokens: VALUE0 .. VOCAB - 1

TASKS = ("copy", "mqar")


def _check_alphabet(alphabet):
    if not (isinstance(alphabet, int) and 1 <= alphabet <= min(KEYS, VALUES)):
        raise ValueError(f"the alphabet (keys and values used) must be 1..{min(KEYS, VALUES)}, got {alphabet!r}")


def copy_sequence(rng, n, lookups, alphabet=KEYS):
    """(tokens, answers): tokens a list of n ints; answers [(position, target, distance)], one per lookup.
    alphabet: how many of the key tokens and of the value tokens are used (fewer: an easier task)."""
    _check_alphabet(alphabet)
    if lookups > alphabet:
        raise ValueError(f"copy: at most {alphabet} lookups per sequence (distinct keys), got {lookups}")
    if n < 8:
        raise ValueError(f"copy: the sequence length must be at least 8, got {n}")
    seq = rng.choices(range(FILLER), k=n)
    used = bytearray(n)
    answers = []
    for key in rng.sample(range(alphabet), lookups):
        for _ in range(1000):
            d = rng.randint(2, n // 2)
            j = rng.randrange(0, n - d - 1)  # pair at (j, j+1), again at (i, i+1) with i + 1 <= n - 1
            i = j + d
            if not (used[j] or used[j + 1] or used[i] or used[i + 1]):
                break
        else:
            raise RuntimeError(f"copy: could not place {lookups} lookups in a sequence of {n} tokens")
        value = VALUE0 + rng.randrange(alphabet)
        seq[j] = seq[i] = KEY0 + key
        seq[j + 1] = seq[i + 1] = value
        for p in (j, j + 1, i, i + 1):
            used[p] = 1
        answers.append((i, value, d))
    answers.sort()
    return seq, answers


def mqar_sequence(rng, n, pairs, alphabet=KEYS):
    """(tokens, answers) as copy_sequence; pairs (key, value) first, each key queried once later."""
    _check_alphabet(alphabet)
    if pairs > alphabet:
        raise ValueError(f"mqar: at most {alphabet} pairs per sequence (distinct keys), got {pairs}")
    slots = (n - 1 - 2 * pairs) // 2  # query slots (q, q + 1) after the pairs, q = 2 pairs + 2 s
    if slots < pairs:
        raise ValueError(f"mqar: {pairs} pairs and their queries need a sequence of at least {4 * pairs + 1} tokens, got {n}")
    seq = rng.choices(range(FILLER), k=n)
    keys = rng.sample(range(alphabet), pairs)
    values = [VALUE0 + rng.randrange(alphabet) for _ in range(pairs)]
    for p in range(pairs):
        seq[2 * p] = KEY0 + keys[p]
        seq[2 * p + 1] = values[p]
    answers = []
    for p, s in zip(rng.sample(range(pairs), pairs), rng.sample(range(slots), pairs)):
        q = 2 * pairs + 2 * s
        seq[q] = KEY0 + keys[p]
        seq[q + 1] = values[p]
        answers.append((q, values[p], q - 2 * p))
    answers.sort()
    return seq, answers


def make_batch(task, seed, batch, n, per_sequence, alphabet=KEYS):
    """One batch as plain lists: tokens [batch][n]; rows, positions, targets, distances (one entry per
    answer). The same (task, seed, batch, n, per_sequence, alphabet) always gives the same batch."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    rng = random.Random(f"{task}:{seed}:{batch}:{n}:{per_sequence}" + (f":{alphabet}" if alphabet != KEYS else ""))
    gen = copy_sequence if task == "copy" else mqar_sequence
    tokens, rows, positions, targets, distances = [], [], [], [], []
    for b in range(batch):
        seq, answers = gen(rng, n, per_sequence, alphabet)
        tokens.append(seq)
        for pos, target, d in answers:
            rows.append(b)
            positions.append(pos)
            targets.append(target)
            distances.append(d)
    return tokens, rows, positions, targets, distances


def bucket_edges(n):
    """Distance buckets [e_k, e_k+1): [1, 64), then powers of two up to n (every distance is below n)."""
    edges = [1, 64]
    while edges[-1] < n:
        edges.append(min(2 * edges[-1], n))
    return edges


def bucketed(distances, correct, n):
    """[{lo, hi, count, accuracy}] per distance bucket (accuracy None for an empty bucket)."""
    edges = bucket_edges(n)
    out = []
    for lo, hi in zip(edges, edges[1:]):
        hits = [c for d, c in zip(distances, correct) if lo <= d < hi]
        out.append(dict(lo=lo, hi=hi, count=len(hits), accuracy=(sum(hits) / len(hits)) if hits else None))
    return out


def _check_batch(task, tokens, rows, positions, targets, distances, n, per_sequence):
    """The invariants of a batch; raises AssertionError with a message on the first broken one."""
    assert len(rows) == len(tokens) * per_sequence, f"{task}: {len(rows)} answers for {len(tokens)} sequences"
    for seq in tokens:
        assert len(seq) == n and all(0 <= t < VOCAB for t in seq), f"{task}: a sequence is not {n} tokens of the vocabulary"
    seen = set()
    for b, pos, target, d in zip(rows, positions, targets, distances):
        seq = tokens[b]
        key = seq[pos]
        assert KEY0 <= key < VALUE0, f"{task}: position {pos} holds {key}, not a key token"
        assert VALUE0 <= target < VOCAB, f"{task}: target {target} is not a value token"
        assert seq[pos + 1] == target, f"{task}: the target is not the next token"
        occurrences = [p for p, t in enumerate(seq) if t == key]
        assert occurrences == [pos - d, pos], f"{task}: key {key} at {occurrences}, expected [{pos - d}, {pos}]"
        assert seq[pos - d + 1] == target, f"{task}: the first occurrence of key {key} is not followed by the target"
        hi = n // 2 if task == "copy" else n
        assert 2 <= d <= hi, f"{task}: distance {d} outside [2, {hi}]"
        assert (b, pos) not in seen, f"{task}: two answers at one position"
        seen.add((b, pos))


def selftest():
    for task, n, per in (("copy", 2048, 64), ("copy", 64, 8), ("mqar", 2048, 64), ("mqar", 37, 8)):
        batch = make_batch(task, 1, 3, n, per)
        _check_batch(task, *batch, n, per)
        assert make_batch(task, 1, 3, n, per) == batch, f"{task}: the same seed gave different data"
        assert make_batch(task, 2, 3, n, per)[0] != batch[0], f"{task}: two seeds gave the same data"
        b = bucketed(batch[4], [True] * len(batch[4]), n)
        assert sum(x["count"] for x in b) == len(batch[4]), f"{task}: the buckets do not cover every distance"
        print(f"ok {task} N={n} {per} per sequence: {len(batch[1])} answers, distances {min(batch[4])}..{max(batch[4])}")
    # copy at N = 2048: distances spread over [2, 1024], most of them beyond a 128-wide head-0 band
    d = make_batch("copy", 5, 16, 2048, 64)[4]
    far = sum(x >= 128 for x in d) / len(d)
    assert 0.8 < far < 0.95, f"copy: {far:.2f} of the distances are >= 128, expected about 0.88"
    assert bucket_edges(2048) == [1, 64, 128, 256, 512, 1024, 2048], bucket_edges(2048)
    # A smaller alphabet: only keys KEY0 .. KEY0 + 31 and values VALUE0 .. VALUE0 + 31 occur.
    for task in TASKS:
        batch = make_batch(task, 3, 4, 256, 8, alphabet=32)
        _check_batch(task, *batch, 256, 8)
        used = {t for seq in batch[0] for t in seq if t >= KEY0}
        assert all(KEY0 <= t < KEY0 + 32 or VALUE0 <= t < VALUE0 + 32 for t in used), f"{task}: a token outside the 32-letter alphabet"
    print("selftest passed")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        selftest()
    else:
        sys.exit("usage: python3 examples/train/tasks.py --selftest   (the learning runs: python3 examples/train/gpt.py learn --help)")
