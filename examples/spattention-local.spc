# Ablation: local only. Each head sees only the shared local window d <= W_h of the
# released code, without its band.
layout spattention_local {
  heads 8
  head_dim 64
  seq N
  partition equal_width
  pattern window(W + 1)
}
