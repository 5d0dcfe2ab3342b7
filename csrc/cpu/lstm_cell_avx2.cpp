// lstm_cell_avx2.cpp: float32 LSTM cell pointwise kernels with AVX2 + FMA (see lstm_cell.h).
// Eight hidden units per vector; a row's last H % 8 units go through a zero-padded staging vector.
#include <immintrin.h>

#include "cpu/lstm_cell.h"
#include "cpu/vec_math_avx2.h"

namespace axonal {

namespace {

// Units [j, j + n) of one row (n == 8: whole vectors, else the padded tail).
inline void forward_units(index_t H, const float* g, const float* c, float* a, float* c2, float* h2,
                          index_t j, int n) {
  auto ld = [n](const float* p) { return n == 8 ? _mm256_loadu_ps(p) : load_part(p, n, 0.0f); };
  auto st = [n](float* p, __m256 v) { n == 8 ? _mm256_storeu_ps(p, v) : store_part(p, v, n); };
  const __m256 i = sigmoid_ps(ld(g + j)), f = sigmoid_ps(ld(g + H + j));
  const __m256 gg = tanh_ps(ld(g + 2 * H + j)), o = sigmoid_ps(ld(g + 3 * H + j));
  st(a + j, i);
  st(a + H + j, f);
  st(a + 2 * H + j, gg);
  st(a + 3 * H + j, o);
  const __m256 cn = _mm256_fmadd_ps(f, ld(c + j), _mm256_mul_ps(i, gg));
  st(c2 + j, cn);
  st(h2 + j, _mm256_mul_ps(o, tanh_ps(cn)));
}

inline void backward_units(index_t H, const float* dh, const float* dc, const float* a,
                           const float* c, const float* c2, float* d, float* dcp, index_t j,
                           int n) {
  auto ld = [n](const float* p) { return n == 8 ? _mm256_loadu_ps(p) : load_part(p, n, 0.0f); };
  auto st = [n](float* p, __m256 v) { n == 8 ? _mm256_storeu_ps(p, v) : store_part(p, v, n); };
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 i = ld(a + j), f = ld(a + H + j), g = ld(a + 2 * H + j), o = ld(a + 3 * H + j);
  const __m256 tc = tanh_ps(ld(c2 + j)), vdh = ld(dh + j);
  const __m256 dct = _mm256_fmadd_ps(_mm256_mul_ps(vdh, o), _mm256_fnmadd_ps(tc, tc, one),
                                     dc ? ld(dc + j) : _mm256_setzero_ps());
  st(d + j, _mm256_mul_ps(_mm256_mul_ps(dct, g), _mm256_mul_ps(i, _mm256_sub_ps(one, i))));
  st(d + H + j,
     _mm256_mul_ps(_mm256_mul_ps(dct, ld(c + j)), _mm256_mul_ps(f, _mm256_sub_ps(one, f))));
  st(d + 2 * H + j, _mm256_mul_ps(_mm256_mul_ps(dct, i), _mm256_fnmadd_ps(g, g, one)));
  st(d + 3 * H + j, _mm256_mul_ps(_mm256_mul_ps(vdh, tc), _mm256_mul_ps(o, _mm256_sub_ps(one, o))));
  st(dcp + j, _mm256_mul_ps(dct, f));
}

// GRU units [j, j + n) of one row.
inline void gru_units(index_t H, const float* gi, const float* gh, const float* h, float* rz,
                      float* nn, float* ghn, float* h2, index_t j, int n) {
  auto ld = [n](const float* p) { return n == 8 ? _mm256_loadu_ps(p) : load_part(p, n, 0.0f); };
  auto st = [n](float* p, __m256 v) { n == 8 ? _mm256_storeu_ps(p, v) : store_part(p, v, n); };
  const __m256 r = sigmoid_ps(_mm256_add_ps(ld(gi + j), ld(gh + j)));
  const __m256 z = sigmoid_ps(_mm256_add_ps(ld(gi + H + j), ld(gh + H + j)));
  const __m256 gn = ld(gh + 2 * H + j);
  const __m256 nv = tanh_ps(_mm256_add_ps(ld(gi + 2 * H + j), _mm256_mul_ps(r, gn)));
  st(rz + j, r);
  st(rz + H + j, z);
  st(nn + j, nv);
  st(ghn + j, gn);
  // (1 - z) n + z h = n + z (h - n)
  st(h2 + j, _mm256_fmadd_ps(z, _mm256_sub_ps(ld(h + j), nv), nv));
}

}  // namespace

void gru_cell_forward_f32_avx2(index_t m, index_t H, const float* gi, const float* gh,
                               const float* h, float* rz, float* n, float* ghn, float* h2) {
  const index_t H8 = H / 8 * 8;
  for (index_t r = 0; r < m; ++r) {
    const float *gir = gi + r * 3 * H, *ghr = gh + r * 3 * H, *hr = h + r * H;
    float *rzr = rz + r * 2 * H, *nr = n + r * H, *gnr = ghn + r * H, *h2r = h2 + r * H;
    for (index_t j = 0; j < H8; j += 8) gru_units(H, gir, ghr, hr, rzr, nr, gnr, h2r, j, 8);
    if (H8 < H) gru_units(H, gir, ghr, hr, rzr, nr, gnr, h2r, H8, static_cast<int>(H - H8));
  }
}

void lstm_cell_forward_f32_avx2(index_t r0, index_t r1, index_t H, const float* gates,
                                const float* c, float* act, float* c2, float* h2) {
  const index_t H8 = H / 8 * 8;
  for (index_t r = r0; r < r1; ++r) {
    const float* g = gates + r * 4 * H;
    float* a = act + r * 4 * H;
    const index_t o = r * H;
    for (index_t j = 0; j < H8; j += 8) forward_units(H, g, c + o, a, c2 + o, h2 + o, j, 8);
    if (H8 < H) forward_units(H, g, c + o, a, c2 + o, h2 + o, H8, static_cast<int>(H - H8));
  }
}

void lstm_cell_backward_f32_avx2(index_t r0, index_t r1, index_t H, const float* dh,
                                 const float* dc, const float* act, const float* c, const float* c2,
                                 float* dgates, float* dc_prev) {
  const index_t H8 = H / 8 * 8;
  for (index_t r = r0; r < r1; ++r) {
    const index_t o = r * H;
    const float* a = act + r * 4 * H;
    float* d = dgates + r * 4 * H;
    const float* dcr = dc ? dc + o : nullptr;
    for (index_t j = 0; j < H8; j += 8)
      backward_units(H, dh + o, dcr, a, c + o, c2 + o, d, dc_prev + o, j, 8);
    if (H8 < H)
      backward_units(H, dh + o, dcr, a, c + o, c2 + o, d, dc_prev + o, H8,
                     static_cast<int>(H - H8));
  }
}

}  // namespace axonal
