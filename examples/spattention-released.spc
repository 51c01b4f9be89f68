# SPAttention as in the paper's released code: every head keeps its band and also a
# shared local window of distances d <= W_h (W = the head's band width).
layout spattention_released {
  heads 16
  head_dim 128
  dtype bf16
  seq N
  partition equal_width
  pattern band | window(W + 1)
}
