# Unions and intersections: heads 0..3 attend to their band only inside a 2048-key
# window and to even distances only beyond it; heads 4..7 keep their band plus sinks.
layout band_mix {
  heads 8
  head_dim 64
  seq N
  partition equal_pairs
  pattern band & window(2048) | band & stride(2) | sinks(2)
  head 4..7: band | sinks(16)
}
