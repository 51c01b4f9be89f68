# Longformer-style causal attention: a sliding window on most heads, dilated windows on
# the upper heads to widen their reach, and a few global tokens at the start that every
# query sees.
layout longformer {
  heads 12
  head_dim 64
  dtype fp16
  seq N
  pattern window(256) | sinks(4)
  head 8..11: dilated(256, 2) | sinks(4)
}
