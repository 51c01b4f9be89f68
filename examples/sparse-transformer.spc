# Sparse Transformer (Child et al. 2019), causal: half the heads attend to the previous
# 128 keys, the other half to every 128th key (strided); a second layout uses the
# "fixed" pattern, where keys at the end of each block of 128 summarise it.
layout strided {
  heads 8
  head_dim 64
  seq 4096
  pattern window(128)
  head 4..7: stride(128)
}

layout fixed {
  heads 8
  head_dim 64
  seq 4096
  pattern window(128) & dist(0, 128) | fixed(128, 8)
}
