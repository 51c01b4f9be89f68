# Ablation: gapped bands. Each head keeps the first 7/8 of its band, leaving a gap of
# W/8 distances before the next head's band begins.
layout spattention_gapped {
  heads 8
  head_dim 64
  seq N
  partition equal_width
  pattern dist(S, S + W - W / 8)
}
