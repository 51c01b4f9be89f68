# A hand-made layout: explicit band boundaries (as fractions of N), grouped-query
# attention, a shared local window with sinks on every head, and one head that is dense.
layout mixed_gqa {
  heads 8
  kv_heads 2
  head_dim 64
  dtype fp16
  seq N
  partition explicit(0, N / 16, N / 8, N / 4, 3 * N / 8, N / 2, 5 * N / 8, 3 * N / 4, N)
  pattern band | window(64) | sinks(4)
  head 7: dense
}
