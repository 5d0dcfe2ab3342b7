// conv2d.cpp: conv2d forward / backward-input / backward-weight / backward-bias on the CPU.
// See conv2d.h for the shapes. Layout of the im2col matrix of one image and group, for the output
// columns [j0, j1) (j = p * Q + q):
//   col[(c * R + r) * S + s][j - j0] = x[c][p * stride_h - pad_h + r * dil_h]
//                                       [q * stride_w - pad_w + s * dil_w]   (0 outside the image)
// so that   y_g (Kg, P*Q) = w_g (Kg, Cg*R*S) @ col (Cg*R*S, P*Q)
//           dcol           = w_g^T @ dy_g,   dx_g = col2im(dcol)   (scatter-add)
//           dw_g          += dy_g @ col^T
#include "cpu/conv2d.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "cpu/conv2d_depthwise.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm.h"

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace axonal {

namespace {

// Per-thread column workspace target (bytes): big enough for long GEMM panels, small enough to
// stay in the L2 cache next to the weights. AXONAL_CONV_TILE_BYTES overrides it (tuning).
std::size_t col_tile_bytes() {
  static const std::size_t v = [] {
    if (const char* e = std::getenv("AXONAL_CONV_TILE_BYTES")) {
      char* end = nullptr;
      long long x = std::strtoll(e, &end, 10);
      if (end != e && x >= 1024) return static_cast<std::size_t>(x);
    }
    return static_cast<std::size_t>(1) << 20;
  }();
  return v;
}

// Per-thread buffers start on whole cache lines (16 elements): threads never share a line.
inline index_t line_pad(index_t n) { return (n + 15) / 16 * 16; }
inline std::size_t line_pad(std::size_t n) { return (n + 15) / 16 * 16; }

constexpr double kFlopsPerThread = 4.0e5;  // below this much work per thread, use fewer threads

template <typename T>
struct Buffer {
  T* ptr = nullptr;
  explicit Buffer(std::size_t n) {
    if (n == 0) return;
    const std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    ptr = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!ptr) throw std::bad_alloc();
  }
  ~Buffer() { std::free(ptr); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

// [lo, hi) of n items for thread tid of nth, contiguous chunks.
inline void chunk(index_t n, int tid, int nth, index_t& lo, index_t& hi) {
  const index_t q = n / nth, r = n % nth;
  lo = tid * q + std::min<index_t>(tid, r);
  hi = lo + q + (tid < r ? 1 : 0);
}

// body(tid, nth) on nt threads (nth may come out smaller than nt), or inline when nt == 1.
template <class F>
void run_parallel(int nt, F&& body) {
#ifdef AXONAL_OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    body(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  (void)nt;
  body(0, 1);
}

inline index_t floor_div(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline index_t ceil_div(index_t a, index_t b) { return -floor_div(-a, b); }

// Output positions o in [lo, hi) whose input coordinate o * stride - pad + t * dil lies in [0, n).
inline void valid_range(index_t n, index_t out, index_t stride, index_t pad, index_t t, index_t dil,
                        index_t& lo, index_t& hi) {
  const index_t off = t * dil - pad;
  lo = std::max<index_t>(0, ceil_div(-off, stride));
  hi = std::min<index_t>(out, floor_div(n - 1 - off, stride) + 1);
  if (hi < lo) hi = lo;
}

// Valid q ranges for every kernel column s (the same for every row and channel).
struct ColRanges {
  std::vector<index_t> qlo, qhi;
  explicit ColRanges(const Conv2dParams& p) : qlo(p.S), qhi(p.S) {
    for (index_t s = 0; s < p.S; ++s)
      valid_range(p.W, p.Q, p.stride_w, p.pad_w, s, p.dil_w, qlo[s], qhi[s]);
  }
};

bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// ------------------------------------------------------------------ plan
enum class Algo { gemm, pointwise, direct, implicit };

// Implicit GEMM (stride 1, AVX2): the pass is a forward correlation of `in` (Cin_g channels per
// group, Hin x Win, padded by pad_h / pad_w) producing Pout x Qout; output rows are processed in
// chunks of `rows`, each from a zero-padded copy of its Hc = rows + eh - 1 input rows.
struct Implicit {
  index_t cin_g = 0, hin = 0, win = 0, pad_h = 0, pad_w = 0, pout = 0, qout = 0;
  index_t sh = 1, sw = 1;  // stride of the forward-type pass (1 for backward-input)
  index_t wp = 0, rows = 0, hc = 0, nchunks = 0;
  index_t cout_g = 0;  // output channels per group (forward-type passes)
  bool kvec = false;   // channel-vectorised kernel (else spatially vectorised)
  bool wide = false;   // kvec forward form with 512-bit vectors (conv2d_avx512.cpp)
  index_t width = 6;   // output channels per packed weight panel
  std::size_t xp_elems = 0, wpack_elems = 0, dyx_elems = 0, acc_elems = 0;
};

// Direct (one input channel per group) with the SIMD kernels (conv2d_depthwise.h). A source
// block is `hc` rows of `rowlen` elements: the sw column phases of one zero-padded row, phase f
// at [f wd, f wd + wd), its element u the padded column f + u sw (backward-input: rows of dy,
// padded by `cl` columns on the left, one phase). Work items are (plane, chunk of `rows` output
// rows); backward-weight splits each channel group's (image, chunk) pairs into `nsplit` items
// with partial sums.
struct Direct {
  bool simd = false;
  index_t rows = 0, nchunks = 0;  // output rows per item (backward-input: rows of dx)
  index_t wd = 0, rowlen = 0, hc = 0;
  index_t cl = 0, u0 = 0;  // backward-input: left padding of dy, dx columns per phase
  index_t nsplit = 1;      // backward-weight: items per channel group
  std::size_t buf_elems = 0, stage_elems = 0;  // per thread: source block, dx phase rows
};

struct Plan {
  Algo algo = Algo::gemm;
  Implicit im;
  Direct dw;
  int threads = 1;
  bool outer = true;   // threads over work items (each a one-thread GEMM) vs threads in the GEMM
  index_t tile = 0;    // output columns per im2col tile
  index_t ntiles = 0;  // tiles per image
  std::size_t workspace = 0;  // elements
};

#ifdef AXONAL_X86
// Fills pl for the implicit-GEMM kernels and returns true when they fit this problem better than
// im2col + GEMM: the spatially vectorised kernels need stride 1, the channel-vectorised ones
// take any stride; backward-input is a stride-1 correlation of dy with the flipped kernel.
bool plan_implicit(const Conv2dParams& p, ConvPass pass, std::size_t elem, Plan& pl) {
  const index_t G = p.groups, Cg = p.C / G, Kg = p.K / G, crs = Cg * p.R * p.S;
  const index_t eh = p.dil_h * (p.R - 1) + 1, ew = p.dil_w * (p.S - 1) + 1;
  const bool stride1 = p.stride_h == 1 && p.stride_w == 1;
  Implicit im;
  if (pass == ConvPass::backward_input) {  // correlate dy with the flipped kernel
    if (!stride1 || p.pad_h > eh - 1 || p.pad_w > ew - 1) return false;
    im.cin_g = Kg;
    im.hin = p.P;
    im.win = p.Q;
    im.pad_h = eh - 1 - p.pad_h;
    im.pad_w = ew - 1 - p.pad_w;
    im.pout = p.H;
    im.qout = p.W;
    im.cout_g = Cg;
  } else {
    im.cin_g = Cg;
    im.hin = p.H;
    im.win = p.W;
    im.pad_h = p.pad_h;
    im.pad_w = p.pad_w;
    im.pout = p.P;
    im.qout = p.Q;
    im.cout_g = Kg;
    im.sh = p.stride_h;
    im.sw = p.stride_w;
  }
  im.wp = im.win + 2 * im.pad_w;
  const index_t crs_in = im.cin_g * p.R * p.S;
  // Kernel choice by the fraction of useful lanes in the register tiles.
  const index_t vw = static_cast<index_t>(32 / elem), nrs = 2 * vw, nrk = 2 * vw;
  auto frac = [](index_t n, index_t tile) {
    return double(n) / double(((n + tile - 1) / tile) * tile);
  };
  if (pass == ConvPass::backward_weight) {
    const double chan = frac(Kg, nrk) * frac(crs_in, 6);
    const double flat = stride1 ? double(p.Q) / double(im.wp) : 0.0;  // the dot kernel
    // strided: only the channel kernel applies; short reductions do not pay for transposing dy
    if (!stride1 && (frac(Kg, nrk) < 0.8 || crs_in < 96)) return false;
    im.kvec = chan >= flat;
    im.width = nrk;
  } else {
    const double spatial = stride1 ? frac(im.cout_g, 6) * frac(im.qout, nrs) : 0.0;
    const double chan = frac(im.cout_g, nrk) * double(crs_in) / double(crs_in + 4);
    // strided: only the channel kernel applies; short reductions do not pay for its stores
    if (stride1 ? im.cout_g < 4 : (frac(im.cout_g, nrk) < 0.8 || crs_in < 96)) return false;
    if (std::max(spatial, chan) < 0.6) return false;  // mostly empty tiles: im2col + GEMM
    im.kvec = chan >= spatial;
    im.width = im.kvec ? nrk : 6;
    // AVX-512: panels of 2 zmm of output channels, where they waste no more lanes than 2 ymm
    // and the reduction is long enough to pay for the tile's transposed (gathered) store. On a
    // Zen 4 (512-bit FMAs double-pumped: the same flops per cycle as 256-bit) it measured 1-3%
    // faster at crs 576 (32x32, 28x28, 56x56 images) and 3% slower at crs 288 (14x14).
    const index_t nrk512 = 2 * static_cast<index_t>(64 / elem);
    if (im.kvec && simd_path() == SimdPath::avx512 && crs_in >= 384 &&
        frac(im.cout_g, nrk512) >= frac(im.cout_g, nrk)) {
      im.wide = true;
      im.width = nrk512;
    }
  }
  // Rows per chunk: the padded input block (and, backward-weight, the re-laid dy rows) within
  // the workspace budget.
  const index_t budget = static_cast<index_t>(col_tile_bytes() / elem);
  const index_t dy_row = pass != ConvPass::backward_weight ? 0 : (im.kvec ? Kg * p.Q : Kg * im.wp);
  const index_t per_row = std::max<index_t>(1, im.cin_g * im.wp * im.sh + dy_row);
  index_t rows = std::max<index_t>(1, (budget - im.cin_g * im.wp * (eh - im.sh)) / per_row);
  const index_t ng = p.N * G;
  if (ng < pl.threads) {  // few images: split the rows so that every thread has work
    const index_t per_image = (pl.threads + ng - 1) / ng;
    rows = std::min(rows, (im.pout + per_image - 1) / per_image);
  }
  im.rows = std::min(rows, im.pout);
  im.hc = (im.rows - 1) * im.sh + eh;
  im.nchunks = (im.pout + im.rows - 1) / im.rows;
  // + slack for the spatial kernels' over-reads (< Wp + 2 vectors past the last row)
  im.xp_elems = line_pad(static_cast<std::size_t>(im.cin_g) * im.hc * im.wp + im.wp + 64);
  if (pass == ConvPass::backward_weight) {
    im.dyx_elems = line_pad(im.kvec ? std::size_t((Kg + nrk - 1) / nrk) * nrk * im.rows * p.Q
                                    : std::size_t(Kg) * im.rows * im.wp);
    // per-thread gradient accumulators: transposed panels for kvec (every thread), else copies
    // of dw (threads 1..; thread 0 accumulates into dw itself)
    im.acc_elems =
        line_pad(im.kvec ? std::size_t(G) * ((Kg + im.width - 1) / im.width) * im.width * crs
                         : std::size_t(p.K) * crs);
  } else {
    im.wpack_elems =
        static_cast<std::size_t>(G) * ((im.cout_g + im.width - 1) / im.width) * im.width * crs_in;
  }
  pl.algo = Algo::implicit;
  pl.im = im;
  pl.outer = true;
  pl.workspace = im.wpack_elems + std::size_t(pl.threads) * (im.xp_elems + im.dyx_elems);
  if (pass == ConvPass::backward_weight)
    pl.workspace += std::size_t(im.kvec ? pl.threads : pl.threads - 1) * im.acc_elems;
  return true;
}
#endif

#ifdef AXONAL_X86
// The source-block geometry and work split of the SIMD direct path (see Direct).
void plan_direct_simd(const Conv2dParams& p, ConvPass pass, std::size_t elem, Plan& pl) {
  Direct d;
  d.simd = true;
  const index_t vw = static_cast<index_t>(32 / elem);  // over-read slack: one vector
  const index_t eh = p.dil_h * (p.R - 1) + 1, sh = p.stride_h, sw = p.stride_w;
  const index_t budget = static_cast<index_t>(col_tile_bytes() / 4 / elem);
  const index_t planes = p.N * p.groups, Kg = p.K / p.groups;
  const int nt = pl.threads;
  index_t out_rows;  // rows of the output the items split
  if (pass == ConvPass::backward_input) {
    // dx column w = f + u sw (phase f) takes dy column u + cl + (f + pad_w - s dil_w) / sw
    d.cl = ceil_div(std::max<index_t>(0, (p.S - 1) * p.dil_w - p.pad_w), sw);
    d.u0 = (p.W + sw - 1) / sw;
    d.wd = std::max(d.cl + p.Q, d.cl + (sw - 1 + p.pad_w) / sw + std::max(d.u0, vw));
    d.rowlen = d.wd;
    out_rows = p.H;
    // dy rows per item of `rows` dx rows: (rows - 1 + (R - 1) dil_h) / sh + 2 at most
    const index_t per_row = std::max<index_t>(1, Kg * d.rowlen / sh + (sw > 1 ? sw * d.u0 : 0));
    d.rows = std::max<index_t>(1, budget / per_row);
  } else {
    d.wd = (p.S - 1) * p.dil_w / sw + std::max(p.Q, vw);
    d.rowlen = sw * d.wd;
    out_rows = p.P;
    d.rows = std::max<index_t>(1, (budget - (eh - sh) * d.rowlen) / (sh * d.rowlen));
  }
  d.rows = std::min(d.rows, out_rows);
  // backward-weight: items are channel groups, split further below when there are few
  const index_t items = pass == ConvPass::backward_weight ? p.groups : planes;
  const index_t want = 4 * static_cast<index_t>(nt);  // items for an even split over threads
  if (pass != ConvPass::backward_weight && nt > 1 && items < want) {
    const index_t per_plane = (want + items - 1) / items;
    d.rows = std::min(d.rows, (out_rows + per_plane - 1) / per_plane);
  }
  d.nchunks = (out_rows + d.rows - 1) / d.rows;
  if (pass == ConvPass::backward_weight && nt > 1 && items < want)
    d.nsplit = std::min(p.N * d.nchunks, (want + items - 1) / items);
  if (pass == ConvPass::backward_input) {
    d.hc = (d.rows - 1 + (p.R - 1) * p.dil_h) / sh + 2;
    d.buf_elems = line_pad(std::size_t(Kg) * d.hc * d.rowlen + vw);
    if (sw > 1) d.stage_elems = line_pad(std::size_t(d.rows) * sw * d.u0 + vw);
  } else {
    d.hc = (d.rows - 1) * sh + eh;
    d.buf_elems = line_pad(std::size_t(d.hc) * d.rowlen + vw);
  }
  pl.dw = d;
  pl.workspace = std::size_t(nt) * (d.buf_elems + d.stage_elems);
  if (d.nsplit > 1) pl.workspace += std::size_t(p.groups) * d.nsplit * Kg * p.R * p.S;
}
#endif

Plan make_plan(const Conv2dParams& p, ConvPass pass, std::size_t elem, int nt) {
  Plan pl;
  const index_t G = p.groups, Cg = p.C / G, Kg = p.K / G;
  const index_t crs = Cg * p.R * p.S, PQ = p.P * p.Q;
  const double flops = 2.0 * double(p.N) * double(p.K) * double(crs) * double(PQ);
  pl.threads = std::max(1, std::min<int>(nt, static_cast<int>(flops / kFlopsPerThread)));
  if (Cg == 1 && Kg <= 4 && !is_pointwise(p)) {
    // One input channel per group: y[n, k] is a sum of R*S shifted, scaled copies of one plane.
    pl.algo = Algo::direct;
#ifdef AXONAL_X86
    if (simd_avx2() && PQ > 0) {
      plan_direct_simd(p, pass, elem, pl);
      return pl;
    }
#endif
    if (pass == ConvPass::backward_weight)
      pl.workspace = static_cast<std::size_t>(pl.threads) * p.R * p.S * std::max<index_t>(1, p.Q);
    return pl;
  }
  pl.algo = is_pointwise(p) ? Algo::pointwise : Algo::gemm;
  if (PQ == 0) return pl;
#ifdef AXONAL_X86
  if (pl.algo == Algo::gemm && crs > 0 && simd_avx2() && plan_implicit(p, pass, elem, pl))
    return pl;
#endif
  if (pl.algo == Algo::gemm && crs > 0) {
    const index_t budget = static_cast<index_t>(col_tile_bytes() / elem);
    if (crs * PQ <= budget) {
      pl.tile = PQ;
    } else {
      pl.tile = std::max<index_t>(16, (budget / crs) / 16 * 16);
      pl.tile = std::min(pl.tile, PQ);
    }
  } else {
    // Pointwise: the image itself is the column matrix; tiles only split the work.
    pl.tile = std::min<index_t>(PQ, std::max<index_t>(64, (1 << 16) / std::max<index_t>(1, Cg)));
    if (pass == ConvPass::backward_input) pl.tile = PQ;
  }
  if (pl.tile == 0) pl.tile = PQ;
  pl.ntiles = (PQ + pl.tile - 1) / pl.tile;
  // Backward-input scatters whole images (tiles of one image overlap in dx): items are (n, g).
  const index_t items = pass == ConvPass::backward_input ? p.N * G : p.N * G * pl.ntiles;
  pl.outer = pl.threads == 1 || items >= pl.threads;
  const int nbuf = pl.outer ? pl.threads : 1;
  if (pl.algo == Algo::gemm && crs > 0) pl.workspace = std::size_t(nbuf) * line_pad(crs * pl.tile);
  if (pass == ConvPass::backward_weight && pl.outer)  // per-thread dw accumulators, thread 0 = dw
    pl.workspace += std::size_t(pl.threads - 1) * p.K * crs;
  return pl;
}

// ------------------------------------------------------------------ im2col / col2im
// Channels [c0, c1) of one image and group (xg: (Cg, H, W)) into col rows, columns [j0, j1).
template <typename T>
void im2col_tile(const Conv2dParams& p, const ColRanges& cr, const T* xg, index_t c0, index_t c1,
                 index_t j0, index_t j1, T* col) {
  const index_t jt = j1 - j0, HW = p.H * p.W, sw = p.stride_w;
#ifdef AXONAL_X86
  const bool fast2 = sw == 2 && simd_avx2();
#else
  const bool fast2 = false;
#endif
  for (index_t c = c0; c < c1; ++c) {
    const T* xc = xg + c * HW;
    for (index_t r = 0; r < p.R; ++r) {
      for (index_t s = 0; s < p.S; ++s) {
        T* dst = col + ((c * p.R + r) * p.S + s) * jt;
        const index_t iw_off = s * p.dil_w - p.pad_w;
        index_t j = j0, pp = j0 / p.Q, q = j0 % p.Q;
        while (j < j1) {
          const index_t qe = std::min(p.Q, q + (j1 - j));
          T* d = dst + (j - j0) - q;  // d[q'] for q' in [q, qe)
          const index_t ih = pp * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= p.H) {
            std::fill(d + q, d + qe, T(0));
          } else {
            const index_t a = std::clamp(cr.qlo[s], q, qe), b = std::clamp(cr.qhi[s], a, qe);
            std::fill(d + q, d + a, T(0));
            const T* xr = xc + ih * p.W;
            if (sw == 1) {
              if (b > a) std::memcpy(d + a, xr + a + iw_off, sizeof(T) * (b - a));
            } else if (fast2) {
#ifdef AXONAL_X86
              if (b > a) conv_copy_stride2_avx2(xr + a * 2 + iw_off, b - a, d + a);
#endif
            } else {
              for (index_t t = a; t < b; ++t) d[t] = xr[t * sw + iw_off];
            }
            std::fill(d + b, d + qe, T(0));
          }
          j += qe - q;
          ++pp;
          q = 0;
        }
      }
    }
  }
}

// The transpose: dxg[c] += scatter of col rows, channels [c0, c1), columns [j0, j1).
template <typename T>
void col2im_tile_add(const Conv2dParams& p, const ColRanges& cr, const T* col, index_t c0,
                     index_t c1, index_t j0, index_t j1, T* dxg) {
  const index_t jt = j1 - j0, HW = p.H * p.W, sw = p.stride_w;
  for (index_t c = c0; c < c1; ++c) {
    T* xc = dxg + c * HW;
    for (index_t r = 0; r < p.R; ++r) {
      for (index_t s = 0; s < p.S; ++s) {
        const T* src = col + ((c * p.R + r) * p.S + s) * jt;
        const index_t iw_off = s * p.dil_w - p.pad_w;
        index_t j = j0, pp = j0 / p.Q, q = j0 % p.Q;
        while (j < j1) {
          const index_t qe = std::min(p.Q, q + (j1 - j));
          const T* d = src + (j - j0) - q;
          const index_t ih = pp * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih >= 0 && ih < p.H) {
            const index_t a = std::clamp(cr.qlo[s], q, qe), b = std::clamp(cr.qhi[s], a, qe);
            T* xr = xc + ih * p.W + iw_off;
            if (sw == 1) {
              for (index_t t = a; t < b; ++t) xr[t] += d[t];
            } else {
              for (index_t t = a; t < b; ++t) xr[t * sw] += d[t];
            }
          }
          j += qe - q;
          ++pp;
          q = 0;
        }
      }
    }
  }
}

// Run f(c0, c1) over [0, C) split between nt threads (inner-threaded path).
template <class F>
void split_channels(int nt, index_t C, F&& f) {
  run_parallel(static_cast<int>(std::min<index_t>(nt, std::max<index_t>(1, C))),
               [&](int tid, int nth) {
                 index_t lo, hi;
                 chunk(C, tid, nth, lo, hi);
                 if (hi > lo) f(lo, hi);
               });
}

// ------------------------------------------------------------------ direct (one channel per group)
// y[n, k] = b[k] + sum_{r, s} w[k, r, s] * shift_{r, s}(x[n, k / Kg])
template <typename T>
void direct_forward(const Conv2dParams& p, const Plan& pl, const T* x, const T* w, const T* b,
                    T* y) {
  const ColRanges cr(p);
  const index_t Kg = p.K / p.groups, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const index_t planes = p.N * p.K, sw = p.stride_w;
  run_parallel(pl.threads, [&](int tid, int nth) {
    index_t lo, hi;
    chunk(planes, tid, nth, lo, hi);
    for (index_t i = lo; i < hi; ++i) {
      const index_t n = i / p.K, k = i % p.K;
      const T* xc = x + (n * p.C + k / Kg) * HW;
      const T* wk = w + k * RS;
      T* yk = y + i * PQ;
      const T bias = b ? b[k] : T(0);
      for (index_t pp = 0; pp < p.P; ++pp) {
        T* yr = yk + pp * p.Q;
        std::fill(yr, yr + p.Q, bias);
        for (index_t r = 0; r < p.R; ++r) {
          const index_t ih = pp * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= p.H) continue;
          const T* xr = xc + ih * p.W;
          for (index_t s = 0; s < p.S; ++s) {
            const T wv = wk[r * p.S + s];
            const index_t off = s * p.dil_w - p.pad_w, a = cr.qlo[s], e = cr.qhi[s];
            if (sw == 1) {
              const T* xs = xr + off;
              for (index_t q = a; q < e; ++q) yr[q] += wv * xs[q];
            } else {
              for (index_t q = a; q < e; ++q) yr[q] += wv * xr[q * sw + off];
            }
          }
        }
      }
    }
  });
}

// dx[n, c] = sum over the Kg outputs k of group c: scatter of w[k, r, s] * dy[n, k]
template <typename T>
void direct_backward_input(const Conv2dParams& p, const Plan& pl, const T* dy, const T* w, T* dx) {
  const ColRanges cr(p);
  const index_t Kg = p.K / p.groups, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const index_t planes = p.N * p.C, sw = p.stride_w;
  run_parallel(pl.threads, [&](int tid, int nth) {
    index_t lo, hi;
    chunk(planes, tid, nth, lo, hi);
    for (index_t i = lo; i < hi; ++i) {
      const index_t n = i / p.C, c = i % p.C;
      T* xc = dx + i * HW;
      std::fill(xc, xc + HW, T(0));
      for (index_t kk = 0; kk < Kg; ++kk) {
        const index_t k = c * Kg + kk;
        const T* dk = dy + (n * p.K + k) * PQ;
        const T* wk = w + k * RS;
        for (index_t pp = 0; pp < p.P; ++pp) {
          const T* dr = dk + pp * p.Q;
          for (index_t r = 0; r < p.R; ++r) {
            const index_t ih = pp * p.stride_h - p.pad_h + r * p.dil_h;
            if (ih < 0 || ih >= p.H) continue;
            T* xr = xc + ih * p.W;
            for (index_t s = 0; s < p.S; ++s) {
              const T wv = wk[r * p.S + s];
              const index_t off = s * p.dil_w - p.pad_w, a = cr.qlo[s], e = cr.qhi[s];
              if (sw == 1) {
                T* xs = xr + off;
                for (index_t q = a; q < e; ++q) xs[q] += wv * dr[q];
              } else {
                for (index_t q = a; q < e; ++q) xr[q * sw + off] += wv * dr[q];
              }
            }
          }
        }
      }
    }
  });
}

// dw[k, r, s] = sum_{n, p, q} dy[n, k, p, q] * x[n, k / Kg, ih, iw]: threads over k; for each
// (r, s) a row of Q partial sums (elementwise FMAs vectorise; one horizontal sum at the end).
template <typename T>
void direct_backward_weight(const Conv2dParams& p, const Plan& pl, const T* dy, const T* x, T* dw) {
  const ColRanges cr(p);
  const index_t Kg = p.K / p.groups, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const index_t sw = p.stride_w, Q = std::max<index_t>(1, p.Q);
  Buffer<T> ws(pl.workspace);
  run_parallel(pl.threads, [&](int tid, int nth) {
    T* acc = ws.ptr + static_cast<std::size_t>(tid) * RS * Q;
    index_t lo, hi;
    chunk(p.K, tid, nth, lo, hi);
    for (index_t k = lo; k < hi; ++k) {
      std::fill(acc, acc + RS * Q, T(0));
      for (index_t n = 0; n < p.N; ++n) {
        const T* xc = x + (n * p.C + k / Kg) * HW;
        const T* dk = dy + (n * p.K + k) * PQ;
        for (index_t pp = 0; pp < p.P; ++pp) {
          const T* dr = dk + pp * p.Q;
          for (index_t r = 0; r < p.R; ++r) {
            const index_t ih = pp * p.stride_h - p.pad_h + r * p.dil_h;
            if (ih < 0 || ih >= p.H) continue;
            const T* xr = xc + ih * p.W;
            for (index_t s = 0; s < p.S; ++s) {
              T* ar = acc + (r * p.S + s) * Q;
              const index_t off = s * p.dil_w - p.pad_w, a = cr.qlo[s], e = cr.qhi[s];
              if (sw == 1) {
                const T* xs = xr + off;
                for (index_t q = a; q < e; ++q) ar[q] += dr[q] * xs[q];
              } else {
                for (index_t q = a; q < e; ++q) ar[q] += dr[q] * xr[q * sw + off];
              }
            }
          }
        }
      }
      for (index_t t = 0; t < RS; ++t) {
        const T* ar = acc + t * Q;
        T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        index_t q = 0;
        for (; q + 4 <= Q; q += 4) {
          s0 += ar[q];
          s1 += ar[q + 1];
          s2 += ar[q + 2];
          s3 += ar[q + 3];
        }
        for (; q < Q; ++q) s0 += ar[q];
        dw[k * RS + t] = (s0 + s1) + (s2 + s3);
      }
    }
  });
}

// ------------------------------------------------------------------ direct, SIMD
#ifdef AXONAL_X86
template <typename T>
struct DwKernels {
  void (*forward)(index_t, const T*, const index_t*, const T*, index_t, index_t, index_t, T, T*,
                  index_t);
  void (*backward_weight)(index_t, const index_t*, const T*, index_t, index_t, index_t, const T*,
                          index_t, T*);
  void (*copy_rows)(const T*, index_t, index_t, index_t, index_t, index_t, index_t, index_t, T*);
  void (*interleave2)(const T*, const T*, index_t, T*);
  void (*forward_grid)(index_t, index_t, const T*, const index_t*, const T*, index_t, index_t,
                       index_t, T, T*, index_t);
  void (*backward_weight_grid)(index_t, index_t, const index_t*, const T*, index_t, index_t,
                               index_t, const T*, index_t, T*);
};

// The row-shared forward kernel applies: a kernel of at most 5 rows read with vertical stride
// 1 and dilation 1.
inline bool dw_grid(index_t R, index_t S, index_t sh, index_t dh) {
  (void)S;
  return sh == 1 && dh == 1 && R <= 5;
}

// The AVX2 kernels on both SIMD paths (conv2d_depthwise_kernels.h says why).
template <typename T>
DwKernels<T> dw_kernels() {
  return {conv_dw_forward_avx2<T>,      conv_dw_backward_weight_avx2<T>,
          conv_dw_copy_rows_avx2<T>,    conv_dw_interleave2_avx2<T>,
          conv_dw_forward_grid_avx2<T>, conv_dw_backward_weight_grid_avx2<T>};
}

// Tap offsets of forward and backward-weight: kernel element (r, s) reads padded row r dil_h of
// the block, column phase (s dil_w) % sw, shifted by (s dil_w) / sw.
std::vector<index_t> dw_offsets(const Conv2dParams& p, const Direct& d) {
  std::vector<index_t> off(static_cast<std::size_t>(p.R * p.S));
  const index_t sw = p.stride_w;
  for (index_t r = 0; r < p.R; ++r)
    for (index_t s = 0; s < p.S; ++s)
      off[r * p.S + s] = r * p.dil_h * d.rowlen + (s * p.dil_w) % sw * d.wd + (s * p.dil_w) / sw;
  return off;
}

// y[n, k] = b[k] + sum_{r, s} w[k, r, s] shift_{r, s}(x[n, k / Kg]): items (n, g, chunk of
// output rows), the block of input rows copied once for the Kg outputs of the group.
template <typename T>
void dw_forward(const Conv2dParams& p, const Plan& pl, const T* x, const T* w, const T* b, T* y) {
  const Direct& d = pl.dw;
  const DwKernels<T> kern = dw_kernels<T>();
  const index_t G = p.groups, Kg = p.K / G, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const index_t eh = p.dil_h * (p.R - 1) + 1, step = p.stride_h * d.rowlen;
  const std::vector<index_t> off = dw_offsets(p, d);
  const bool grid = dw_grid(p.R, p.S, p.stride_h, p.dil_h);
  const index_t* co = off.data();  // row 0 of the taps: the column offsets
  Buffer<T> ws(pl.workspace);
  const index_t items = p.N * G * d.nchunks;
  run_parallel(pl.threads, [&](int tid, int nth) {
    T* xb = ws.ptr + tid * d.buf_elems;
    index_t lo, hi;
    chunk(items, tid, nth, lo, hi);
    for (index_t it = lo; it < hi; ++it) {
      const index_t ch = it % d.nchunks, plane = it / d.nchunks, n = plane / G, g = plane % G;
      const index_t p0 = ch * d.rows, p1 = std::min(p.P, p0 + d.rows);
      kern.copy_rows(x + plane * HW, p.H, p.W, p0 * p.stride_h - p.pad_h,
                     (p1 - p0 - 1) * p.stride_h + eh, p.pad_w, p.stride_w, d.wd, xb);
      for (index_t kk = 0; kk < Kg; ++kk) {
        const index_t k = g * Kg + kk;
        T* yk = y + (n * p.K + k) * PQ + p0 * p.Q;
        if (grid)
          kern.forward_grid(p.R, p.S, w + k * RS, co, xb, d.rowlen, p1 - p0, p.Q, b ? b[k] : T(0),
                            yk, p.Q);
        else
          kern.forward(RS, w + k * RS, off.data(), xb, step, p1 - p0, p.Q, b ? b[k] : T(0), yk,
                       p.Q);
      }
    }
  });
}

// dx[n, g] = sum over the Kg outputs k of the group of the transposed correlation of dy[n, k]
// with w[k]. Items (n, g, chunk of dx rows [h0, h1)). Split dx by row residue e (rows h0 + e +
// i sh) and column phase f (columns f + u sw): each part is a plain correlation of the dy rows
// (padded: zeros outside dy) with the taps (k, r, s) that reach it, the forward kernel's
// formulation. Stride 1: one part, the correlation with the flipped kernel. Column stride > 1:
// the phases go to a staging block, then interleave into dx.
template <typename T>
void dw_backward_input(const Conv2dParams& p, const Plan& pl, const T* dy, const T* w, T* dx) {
  const Direct& d = pl.dw;
  const DwKernels<T> kern = dw_kernels<T>();
  const index_t G = p.groups, Kg = p.K / G, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const index_t sh = p.stride_h, sw = p.stride_w, W = p.W, u0 = d.u0;
  const index_t kplane = d.hc * d.rowlen;  // one dy plane in the block
  // stride 1, one output per group: the row-shared kernel with the flipped kernel, whose row r'
  // reads dy block row r' and column s' the dy columns shifted by co[s']
  const bool grid = sh == 1 && sw == 1 && Kg == 1 && dw_grid(p.R, p.S, 1, p.dil_h);
  std::vector<index_t> co(static_cast<std::size_t>(p.S));
  for (index_t s = 0; s < p.S; ++s) co[s] = d.cl + p.pad_w - (p.S - 1 - s) * p.dil_w;
  Buffer<T> ws(pl.workspace);
  const index_t items = p.N * G * d.nchunks;
  run_parallel(pl.threads, [&](int tid, int nth) {
    T* db = ws.ptr + tid * (d.buf_elems + d.stage_elems);
    T* stage = db + d.buf_elems;
    std::vector<T> wt(static_cast<std::size_t>(Kg * RS));
    std::vector<index_t> off(static_cast<std::size_t>(Kg * RS));
    index_t lo, hi;
    chunk(items, tid, nth, lo, hi);
    index_t wk = -1;  // the group whose flipped kernel is in wt (grid)
    for (index_t it = lo; it < hi; ++it) {
      const index_t ch = it % d.nchunks, plane = it / d.nchunks, n = plane / G, g = plane % G;
      const index_t h0 = ch * d.rows, h1 = std::min(p.H, h0 + d.rows);
      // dy rows [pa, pb] reach dx rows [h0, h1)
      const index_t pa = floor_div(h0 + p.pad_h - (p.R - 1) * p.dil_h, sh);
      const index_t pb = floor_div(h1 - 1 + p.pad_h, sh);
      for (index_t kk = 0; kk < Kg; ++kk)
        kern.copy_rows(dy + (n * p.K + g * Kg + kk) * PQ, p.P, p.Q, pa, pb - pa + 1, d.cl, 1, d.wd,
                       db + kk * kplane);
      if (grid) {  // pa = h0 + pad_h - (R - 1): block row r' holds dy row h0 + pad_h - (R - 1 - r')
        if (wk != g)
          for (index_t i = 0; i < RS; ++i) wt[i] = w[g * RS + RS - 1 - i];
        wk = g;
        kern.forward_grid(p.R, p.S, wt.data(), co.data(), db, d.rowlen, h1 - h0, W, T(0),
                          dx + plane * HW + h0 * W, W);
        continue;
      }
      for (index_t e = 0; e < sh && h0 + e < h1; ++e) {
        const index_t nrows = (h1 - h0 - e + sh - 1) / sh;
        for (index_t f = 0; f < sw && f < W; ++f) {
          index_t nt = 0;
          for (index_t kk = 0; kk < Kg; ++kk)
            for (index_t r = 0; r < p.R; ++r) {
              const index_t num = h0 + e + p.pad_h - r * p.dil_h;  // = dy row * sh
              if (num - floor_div(num, sh) * sh != 0) continue;
              const index_t row = floor_div(num, sh) - pa;
              for (index_t s = 0; s < p.S; ++s) {
                const index_t cnum = f + p.pad_w - s * p.dil_w;  // = (dy column - u) * sw
                if (cnum - floor_div(cnum, sw) * sw != 0) continue;
                wt[nt] = w[(g * Kg + kk) * RS + r * p.S + s];
                off[nt] = kk * kplane + row * d.rowlen + d.cl + floor_div(cnum, sw);
                ++nt;
              }
            }
          const index_t nu = (W - f + sw - 1) / sw;
          if (sw == 1)
            kern.forward(nt, wt.data(), off.data(), db, d.rowlen, nrows, nu, T(0),
                         dx + plane * HW + (h0 + e) * W, sh * W);
          else
            kern.forward(nt, wt.data(), off.data(), db, d.rowlen, nrows, nu, T(0),
                         stage + (e * sw + f) * u0, sh * sw * u0);
        }
      }
      if (sw > 1)
        for (index_t h = h0; h < h1; ++h) {
          T* xr = dx + plane * HW + h * W;
          const T* sr = stage + (h - h0) * sw * u0;
          if (sw == 2) {
            kern.interleave2(sr, sr + u0, W, xr);
            continue;
          }
          for (index_t f = 0; f < sw && f < W; ++f)
            for (index_t u = 0, c = f; c < W; ++u, c += sw) xr[c] = sr[f * u0 + u];
        }
    }
  });
}

// dw[k, r, s] = sum_{n, p, q} dy[n, k, p, q] x_pad[n, k / Kg, p sh + r dil_h, q sw + s dil_w]:
// items are channel groups (or, with few groups, parts of a group's (image, row chunk) pairs
// whose partial sums are added in a fixed order at the end); the block of input rows is copied
// once for the Kg outputs of the group.
template <typename T>
void dw_backward_weight(const Conv2dParams& p, const Plan& pl, const T* dy, const T* x, T* dw) {
  const Direct& d = pl.dw;
  const DwKernels<T> kern = dw_kernels<T>();
  const index_t G = p.groups, Kg = p.K / G, HW = p.H * p.W, PQ = p.P * p.Q, RS = p.R * p.S;
  const index_t eh = p.dil_h * (p.R - 1) + 1, step = p.stride_h * d.rowlen, KRS = Kg * RS;
  const std::vector<index_t> off = dw_offsets(p, d);  // (row 0: the column offsets)
  // the row-shared form measured faster for 3x3 on planes wider than two vectors (56, 112
  // columns); the tap form for 5x5 and 14 columns
  const bool grid = dw_grid(p.R, p.S, p.stride_h, p.dil_h) && p.R == 3 && p.Q > 16;
  Buffer<T> ws(pl.workspace);
  T* parts = ws.ptr + std::size_t(pl.threads) * d.buf_elems;
  const index_t sub = p.N * d.nchunks, items = G * d.nsplit;
  run_parallel(pl.threads, [&](int tid, int nth) {
    T* xb = ws.ptr + tid * d.buf_elems;
    std::vector<T> acc(static_cast<std::size_t>(KRS));
    index_t lo, hi;
    chunk(items, tid, nth, lo, hi);
    for (index_t it = lo; it < hi; ++it) {
      const index_t g = it / d.nsplit;
      index_t a, e;
      chunk(sub, static_cast<int>(it % d.nsplit), static_cast<int>(d.nsplit), a, e);
      std::fill(acc.begin(), acc.end(), T(0));
      for (index_t j = a; j < e; ++j) {
        const index_t n = j / d.nchunks, ch = j % d.nchunks;
        const index_t p0 = ch * d.rows, p1 = std::min(p.P, p0 + d.rows);
        kern.copy_rows(x + (n * G + g) * HW, p.H, p.W, p0 * p.stride_h - p.pad_h,
                       (p1 - p0 - 1) * p.stride_h + eh, p.pad_w, p.stride_w, d.wd, xb);
        for (index_t kk = 0; kk < Kg; ++kk) {
          const T* dk = dy + (n * p.K + g * Kg + kk) * PQ + p0 * p.Q;
          if (grid)
            kern.backward_weight_grid(p.R, p.S, off.data(), xb, d.rowlen, p1 - p0, p.Q, dk, p.Q,
                                      acc.data() + kk * RS);
          else
            kern.backward_weight(RS, off.data(), xb, step, p1 - p0, p.Q, dk, p.Q,
                                 acc.data() + kk * RS);
        }
      }
      T* dst = d.nsplit == 1 ? dw + g * KRS : parts + it * KRS;
      std::copy(acc.begin(), acc.end(), dst);
    }
  });
  if (d.nsplit > 1)
    for (index_t g = 0; g < G; ++g)
      for (index_t i = 0; i < KRS; ++i) {
        T sum = 0;
        for (index_t sp = 0; sp < d.nsplit; ++sp) sum += parts[(g * d.nsplit + sp) * KRS + i];
        dw[g * KRS + i] = sum;
      }
}
#endif  // AXONAL_X86

// ------------------------------------------------------------------ implicit GEMM (stride 1)
#ifdef AXONAL_X86
// True when no element of a[0, n) is an infinity or a NaN (exponent bits all set).
template <typename T>
bool all_finite(const T* a, index_t n) {
  using U = typename std::conditional<sizeof(T) == 4, std::uint32_t, std::uint64_t>::type;
  constexpr U expo = sizeof(T) == 4 ? U(0x7f800000u) : U(0x7ff0000000000000ull);
  U bad = 0;
  for (index_t i = 0; i < n; ++i) {
    U u;
    std::memcpy(&u, a + i, sizeof(U));
    bad |= U((u & expo) == expo);
  }
  return bad == 0;
}

// Zero-padded copy of input rows [ih0, ih0 + hc) (ih0 may be negative) of the channels of `in`
// (cin_g planes of hin x win) into xp (cin_g, hc, wp). With check_finite: returns whether every
// value is finite (else true).
template <typename T>
bool pad_rows(const Implicit& im, const T* in, index_t ih0, T* xp, bool check_finite = false) {
  const index_t plane = im.hin * im.win;
  bool finite = true;
  for (index_t c = 0; c < im.cin_g; ++c) {
    for (index_t t = 0; t < im.hc; ++t) {
      T* dst = xp + (c * im.hc + t) * im.wp;
      const index_t ih = ih0 + t;
      if (ih < 0 || ih >= im.hin) {
        std::fill(dst, dst + im.wp, T(0));
        continue;
      }
      std::fill(dst, dst + im.pad_w, T(0));
      const T* src = in + c * plane + ih * im.win;
      std::copy(src, src + im.win, dst + im.pad_w);
      std::fill(dst + im.pad_w + im.win, dst + im.wp, T(0));
      if (check_finite) finite = finite && all_finite(src, im.win);
    }
  }
  std::fill(xp + im.cin_g * im.hc * im.wp, xp + im.xp_elems, T(0));
  return finite;
}

// off[kk] for kk = (c, r, s): where row kk of the im2col matrix starts inside xp.
std::vector<index_t> implicit_offsets(const Conv2dParams& p, const Implicit& im) {
  std::vector<index_t> off(static_cast<std::size_t>(im.cin_g * p.R * p.S));
  for (index_t c = 0; c < im.cin_g; ++c)
    for (index_t r = 0; r < p.R; ++r)
      for (index_t s = 0; s < p.S; ++s)
        off[(c * p.R + r) * p.S + s] = (c * im.hc + r * p.dil_h) * im.wp + s * p.dil_w;
  return off;
}

// Weights into panels of `width` output channels: dst[g][panel][kk][width]. wat(g, k, kk) gives
// the weight of output channel k (of group g) for im2col row kk.
template <typename T, class F>
void pack_weights(index_t G, index_t cout_g, index_t crs_in, index_t width, F&& wat, T* dst) {
  const index_t panels = (cout_g + width - 1) / width;
  for (index_t g = 0; g < G; ++g)
    for (index_t ip = 0; ip < panels; ++ip) {
      T* d = dst + (g * panels + ip) * width * crs_in;
      for (index_t kk = 0; kk < crs_in; ++kk)
        for (index_t i = 0; i < width; ++i) {
          const index_t k = ip * width + i;
          d[kk * width + i] = k < cout_g ? wat(g, k, kk) : T(0);
        }
    }
}

// A forward-type implicit pass: out (N, G * cout_g, pout, qout) from in (N, G * cin_g, hin, win).
template <typename T>
void implicit_forward_pass(const Conv2dParams& p, const Plan& pl, const T* in, const T* bias,
                           T* out, T* ws) {
  const Implicit& im = pl.im;
  const index_t G = p.groups, crs_in = im.cin_g * p.R * p.S;
  const index_t in_img = G * im.cin_g * im.hin * im.win, out_plane = im.pout * im.qout;
  const index_t wpanel = ((im.cout_g + im.width - 1) / im.width) * im.width * crs_in;
  const std::vector<index_t> off = implicit_offsets(p, im);
  const T* wpk = ws;
  const index_t items = p.N * G * im.nchunks;
  // Contiguous ranges of items per thread (handing them out one at a time through a shared
  // counter cost 0.29 -> 0.51 ms on 64,1,28,28,32,3: thousands of tiny items)
  run_parallel(pl.threads, [&](int tid, int nth) {
    T* xp = ws + im.wpack_elems + tid * im.xp_elems;
    index_t lo, hi;
    chunk(items, tid, nth, lo, hi);
    for (index_t it = lo; it < hi; ++it) {
      const index_t ch = it % im.nchunks, ng = it / im.nchunks, n = ng / G, g = ng % G;
      const index_t p0 = ch * im.rows, p1 = std::min(im.pout, p0 + im.rows);
      pad_rows(im, in + n * in_img + g * im.cin_g * im.hin * im.win, p0 * im.sh - im.pad_h, xp);
      T* o = out + (n * G + g) * im.cout_g * out_plane + p0 * im.qout;
      const T* bg = bias ? bias + g * im.cout_g : nullptr;
      if (im.wide)
        conv_kvec_forward_avx512<T>(im.cout_g, crs_in, wpk + g * wpanel, off.data(), xp, im.wp,
                                    im.sh, im.sw, p1 - p0, im.qout, bg, o, out_plane);
      else if (im.kvec)
        conv_kvec_forward_avx2<T>(im.cout_g, crs_in, wpk + g * wpanel, off.data(), xp, im.wp, im.sh,
                                  im.sw, p1 - p0, im.qout, bg, o, out_plane);
      else
        conv_implicit_forward_avx2<T>(im.cout_g, crs_in, wpk + g * wpanel, off.data(), xp, im.wp,
                                      p1 - p0, im.qout, bg, o, out_plane);
    }
  });
}

template <typename T>
void implicit_forward(const Conv2dParams& p, const Plan& pl, const T* x, const T* w, const T* b,
                      T* y) {
  Buffer<T> ws(pl.workspace);
  const index_t crs = pl.im.cin_g * p.R * p.S;
  pack_weights<T>(
      p.groups, pl.im.cout_g, crs, pl.im.width,
      [&](index_t g, index_t k, index_t kk) { return w[(g * pl.im.cout_g + k) * crs + kk]; },
      ws.ptr);
  implicit_forward_pass(p, pl, x, b, y, ws.ptr);
}

// dx = correlation of dy (padded by e - 1 - pad) with w transposed per group and flipped:
// w'[g][c][(k, r, s)] = w[g Kg + k][c][R - 1 - r][S - 1 - s].
template <typename T>
void implicit_backward_input(const Conv2dParams& p, const Plan& pl, const T* dy, const T* w,
                             T* dx) {
  Buffer<T> ws(pl.workspace);
  const index_t Kg = p.K / p.groups, Cg = p.C / p.groups, RS = p.R * p.S;
  pack_weights<T>(
      p.groups, Cg, Kg * RS, pl.im.width,
      [&](index_t g, index_t c, index_t kk) {
        const index_t k = kk / RS, rs = kk % RS;
        return w[((g * Kg + k) * Cg + c) * RS + (RS - 1 - rs)];
      },
      ws.ptr);
  implicit_forward_pass<T>(p, pl, dy, nullptr, dx, ws.ptr);
}

template <typename T>
void implicit_backward_weight(const Conv2dParams& p, const Plan& pl, const T* dy, const T* x,
                              T* dw) {
  const Implicit& im = pl.im;
  const index_t G = p.groups, Kg = p.K / G, crs = im.cin_g * p.R * p.S, wsize = p.K * crs;
  const index_t x_img = p.C * p.H * p.W, PQ = p.P * p.Q, Q = p.Q, wp = im.wp, nw = im.width;
  const index_t kpanels = (Kg + nw - 1) / nw;
  const std::vector<index_t> off = implicit_offsets(p, im);
  Buffer<T> ws(pl.workspace);
  const std::size_t per_thread = im.xp_elems + im.dyx_elems;
  T* accs = ws.ptr + pl.threads * per_thread;
  const index_t items = p.N * G * im.nchunks;
  run_parallel(pl.threads, [&](int tid, int nth) {
    T* xp = ws.ptr + tid * per_thread;
    T* dyx = xp + im.xp_elems;
    // kvec: every thread has transposed accumulators; otherwise thread 0 accumulates into dw
    T* acc =
        im.kvec ? accs + tid * im.acc_elems : (tid == 0 ? dw : accs + (tid - 1) * im.acc_elems);
    std::fill(acc, acc + (im.kvec ? im.acc_elems : std::size_t(wsize)), T(0));
    index_t lo, hi;
    chunk(items, tid, nth, lo, hi);
    for (index_t it = lo; it < hi; ++it) {
      const index_t ch = it % im.nchunks, ng = it / im.nchunks, n = ng / G, g = ng % G;
      const index_t p0 = ch * im.rows, p1 = std::min(im.pout, p0 + im.rows), rows = p1 - p0;
      // (the flat dot kernel multiplies x by dy's zero padding: it needs to know x is finite)
      const bool finite = pad_rows(im, x + n * x_img + g * im.cin_g * p.H * p.W,
                                   p0 * im.sh - im.pad_h, xp, !im.kvec);
      const T* d = dy + (n * p.K + g * Kg) * PQ + p0 * Q;
      if (im.kvec) {  // dy transposed into panels of output channels: dyx[panel][j][width]
        conv_pack_dyt_avx2<T>(Kg, rows * Q, d, PQ, dyx);
        conv_kvec_backward_weight_avx2<T>(Kg, crs, dyx, off.data(), xp, wp, im.sh, im.sw, rows, Q,
                                          acc + g * kpanels * nw * crs);
        continue;
      }
      T* a = acc + g * Kg * crs;
      if (finite) {
        // flat: dy rows with stride Wp and zero columns past Q; the extra products are 0 * x
        // with x finite, so one dot product of length rows * Wp per block runs without breaks
        for (index_t k = 0; k < Kg; ++k)
          for (index_t r = 0; r < rows; ++r) {
            T* dst = dyx + (k * rows + r) * wp;
            std::copy(d + k * PQ + r * Q, d + k * PQ + (r + 1) * Q, dst);
            std::fill(dst + Q, dst + wp, T(0));
          }
        conv_implicit_backward_weight_avx2<T>(Kg, crs, dyx, rows * wp, 0, off.data(), xp, 0, 1,
                                              rows * wp, a);
      } else {  // row by row, masked tails: a non-finite x never meets a padding zero of dy
        conv_implicit_backward_weight_avx2<T>(Kg, crs, d, PQ, Q, off.data(), xp, wp, rows, Q, a);
      }
    }
#ifdef AXONAL_OPENMP
#pragma omp barrier
#endif
    // reduce the threads' accumulators into dw, each thread its own slice of dw
    index_t a, e;
    chunk(wsize, tid, nth, a, e);
    if (im.kvec) {
      for (index_t i = a; i < e; ++i) {
        const index_t kt = i / crs, kk = i % crs, g = kt / Kg, k = kt % Kg;
        const std::size_t at = ((g * kpanels + k / nw) * crs + kk) * nw + k % nw;
        T sum = 0;
        for (int u = 0; u < nth; ++u) sum += accs[u * im.acc_elems + at];
        dw[i] = sum;
      }
    } else {
      for (int u = 1; u < nth; ++u) {
        const T* src = accs + (u - 1) * im.acc_elems;
        for (index_t i = a; i < e; ++i) dw[i] += src[i];
      }
    }
  });
}
#endif  // AXONAL_X86

}  // namespace

std::size_t conv2d_workspace_bytes(const Conv2dParams& p, ConvPass pass, std::size_t elem_size,
                                   int threads) {
  return make_plan(p, pass, elem_size, threads).workspace * elem_size;
}

const char* conv2d_algorithm(const Conv2dParams& p, ConvPass pass, std::size_t elem_size,
                             int threads) {
  const Plan pl = make_plan(p, pass, elem_size, threads);
  switch (pl.algo) {
    case Algo::direct:
      return "direct";
    case Algo::pointwise:
      return "pointwise";
    case Algo::implicit:
      if (pl.im.kvec) return "implicit_channel";
      return pass == ConvPass::backward_weight ? "implicit_dot" : "implicit_spatial";
    default:
      return "im2col_gemm";
  }
}

// ------------------------------------------------------------------ forward
template <typename T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
                    int num_threads) {
  const index_t G = p.groups, Cg = p.C / G, Kg = p.K / G, HW = p.H * p.W, PQ = p.P * p.Q;
  const index_t crs = Cg * p.R * p.S;
  if (p.N == 0 || p.K == 0 || PQ == 0) return;
  const Plan pl = make_plan(p, ConvPass::forward, sizeof(T), num_threads);
#ifdef AXONAL_X86
  if (pl.algo == Algo::direct && pl.dw.simd) return dw_forward(p, pl, x, w, b, y);
#endif
  if (pl.algo == Algo::direct) return direct_forward(p, pl, x, w, b, y);
#ifdef AXONAL_X86
  if (pl.algo == Algo::implicit) return implicit_forward(p, pl, x, w, b, y);
#endif
  const ColRanges cr(p);
  const bool pointwise = pl.algo == Algo::pointwise;
  Buffer<T> ws(pl.workspace);
  // One work item: image n, group g, columns [j0, j1), with `gemm_nt` GEMM threads.
  auto item = [&](index_t n, index_t g, index_t j0, index_t j1, T* col, int gemm_nt) {
    const T* xg = x + (n * p.C + g * Cg) * HW;
    T* yg = y + (n * p.K + g * Kg) * PQ;
    const T* bmat = xg + j0;
    index_t ldb = PQ;
    if (!pointwise) {
      if (gemm_nt > 1)
        split_channels(gemm_nt, Cg, [&](index_t c0, index_t c1) {
          im2col_tile(p, cr, xg, c0, c1, j0, j1, col);
        });
      else
        im2col_tile(p, cr, xg, 0, Cg, j0, j1, col);
      bmat = col;
      ldb = j1 - j0;
    }
    gemm<T>(false, false, Kg, j1 - j0, crs, T(1), w + g * Kg * crs, crs, bmat, ldb, T(0), yg + j0,
            PQ, gemm_nt);
    if (b)
      for (index_t k = 0; k < Kg; ++k) {
        const T bk = b[g * Kg + k];
        T* yr = yg + k * PQ;
        for (index_t j = j0; j < j1; ++j) yr[j] += bk;
      }
  };
  const index_t items = p.N * G * pl.ntiles;
  const index_t colsz = line_pad(crs * pl.tile);
  if (pl.outer) {
    run_parallel(pl.threads, [&](int tid, int nth) {
      T* col = pointwise ? nullptr : ws.ptr + tid * colsz;
      index_t lo, hi;
      chunk(items, tid, nth, lo, hi);
      for (index_t it = lo; it < hi; ++it) {
        const index_t t = it % pl.ntiles, ng = it / pl.ntiles;
        const index_t j0 = t * pl.tile, j1 = std::min(PQ, j0 + pl.tile);
        item(ng / G, ng % G, j0, j1, col, 1);
      }
    });
  } else {
    for (index_t it = 0; it < items; ++it) {
      const index_t t = it % pl.ntiles, ng = it / pl.ntiles;
      const index_t j0 = t * pl.tile, j1 = std::min(PQ, j0 + pl.tile);
      item(ng / G, ng % G, j0, j1, ws.ptr, pl.threads);
    }
  }
}

// ------------------------------------------------------------------ backward input
template <typename T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx, int num_threads) {
  const index_t G = p.groups, Cg = p.C / G, Kg = p.K / G, HW = p.H * p.W, PQ = p.P * p.Q;
  const index_t crs = Cg * p.R * p.S;
  if (p.N == 0 || p.C == 0 || HW == 0) return;
  const Plan pl = make_plan(p, ConvPass::backward_input, sizeof(T), num_threads);
  if (p.K == 0 || PQ == 0) {
    std::fill(dx, dx + p.N * p.C * HW, T(0));
    return;
  }
#ifdef AXONAL_X86
  if (pl.algo == Algo::direct && pl.dw.simd) return dw_backward_input(p, pl, dy, w, dx);
#endif
  if (pl.algo == Algo::direct) return direct_backward_input(p, pl, dy, w, dx);
#ifdef AXONAL_X86
  if (pl.algo == Algo::implicit) return implicit_backward_input(p, pl, dy, w, dx);
#endif
  const ColRanges cr(p);
  Buffer<T> ws(pl.workspace);
  auto item = [&](index_t n, index_t g, T* col, int gemm_nt) {
    const T* dyg = dy + (n * p.K + g * Kg) * PQ;
    const T* wg = w + g * Kg * crs;
    T* dxg = dx + (n * p.C + g * Cg) * HW;
    if (pl.algo == Algo::pointwise) {  // dx_g (Cg, HW) = w_g^T (Cg, Kg) @ dy_g (Kg, HW)
      gemm<T>(true, false, Cg, PQ, Kg, T(1), wg, Cg, dyg, PQ, T(0), dxg, HW, gemm_nt);
      return;
    }
    if (gemm_nt > 1)
      split_channels(gemm_nt, Cg, [&](index_t c0, index_t c1) {
        std::fill(dxg + c0 * HW, dxg + c1 * HW, T(0));
      });
    else
      std::fill(dxg, dxg + Cg * HW, T(0));
    for (index_t j0 = 0; j0 < PQ; j0 += pl.tile) {
      const index_t j1 = std::min(PQ, j0 + pl.tile);
      gemm<T>(true, false, crs, j1 - j0, Kg, T(1), wg, crs, dyg + j0, PQ, T(0), col, j1 - j0,
              gemm_nt);
      if (gemm_nt > 1)
        split_channels(gemm_nt, Cg, [&](index_t c0, index_t c1) {
          col2im_tile_add(p, cr, col, c0, c1, j0, j1, dxg);
        });
      else
        col2im_tile_add(p, cr, col, 0, Cg, j0, j1, dxg);
    }
  };
  const index_t items = p.N * G;
  if (pl.outer) {
    run_parallel(pl.threads, [&](int tid, int nth) {
      T* col = ws.ptr ? ws.ptr + tid * line_pad(crs * pl.tile) : nullptr;
      index_t lo, hi;
      chunk(items, tid, nth, lo, hi);
      for (index_t it = lo; it < hi; ++it) item(it / G, it % G, col, 1);
    });
  } else {
    for (index_t it = 0; it < items; ++it) item(it / G, it % G, ws.ptr, pl.threads);
  }
}

// ------------------------------------------------------------------ backward weight
template <typename T>
void conv2d_backward_weight(const Conv2dParams& p, const T* dy, const T* x, T* dw,
                            int num_threads) {
  const index_t G = p.groups, Cg = p.C / G, Kg = p.K / G, HW = p.H * p.W, PQ = p.P * p.Q;
  const index_t crs = Cg * p.R * p.S, wsize = p.K * crs;
  if (wsize == 0) return;
  if (p.N == 0 || PQ == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  const Plan pl = make_plan(p, ConvPass::backward_weight, sizeof(T), num_threads);
#ifdef AXONAL_X86
  if (pl.algo == Algo::direct && pl.dw.simd) return dw_backward_weight(p, pl, dy, x, dw);
#endif
  if (pl.algo == Algo::direct) return direct_backward_weight(p, pl, dy, x, dw);
#ifdef AXONAL_X86
  if (pl.algo == Algo::implicit) return implicit_backward_weight(p, pl, dy, x, dw);
#endif
  const ColRanges cr(p);
  const bool pointwise = pl.algo == Algo::pointwise;
  Buffer<T> ws(pl.workspace);
  // acc (K, crs) += dy_g[:, j0:j1] @ col^T
  auto item = [&](index_t n, index_t g, index_t j0, index_t j1, T* col, T* acc, int gemm_nt) {
    const T* xg = x + (n * p.C + g * Cg) * HW;
    const T* dyg = dy + (n * p.K + g * Kg) * PQ;
    const T* bmat = xg + j0;
    index_t ldb = PQ;
    if (!pointwise) {
      if (gemm_nt > 1)
        split_channels(gemm_nt, Cg, [&](index_t c0, index_t c1) {
          im2col_tile(p, cr, xg, c0, c1, j0, j1, col);
        });
      else
        im2col_tile(p, cr, xg, 0, Cg, j0, j1, col);
      bmat = col;
      ldb = j1 - j0;
    }
    gemm<T>(false, true, Kg, crs, j1 - j0, T(1), dyg + j0, PQ, bmat, ldb, T(1), acc + g * Kg * crs,
            crs, gemm_nt);
  };
  const index_t items = p.N * G * pl.ntiles;
  const index_t colsz = pointwise ? 0 : line_pad(crs * pl.tile);
  std::fill(dw, dw + wsize, T(0));
  if (pl.outer) {
    T* accs = ws.ptr ? ws.ptr + pl.threads * colsz : nullptr;  // threads 1.. ; thread 0 uses dw
    run_parallel(pl.threads, [&](int tid, int nth) {
      T* col = pointwise ? nullptr : ws.ptr + tid * colsz;
      T* acc = tid == 0 ? dw : accs + (tid - 1) * wsize;
      if (tid > 0) std::fill(acc, acc + wsize, T(0));
      index_t lo, hi;
      chunk(items, tid, nth, lo, hi);
      for (index_t it = lo; it < hi; ++it) {
        const index_t t = it % pl.ntiles, ng = it / pl.ntiles;
        const index_t j0 = t * pl.tile, j1 = std::min(PQ, j0 + pl.tile);
        item(ng / G, ng % G, j0, j1, col, acc, 1);
      }
#ifdef AXONAL_OPENMP
#pragma omp barrier
#endif
      // dw += the other threads' sums, each thread reducing its own slice of dw.
      index_t a, e;
      chunk(wsize, tid, nth, a, e);
      for (int u = 1; u < nth; ++u) {
        const T* src = accs + (u - 1) * wsize;
        for (index_t i = a; i < e; ++i) dw[i] += src[i];
      }
    });
  } else {
    for (index_t it = 0; it < items; ++it) {
      const index_t t = it % pl.ntiles, ng = it / pl.ntiles;
      const index_t j0 = t * pl.tile, j1 = std::min(PQ, j0 + pl.tile);
      item(ng / G, ng % G, j0, j1, ws.ptr, dw, pl.threads);
    }
  }
}

// ------------------------------------------------------------------ backward bias
template <typename T>
void conv2d_backward_bias(index_t N, index_t K, index_t L, const T* dy, T* db, int num_threads) {
  if (K == 0) return;
  const double work = double(N) * double(K) * double(L);
  const int nt = std::max(1, std::min<int>(num_threads, static_cast<int>(work / 1.0e5)));
  run_parallel(nt, [&](int tid, int nth) {
    index_t lo, hi;
    chunk(K, tid, nth, lo, hi);
    for (index_t k = lo; k < hi; ++k) {
      T acc[8] = {};
      T tail = 0;
      for (index_t n = 0; n < N; ++n) {
        const T* src = dy + (n * K + k) * L;
        index_t i = 0;
        for (; i + 8 <= L; i += 8)
          for (int u = 0; u < 8; ++u) acc[u] += src[i + u];
        for (; i < L; ++i) tail += src[i];
      }
      db[k] =
          ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
    }
  });
}

#define AXONAL_INSTANTIATE_CONV(T)                                                             \
  template void conv2d_forward<T>(const Conv2dParams&, const T*, const T*, const T*, T*, int); \
  template void conv2d_backward_input<T>(const Conv2dParams&, const T*, const T*, T*, int);    \
  template void conv2d_backward_weight<T>(const Conv2dParams&, const T*, const T*, T*, int);   \
  template void conv2d_backward_bias<T>(index_t, index_t, index_t, const T*, T*, int);
AXONAL_INSTANTIATE_CONV(float)
AXONAL_INSTANTIATE_CONV(double)
#undef AXONAL_INSTANTIATE_CONV

}  // namespace axonal
