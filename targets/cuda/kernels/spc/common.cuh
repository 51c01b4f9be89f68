// spc CUDA kernels: what every piece includes. Element types, 16-bit packing, floor modulo, the
// shared-memory address of a pointer. The per-layout header (generated) gives the constants.
#pragma once
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <limits.h>

// Functions of the mask and the work walk run on the host too (test/cuda-walk.test.ts runs the
// backward's walk against a brute force); table.cuh defines the same macro.
#ifndef SPC_HD
#define SPC_HD __host__ __device__ __forceinline__
#endif

namespace spc {

// The 16-bit element types a kernel computes in, with their pair type and the packing of two
// floats into one 32-bit register (round to nearest).
template <class T>
struct Elem;
template <>
struct Elem<__nv_bfloat16> {
  using pair = __nv_bfloat162;
  static constexpr bool kIsBf16 = true;
  static __device__ __forceinline__ pair pack(float x, float y) { return __floats2bfloat162_rn(x, y); }
  static __device__ __forceinline__ float2 unpack(pair p) { return __bfloat1622float2(p); }
};
template <>
struct Elem<__half> {
  using pair = __half2;
  static constexpr bool kIsBf16 = false;
  static __device__ __forceinline__ pair pack(float x, float y) { return __floats2half2_rn(x, y); }
  static __device__ __forceinline__ float2 unpack(pair p) { return __half22float2(p); }
};

template <class T>
__device__ __forceinline__ uint32_t pack2(float x, float y) {
  typename Elem<T>::pair v = Elem<T>::pack(x, y);
  return *reinterpret_cast<uint32_t*>(&v);
}

SPC_HD int floormod(int a, int m) {
  int r = a % m;
  return r < 0 ? r + m : r;
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// Where the rows of a (B, heads, N, D) tensor are: the element strides of its batch, head and row
// dimensions; D is contiguous (a contiguous tensor has {heads N D, N D, D}; a (B, N, heads, D)
// one viewed as (B, heads, N, D) has {N heads D, D, heads D}).
struct Strides {
  int64_t b, h, n;
  SPC_HD int64_t slice(int bi, int hi) const { return (int64_t)bi * b + (int64_t)hi * h; }
};
// The tensors of a forward call and of a backward call, in the launchers' order (the launchers take
// them as a host array of 3 int64 per tensor: b, h, n).
struct FwdStrides {
  Strides q, k, v, o;
};
struct BwdStrides {
  Strides q, k, v, o, dout, dq, dk, dv;
};
template <class S>
inline S strides_from(const int64_t* s) {
  S out;
  Strides* t = reinterpret_cast<Strides*>(&out);
  for (int x = 0; x < (int)(sizeof(S) / sizeof(Strides)); ++x) t[x] = Strides{s[3 * x], s[3 * x + 1], s[3 * x + 2]};
  return out;
}

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.69314718055994531f;

}  // namespace spc
