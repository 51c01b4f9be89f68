# StreamingLLM: attention sinks (the first 4 tokens) plus a sliding window of 1024 keys.
layout sinks_window {
  heads 32
  kv_heads 8             # grouped-query attention: 4 query heads share each KV head
  head_dim 128
  dtype bf16
  seq N
  pattern window(1024) | sinks(4)
}
