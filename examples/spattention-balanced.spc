# Equal-pairs bands: boundaries where the cumulative number of causal pairs reaches k/H
# of the total, so every head does about the same work (equal width gives head 0 about
# 2H-1 times the work of the last head).
layout spattention_balanced {
  heads 16
  head_dim 128
  dtype bf16
  seq N
  partition equal_pairs
  pattern band
}
