# SPAttention (arXiv 2511.09596), Eq. 2-4: the distance range 0..N-1 is split into H
# contiguous, disjoint, equal-width bands; head h attends query i to key j only when
# S_h <= i - j < S_h + W_h, with W_h = floor(N/H) + [h < N mod H] and
# S_h = h*floor(N/H) + min(h, N mod H). All heads together do one causal attention's work.
layout spattention_paper {
  heads 16
  head_dim 128
  dtype bf16
  seq N                  # any N, given at compile time (--seq) or at run time
  partition equal_width
  pattern band           # exclusive bands: each head only its own band
}
