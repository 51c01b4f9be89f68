layout tuned_h16_d128 {
  heads 16
  head_dim 128
  seq N
  partition tuned(base = equal_pairs, tol = 0.1)
  pattern band
}
