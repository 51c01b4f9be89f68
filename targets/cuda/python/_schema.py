# The spc head-table schema (generated from src/ir/schema.ts; do not edit). A term slot is
# D_LO, D_HI, K_LO, K_HI, Q_LO, Q_HI, then mod slots (MOD_ON, MOD_M, MOD_LO, MOD_HI) at
# MOD_BASE + MOD_STRIDE * m. Spans are half-open [lo, hi); the empty span is (0, 0).

D_LO = 0  # offset of dLo in a term slot
D_HI = 1  # offset of dHi in a term slot
K_LO = 2  # offset of kLo in a term slot
K_HI = 3  # offset of kHi in a term slot
Q_LO = 4  # offset of qLo in a term slot
Q_HI = 5  # offset of qHi in a term slot
MOD_BASE = 6  # mod slot m starts at MOD_BASE + MOD_STRIDE * m
MOD_STRIDE = 4  # fields per mod slot
MOD_ON = 0  # offset of on in a mod slot
MOD_M = 1  # offset of m in a mod slot
MOD_LO = 2  # offset of lo in a mod slot
MOD_HI = 3  # offset of hi in a mod slot
MOD_ON_D = 0  # MOD_ON value: residue of d = i - j
MOD_ON_J = 1  # MOD_ON value: residue of j
EMPTY_TERM = (0, 0, 0, 0, 0, 0)  # interval fields of an empty term slot
NEUTRAL_MOD = (0, 1, 0, 1)  # an unused mod slot (always true)


def fields_per_term(mod_slots):
    return MOD_BASE + MOD_STRIDE * mod_slots


def key_span(t, o, i0, i1, n):
    """Keys in [0, n) that some row of [i0, i1) reaches through the term's intervals (mods ignored); empty: (0, 0). t: the table (a list), o: the term slot's offset."""
    r0 = max(i0, t[o + Q_LO])
    r1 = min(i1, t[o + Q_HI])
    a = max(t[o + K_LO], r0 - t[o + D_HI] + 1, 0)
    e = min(t[o + K_HI], r1 - t[o + D_LO], n)
    return (a, e) if r0 < r1 and t[o + D_LO] < t[o + D_HI] and a < e else (0, 0)


def full_key_span(t, o, mod_slots, i0, i1, n):
    """Keys that every row of [i0, i1) reaches; empty (0, 0) unless no mod is effective, i0 < i1, [i0, i1) lies in [qLo, qHi) and i1 <= n. t: the table (a list), o: the term slot's offset."""
    nomod = all(t[o + MOD_BASE + MOD_STRIDE * m + MOD_LO] <= 0 and t[o + MOD_BASE + MOD_STRIDE * m + MOD_M] <= t[o + MOD_BASE + MOD_STRIDE * m + MOD_HI] for m in range(mod_slots))
    a = max(t[o + K_LO], i1 - t[o + D_HI], 0)
    e = min(t[o + K_HI], i0 - t[o + D_LO] + 1, n)
    return (a, e) if nomod and i0 < i1 and t[o + Q_LO] <= i0 and i1 <= t[o + Q_HI] and i1 <= n and a < e else (0, 0)


def query_span(t, o, j0, j1, n):
    """Rows in [0, n) that reach some key of [j0, j1) through the term's intervals (mods ignored); empty: (0, 0). t: the table (a list), o: the term slot's offset."""
    ja = max(j0, t[o + K_LO], 0)
    jb = min(j1, t[o + K_HI], n)
    a = max(ja + t[o + D_LO], t[o + Q_LO], 0)
    e = min(jb - 1 + t[o + D_HI], t[o + Q_HI], n)
    return (a, e) if ja < jb and t[o + D_LO] < t[o + D_HI] and a < e else (0, 0)
