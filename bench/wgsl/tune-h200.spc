# The layouts bench/wgsl/tune-h200.sh tunes on the H200 (spc tune --target wgsl, N = 16384): the
# paper's exclusive equal-width bands (examples/spattention-paper.spc), H = 16, at D = 64 and 128.
layout spattention_d64 {
  heads 16
  head_dim 64
  dtype fp32
  seq N
  partition equal_width
  pattern band
}

layout spattention_d128 {
  heads 16
  head_dim 128
  dtype fp32
  seq N
  partition equal_width
  pattern band
}
