// ---- tiled kernel body (the same for every layout with this tile configuration) ----
const D4: u32 = 32u;
const KS: u32 = 33u; // row stride of the K tile, in vec4s
const BM: u32 = 16u;
const BN: u32 = 8u;
const TM: u32 = 2u;
const TPR: u32 = 8u;
const WG: u32 = 64u;
const NEG_INF_BITS: u32 = 0xff800000u;
const LOWEST: f32 = -3.0e38;

struct Params {
  n: u32,
  batch: u32,
  scale: f32,
  // Index of this pass: it visits key tiles [chunk * CHUNK_TILES, (chunk + 1) * CHUNK_TILES).
  chunk: u32,
  // Head table: H x TERM_SLOTS x FIELDS int32.
  table: array<vec4<i32>, TABLE_VEC4>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> o: array<u32>;

// Row r of the Q tile is vec4s [r * D4, (r + 1) * D4), of the K tile [r * KS, r * KS + D4); zero past D.
var<workgroup> qs: array<vec4<f32>, BM * D4>; // the scaled Q tile
var<workgroup> ks: array<vec4<f32>, BN * KS>; // the K tile, then the V tile
var<workgroup> ps: array<f32, BM * BN>; // probabilities of the current tile
var<workgroup> redm: array<f32, BM * TPR>; // per-row partial maxima
var<workgroup> reds: array<f32, BM * TPR>; // per-row partial sums

// The spc head-table schema (generated from src/ir/schema.ts; do not edit). A term slot is
// D_LO, D_HI, K_LO, K_HI, Q_LO, Q_HI, then mod slots (MOD_ON, MOD_M, MOD_LO, MOD_HI) at
// MOD_BASE + MOD_STRIDE * m. Spans are half-open [lo, hi); the empty span is (0, 0).
// The including shader defines fn spc_field(x: u32) -> i32: the table's int32 at index x.

const D_LO = 0;  // offset of dLo in a term slot
const D_HI = 1;  // offset of dHi in a term slot
const K_LO = 2;  // offset of kLo in a term slot
const K_HI = 3;  // offset of kHi in a term slot
const Q_LO = 4;  // offset of qLo in a term slot
const Q_HI = 5;  // offset of qHi in a term slot
const MOD_BASE = 6;  // mod slot m starts at MOD_BASE + MOD_STRIDE * m
const MOD_STRIDE = 4;  // fields per mod slot
const MOD_ON = 0;  // offset of on in a mod slot
const MOD_M = 1;  // offset of m in a mod slot
const MOD_LO = 2;  // offset of lo in a mod slot
const MOD_HI = 3;  // offset of hi in a mod slot
const MOD_ON_D = 0;  // MOD_ON value: residue of d = i - j
const MOD_ON_J = 1;  // MOD_ON value: residue of j
const EMPTY_TERM = array(0, 0, 0, 0, 0, 0);  // interval fields of an empty term slot
const NEUTRAL_MOD = array(0, 1, 0, 1);  // an unused mod slot (always true)

fn fields_per_term(mod_slots: u32) -> u32 { return MOD_BASE + MOD_STRIDE * mod_slots; }

// Keys in [0, n) that some row of [i0, i1) reaches through the term's intervals (mods ignored); empty: (0, 0).
fn key_span(o: u32, i0: i32, i1: i32, n: i32) -> vec2<i32> {
  let r0 = max(i0, spc_field(o + Q_LO));
  let r1 = min(i1, spc_field(o + Q_HI));
  let a = max(max(spc_field(o + K_LO), r0 - spc_field(o + D_HI) + 1), 0);
  let e = min(min(spc_field(o + K_HI), r1 - spc_field(o + D_LO)), n);
  return select(vec2<i32>(0, 0), vec2<i32>(a, e), r0 < r1 && spc_field(o + D_LO) < spc_field(o + D_HI) && a < e);
}

// Keys that every row of [i0, i1) reaches; empty (0, 0) unless no mod is effective, i0 < i1, [i0, i1) lies in [qLo, qHi) and i1 <= n.
fn full_key_span(o: u32, mod_slots: u32, i0: i32, i1: i32, n: i32) -> vec2<i32> {
  var nomod = true;
  for (var m = 0u; m < mod_slots; m++) { nomod = nomod && (spc_field(o + MOD_BASE + MOD_STRIDE * m + MOD_LO) <= 0 && spc_field(o + MOD_BASE + MOD_STRIDE * m + MOD_M) <= spc_field(o + MOD_BASE + MOD_STRIDE * m + MOD_HI)); }
  let a = max(max(spc_field(o + K_LO), i1 - spc_field(o + D_HI)), 0);
  let e = min(min(spc_field(o + K_HI), i0 - spc_field(o + D_LO) + 1), n);
  return select(vec2<i32>(0, 0), vec2<i32>(a, e), nomod && i0 < i1 && spc_field(o + Q_LO) <= i0 && i1 <= spc_field(o + Q_HI) && i1 <= n && a < e);
}

// Rows in [0, n) that reach some key of [j0, j1) through the term's intervals (mods ignored); empty: (0, 0).
fn query_span(o: u32, j0: i32, j1: i32, n: i32) -> vec2<i32> {
  let ja = max(max(j0, spc_field(o + K_LO)), 0);
  let jb = min(min(j1, spc_field(o + K_HI)), n);
  let a = max(max(ja + spc_field(o + D_LO), spc_field(o + Q_LO)), 0);
  let e = min(min(jb - 1 + spc_field(o + D_HI), spc_field(o + Q_HI)), n);
  return select(vec2<i32>(0, 0), vec2<i32>(a, e), ja < jb && spc_field(o + D_LO) < spc_field(o + D_HI) && a < e);
}

fn spc_field(x: u32) -> i32 {
  return params.table[x / 4u][x % 4u];
}

// Offset of term slot s of head h in the table.
fn term_at(h: u32, s: u32) -> u32 {
  return (h * TERM_SLOTS + s) * FIELDS;
}

fn tf(h: u32, s: u32, f: u32) -> i32 {
  return spc_field(term_at(h, s) + f);
}

fn floor_mod(a: i32, m: i32) -> i32 {
  let r = a % m;
  return select(r, r + m, r < 0);
}

// The exact per-pair test: some term allows (i, j).
fn allowed(h: u32, i: i32, j: i32) -> bool {
  let d = i - j;
  for (var s = 0u; s < TERM_SLOTS; s++) {
    var ok = tf(h, s, D_LO) <= d && d < tf(h, s, D_HI) && tf(h, s, K_LO) <= j && j < tf(h, s, K_HI) && tf(h, s, Q_LO) <= i && i < tf(h, s, Q_HI);
    for (var m = 0u; m < MOD_SLOTS; m++) {
      let mb = MOD_BASE + MOD_STRIDE * m;
      if (ok) {
        let r = floor_mod(select(j, d, tf(h, s, mb + MOD_ON) == MOD_ON_D), tf(h, s, mb + MOD_M));
        ok = tf(h, s, mb + MOD_LO) <= r && r < tf(h, s, mb + MOD_HI);
      }
    }
    if (ok) {
      return true;
    }
  }
  return false;
}

// True when one term alone allows every pair of rows [i0, i1) x keys [j0, j1) (its full_key_span holds them).
fn tile_full(h: u32, i0: i32, i1: i32, j0: i32, j1: i32, n: i32) -> bool {
  for (var s = 0u; s < TERM_SLOTS; s++) {
    let f = full_key_span(term_at(h, s), MOD_SLOTS, i0, i1, n);
    if (j0 >= f.x && j1 <= f.y) {
      return true;
    }
  }
  return false;
}

// Key tiles [first, last) that term slot s reaches from rows [i0, i1) (its key_span); empty when first >= last.
fn term_tiles(h: u32, s: u32, i0: i32, i1: i32, n: i32) -> vec2<i32> {
  let k = key_span(term_at(h, s), i0, i1, n);
  return vec2<i32>(k.x / i32(BN), (k.y + i32(BN) - 1) / i32(BN));
}

// Loads vec4 c4 of row r (an element index of the row start) of a tensor, zero past D.
fn load_q(g: u32, c: u32) -> vec4<f32> {
  return q[g / 4u];
}
fn load_k(g: u32, c: u32) -> vec4<f32> {
  return k[g / 4u];
}
fn load_v(g: u32, c: u32) -> vec4<f32> {
  return v[g / 4u];
}
// Writes vec4 x at element g (column c) of the output, only the elements before D.
fn store_o(g: u32, c: u32, x: vec4<f32>) {
  o[g + {0+1*i}u] = bitcast<u32>(x[{0+1*i}]); ⟦unrolled: i = 0..3⟧
}
fn resume_o(g: u32, c: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<f32>(o[g + 0u]), bitcast<f32>(o[g + 1u]), bitcast<f32>(o[g + 2u]), bitcast<f32>(o[g + 3u]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = i32(params.n);
  let h = wid.y;
  let b = wid.z;
  let i0 = i32(wid.x * BM);
  let i1 = min(n, i0 + i32(BM));
  // This invocation: rows rg * TM + a of the tile, keys b * TPR + tc, output vec4s tc + t * TPR.
  let rg = lid / TPR;
  let tc = lid % TPR;
  let row0 = (b * H + h) * params.n;
  let kv_base = (b * KV + h / GROUP) * params.n * D;
  let lse_base = params.batch * H * params.n * D + row0;
  let c0 = i32(params.chunk * CHUNK_TILES);
  let c1 = c0 + i32(CHUNK_TILES);
  var first = 0x7fffffff;
  var in_pass = false;
  for (var s = 0u; s < TERM_SLOTS; s++) {
    let span = term_tiles(h, s, i0, i1, n);
    if (span.x < span.y) {
      first = min(first, span.x);
      in_pass = in_pass || (span.x < c1 && c0 < span.y);
    }
  }
  if (first == 0x7fffffff) {
    // No key tile at all: pass 0 writes the empty rows.
    if (params.chunk == 0u) {
      let e0 = i0 + i32(rg * TM + 0u);
      if (e0 < n) {
        store_o((row0 + u32(e0)) * D + (tc + {0+1*i}u * TPR) * 4u, (tc + {0+1*i}u * TPR) * 4u, vec4<f32>(0.0)); ⟦unrolled: i = 0..3⟧
        if (tc == 0u) {
          o[lse_base + u32(e0)] = NEG_INF_BITS;
        }
      }
      let e1 = i0 + i32(rg * TM + 1u);
      if (e1 < n) {
        store_o((row0 + u32(e1)) * D + (tc + {0+1*i}u * TPR) * 4u, (tc + {0+1*i}u * TPR) * 4u, vec4<f32>(0.0)); ⟦unrolled: i = 0..3⟧
        if (tc == 0u) {
          o[lse_base + u32(e1)] = NEG_INF_BITS;
        }
      }
    }
    return;
  }
  if (!in_pass) {
    return;
  }
  // The scaled Q tile, zero past N.
  for (var x = lid; x < BM * D4; x += WG) {
    let r = i0 + i32(x / D4);
    let c = (x % D4) * 4u;
    var val = vec4<f32>(0.0);
    if (r < n) {
      val = load_q((row0 + u32(r)) * D + c, c);
    }
    qs[x] = val * params.scale;
  }
  // Softmax state per row, in registers (every lane of a row group holds the same values): resumed from the
  // previous passes when the workgroup had tiles before this one.
  let resume = first < c0;
  let ri0 = i0 + i32(rg * TM + 0u);
  var m0 = LOWEST;
  var l0 = 0.0;
  var acc0_{0+1*i} = vec4<f32>(0.0); ⟦unrolled: i = 0..3⟧
  if (resume && ri0 < n) {
    let prev = o[lse_base + u32(ri0)];
    if (prev != NEG_INF_BITS) {
      m0 = bitcast<f32>(prev);
      l0 = 1.0;
      acc0_{0+1*i} = resume_o((row0 + u32(ri0)) * D + (tc + {0+1*i}u * TPR) * 4u, (tc + {0+1*i}u * TPR) * 4u); ⟦unrolled: i = 0..3⟧
    }
  }
  let ri1 = i0 + i32(rg * TM + 1u);
  var m1 = LOWEST;
  var l1 = 0.0;
  var acc1_{0+1*i} = vec4<f32>(0.0); ⟦unrolled: i = 0..3⟧
  if (resume && ri1 < n) {
    let prev = o[lse_base + u32(ri1)];
    if (prev != NEG_INF_BITS) {
      m1 = bitcast<f32>(prev);
      l1 = 1.0;
      acc1_{0+1*i} = resume_o((row0 + u32(ri1)) * D + (tc + {0+1*i}u * TPR) * 4u, (tc + {0+1*i}u * TPR) * 4u); ⟦unrolled: i = 0..3⟧
    }
  }
  for (var s = 0u; s < TERM_SLOTS; s++) {
    let span = term_tiles(h, s, i0, i1, n);
    for (var kt = max(span.x, c0); kt < min(span.y, c1); kt++) {
      // Skip a tile that an earlier term already visited.
      var seen = false;
      for (var e = 0u; e < s; e++) {
        let other = term_tiles(h, e, i0, i1, n);
        seen = seen || (other.x <= kt && kt < other.y);
      }
      if (seen) {
        continue;
      }
      let j0 = kt * i32(BN);
      let jn = min(n, j0 + i32(BN)) - j0;
      workgroupBarrier();
      for (var x = lid; x < BN * D4; x += WG) {
        let j = j0 + i32(x / D4);
        let c = (x % D4) * 4u;
        var val = vec4<f32>(0.0);
        if (j < n) {
          val = load_k(kv_base + u32(j) * D + c, c);
        }
        ks[(x / D4) * KS + x % D4] = val;
      }
      workgroupBarrier();
      // Scores of the micro-tile.
      var s0_0 = 0.0;
      var s1_0 = 0.0;
      for (var d = 0u; d < D4; d++) {
        let q0 = qs[(rg * TM + 0u) * D4 + d];
        let q1 = qs[(rg * TM + 1u) * D4 + d];
        let k0 = ks[(0u * TPR + tc) * KS + d];
        s0_0 += dot(q0, k0);
        s1_0 += dot(q1, k0);
      }
      // Masks: keys past N always; the per-pair test only on tiles no single term covers.
      let full = tile_full(h, i0, i1, j0, j0 + jn, n);
      var ok0_0 = i32(0u * TPR + tc) < jn;
      if (!full) {
        ok0_0 = ok0_0 && allowed(h, ri0, j0 + i32(0u * TPR + tc));
      }
      s0_0 = select(LOWEST, s0_0, ok0_0);
      var ok1_0 = i32(0u * TPR + tc) < jn;
      if (!full) {
        ok1_0 = ok1_0 && allowed(h, ri1, j0 + i32(0u * TPR + tc));
      }
      s1_0 = select(LOWEST, s1_0, ok1_0);
      // Row maxima of the tile over the TPR lanes of the row group.
      var mt0 = s0_0;
      var mt1 = s1_0;
      redm[(rg * TM + 0u) * TPR + tc] = mt0;
      redm[(rg * TM + 1u) * TPR + tc] = mt1;
      workgroupBarrier();
      mt0 = max(max(max(max(max(max(max(redm[(rg * TM + 0u) * TPR], redm[(rg * TM + 0u) * TPR + 1u]), redm[(rg * TM + 0u) * TPR + 2u]), redm[(rg * TM + 0u) * TPR + 3u]), redm[(rg * TM + 0u) * TPR + 4u]), redm[(rg * TM + 0u) * TPR + 5u]), redm[(rg * TM + 0u) * TPR + 6u]), redm[(rg * TM + 0u) * TPR + 7u]);
      mt1 = max(max(max(max(max(max(max(redm[(rg * TM + 1u) * TPR], redm[(rg * TM + 1u) * TPR + 1u]), redm[(rg * TM + 1u) * TPR + 2u]), redm[(rg * TM + 1u) * TPR + 3u]), redm[(rg * TM + 1u) * TPR + 4u]), redm[(rg * TM + 1u) * TPR + 5u]), redm[(rg * TM + 1u) * TPR + 6u]), redm[(rg * TM + 1u) * TPR + 7u]);
      // The K tile is no longer read: stage V into the same buffer.
      for (var x = lid; x < BN * D4; x += WG) {
        let j = j0 + i32(x / D4);
        let c = (x % D4) * 4u;
        var val = vec4<f32>(0.0);
        if (j < n) {
          val = load_v(kv_base + u32(j) * D + c, c);
        }
        ks[(x / D4) * KS + x % D4] = val;
      }
      // New running maxima, rescale factors, probabilities (0 where masked) and their partial row sums.
      let mn0 = max(m0, mt0);
      let cr0 = exp(m0 - mn0);
      m0 = mn0;
      var sum0 = 0.0;
      let p0_0 = select(0.0, exp(s0_0 - mn0), ok0_0);
      ps[(rg * TM + 0u) * BN + 0u * TPR + tc] = p0_0;
      sum0 += p0_0;
      let mn1 = max(m1, mt1);
      let cr1 = exp(m1 - mn1);
      m1 = mn1;
      var sum1 = 0.0;
      let p1_0 = select(0.0, exp(s1_0 - mn1), ok1_0);
      ps[(rg * TM + 1u) * BN + 0u * TPR + tc] = p1_0;
      sum1 += p1_0;
      reds[(rg * TM + 0u) * TPR + tc] = sum0;
      reds[(rg * TM + 1u) * TPR + tc] = sum1;
      workgroupBarrier();
      sum0 = reds[(rg * TM + 0u) * TPR] + reds[(rg * TM + 0u) * TPR + 1u] + reds[(rg * TM + 0u) * TPR + 2u] + reds[(rg * TM + 0u) * TPR + 3u] + reds[(rg * TM + 0u) * TPR + 4u] + reds[(rg * TM + 0u) * TPR + 5u] + reds[(rg * TM + 0u) * TPR + 6u] + reds[(rg * TM + 0u) * TPR + 7u];
      sum1 = reds[(rg * TM + 1u) * TPR] + reds[(rg * TM + 1u) * TPR + 1u] + reds[(rg * TM + 1u) * TPR + 2u] + reds[(rg * TM + 1u) * TPR + 3u] + reds[(rg * TM + 1u) * TPR + 4u] + reds[(rg * TM + 1u) * TPR + 5u] + reds[(rg * TM + 1u) * TPR + 6u] + reds[(rg * TM + 1u) * TPR + 7u];
      // The output micro-tile: rescale, then add P V.
      l0 = l0 * cr0 + sum0;
      acc0_{0+1*i} *= cr0; ⟦unrolled: i = 0..3⟧
      l1 = l1 * cr1 + sum1;
      acc1_{0+1*i} *= cr1; ⟦unrolled: i = 0..3⟧
      for (var c = 0u; c < BN; c++) {
        let v{0+1*i} = ks[c * KS + tc + {0+1*i}u * TPR]; ⟦unrolled: i = 0..3⟧
        let pa0 = ps[(rg * TM + 0u) * BN + c];
        acc0_{0+1*i} += pa0 * v{0+1*i}; ⟦unrolled: i = 0..3⟧
        let pa1 = ps[(rg * TM + 1u) * BN + c];
        acc1_{0+1*i} += pa1 * v{0+1*i}; ⟦unrolled: i = 0..3⟧
      }
    }
  }
  workgroupBarrier();
  if (ri0 < n) {
    let inv = select(0.0, 1.0 / l0, l0 > 0.0);
    store_o((row0 + u32(ri0)) * D + (tc + {0+1*i}u * TPR) * 4u, (tc + {0+1*i}u * TPR) * 4u, acc0_{0+1*i} * inv); ⟦unrolled: i = 0..3⟧
    if (tc == 0u) {
      o[lse_base + u32(ri0)] = select(NEG_INF_BITS, bitcast<u32>(m0 + log(select(1.0, l0, l0 > 0.0))), l0 > 0.0);
    }
  }
  if (ri1 < n) {
    let inv = select(0.0, 1.0 / l1, l1 > 0.0);
    store_o((row0 + u32(ri1)) * D + (tc + {0+1*i}u * TPR) * 4u, (tc + {0+1*i}u * TPR) * 4u, acc1_{0+1*i} * inv); ⟦unrolled: i = 0..3⟧
    if (tc == 0u) {
      o[lse_base + u32(ri1)] = select(NEG_INF_BITS, bitcast<u32>(m1 + log(select(1.0, l1, l1 > 0.0))), l1 > 0.0);
    }
  }
}
