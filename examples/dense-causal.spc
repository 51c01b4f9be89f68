# Dense causal attention: every head sees every earlier key. The baseline every band
# layout is measured against.
layout dense_causal {
  heads 16
  head_dim 128
  dtype bf16
  seq N
  pattern dense
}
