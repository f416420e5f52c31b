// Fused, multi-threaded CPU kernels for ELECTRA's encoder layer, with their backward, as Paddle custom operators.
//
// Why: Paddle's CPU eager runs element-wise ops on one thread, unfused, and its bundled MKL runs the encoder's
// K=256 GEMMs at ~70 GFLOP/s. These kernels do the GEMMs through the oneDNN Paddle ships (dnnl_sgemm, ~200-220
// GFLOP/s a thread on these shapes) or, without it, the OpenBLAS numpy ships (~170); both are loaded with dlopen
// (pe_load_dnnl, pe_load_blas), nothing is linked at build time. Every element-wise op around a GEMM is fused
// into one OpenMP pass: bias (+GELU), dropout + residual + LayerNorm, and scaled masked softmax + dropout inside
// attention, which reads Q, K and V per head in place from the one QKV projection (no transposes).
//
// With the bf16 attribute, every GEMM takes bfloat16 copies of its operands (made in the same pass, rounded to
// nearest even) and accumulates in float32 through oneDNN's gemm_bf16bf16f32 (Paddle's own libdnnl, loaded by
// pe_load_dnnl): ~2x the float32 GEMM rate on a CPU with AVX-512 BF16. Weights, activations, gradients and every
// element-wise op stay float32 -- the GEMM inputs are what torch's CPU bf16 autocast rounds too.
//
// Dropout masks come from a counter-based hash of (seed, element index), so the backward regenerates them
// instead of storing them, and a run is reproducible from the seed Paddle's generator draws.
#include "paddle/extension.h"

#include <dlfcn.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using Tensor = paddle::Tensor;

typedef void (*Sgemm64)(int, int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                        int64_t, float, float*, int64_t);
typedef void (*Sgemm32)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                        int);
typedef void (*SetThreads)(int);
typedef int (*GetThreads)();

// oneDNN's row-major GEMMs (dnnl_sgemm's signature; gemm_bf16bf16f32 takes bfloat16 bits for A and B)
typedef int (*DnnlSgemm)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *,
                         int64_t, float, float *, int64_t);
typedef int (*DnnlBf16Gemm)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t,
                            const uint16_t *, int64_t, float, float *, int64_t);

Sgemm64 g_sgemm64 = nullptr;
Sgemm32 g_sgemm32 = nullptr;
SetThreads g_set_threads = nullptr;
GetThreads g_get_threads = nullptr;
DnnlSgemm g_dnnl_sgemm = nullptr;
DnnlBf16Gemm g_bf16_gemm = nullptr;
SetThreads g_dnnl_omp_set = nullptr;  // the OpenMP runtime oneDNN runs on (Paddle's libdnnl: libgomp)
GetThreads g_dnnl_omp_get = nullptr;

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

void *find(void *lib, std::initializer_list<const char *> names) {
  for (const char *name : names) {
    if (void *sym = dlsym(lib, name)) return sym;
  }
  return nullptr;
}

// One oneDNN thread per call: Paddle's libdnnl runs on libgomp, which does not see that the caller is already
// inside one of these kernels' (libiomp5) parallel regions and would start a second pool on the same cores.
struct SerialDnnl {
  int saved = 0;
  SerialDnnl() {
    if (g_dnnl_omp_set && g_dnnl_omp_get) {
      saved = g_dnnl_omp_get();
      if (saved != 1) g_dnnl_omp_set(1);
    }
  }
  ~SerialDnnl() {
    if (saved > 1) g_dnnl_omp_set(saved);
  }
};

// C (m x n, row-major) = alpha * op(A) op(B) + beta * C: oneDNN's sgemm where loaded, else OpenBLAS's
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
          const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (g_dnnl_sgemm) {
    SerialDnnl serial;
    const int status = g_dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    PD_CHECK(status == 0, "paddle-electra fused ops: oneDNN sgemm failed with status ", status);
    return;
  }
  if (g_sgemm64) {
    g_sgemm64(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
  } else {
    PD_CHECK(g_sgemm32 != nullptr, "paddle-electra fused ops: no BLAS loaded (pe_load_blas was not called)");
    g_sgemm32(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, (int)m, (int)n, (int)k, alpha, a,
              (int)lda, b, (int)ldb, beta, c, (int)ldc);
  }
}

// C (m x n, row-major, float32) = alpha * op(A) op(B) + beta * C with bfloat16 A and B
void gemm_bf16(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const uint16_t *a, int64_t lda,
               const uint16_t *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  PD_CHECK(g_bf16_gemm != nullptr, "paddle-electra fused ops: bf16 GEMMs need Paddle's oneDNN (pe_load_dnnl)");
  SerialDnnl serial;
  const int status = g_bf16_gemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  PD_CHECK(status == 0, "paddle-electra fused ops: oneDNN gemm_bf16bf16f32 failed with status ", status);
}

// float32 -> bfloat16 bits, round to nearest even (NaN stays NaN)
inline uint16_t bf16_bits(float value) {
  const uint32_t u = __builtin_bit_cast(uint32_t, value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void to_bf16(const float *src, uint16_t *dst, int64_t count) {
  int64_t i = 0;
#ifdef __AVX512BF16__
  for (; i + 16 <= count; i += 16) {
    const __m256bh packed = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
    std::memcpy(dst + i, &packed, sizeof(packed));
  }
#endif
  for (; i < count; ++i) dst[i] = bf16_bits(src[i]);
}

// A bfloat16 scratch tensor from Paddle's allocator (cached between steps, unlike a fresh std::vector)
uint16_t *scratch(Tensor &holder, int64_t count, const paddle::Place &place) {
  holder = paddle::empty({std::max<int64_t>(count, 1)}, paddle::DataType::BFLOAT16, place);
  return reinterpret_cast<uint16_t *>(holder.data());
}

// The calling thread's own bfloat16 buffer (attention's per-head blocks)
uint16_t *thread_buffer(std::vector<uint16_t> &buffer, int64_t count) {
  if ((int64_t)buffer.size() < count) buffer.resize((size_t)count);
  return buffer.data();
}

// Single-threaded BLAS while an OpenMP loop calls it from every thread; restored afterwards.
struct SerialBlas {
  int saved = 0;
  SerialBlas() {
    if (g_set_threads && g_get_threads) {
      saved = g_get_threads();
      g_set_threads(1);
    }
  }
  ~SerialBlas() {
    if (saved > 0) g_set_threads(saved);
  }
};

inline bool keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  uint64_t z = seed + index * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (uint32_t)(z >> 32) >= threshold;
}

inline uint32_t threshold_for(float p) { return (uint32_t)std::min(4294967295.0, (double)p * 4294967296.0); }

// exp and erf in plain arithmetic, so the compiler vectorises the loops that call them (glibc's vector math is
// only declared under -ffast-math, and the scalar calls cost ~40 ms a step in the FFN's GELU alone).
// exp: Cephes' expf (range reduction by ln 2, degree-6 polynomial, 2^n by exponent bits), ~1 ulp.
inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float t = x * 1.44269504088896341f + 0.5f;  // n = floor(t), by truncation (std::floor blocks vectorising)
  int32_t whole = (int32_t)t;
  whole -= (int32_t)(t < (float)whole);
  const float n = (float)whole;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const uint32_t bits = (uint32_t)(whole + 127) << 23;
  return y * __builtin_bit_cast(float, bits);
}

// GELU(z) and GELU'(z) from one erf (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7, float32's own resolution
// near 1): its exp(-a^2) at a = |z|/sqrt(2) is exp(-z^2/2), the normal density's
// own factor, so the slope the backward needs costs the forward two multiplies and the backward only one.
inline void gelu_and_slope(float z, float &value, float &slope) {
  const float a = std::fabs(z) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly =
      t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  const float density = fast_exp(-a * a);  // exp(-z^2 / 2)
  const float cdf2 = 1.0f + std::copysign(1.0f - poly * density, z);  // 1 + erf(z / sqrt(2))
  value = 0.5f * z * cdf2;
  slope = 0.5f * cdf2 + z * 0.39894228040143268f * density;
}

inline float gelu(float z) {  // the slope, unused, is optimised away
  float value, slope;
  gelu_and_slope(z, value, slope);
  return value;
}

// column sums of one or two (rows x cols) matrices, per-thread partials then one reduction
void column_sums(const float *a, const float *weight, int64_t rows, int64_t cols, float *sum_a, float *sum_aw) {
  int threads = omp_get_max_threads();
  std::vector<float> partial((size_t)threads * cols * 2, 0.0f);
#pragma omp parallel num_threads(threads)
  {
    float *pa = partial.data() + (size_t)omp_get_thread_num() * cols * 2;
    float *pw = pa + cols;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = a + r * cols;
      if (weight) {
        const float *w = weight + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) {
          pa[c] += row[c];
          pw[c] += row[c] * w[c];
        }
      } else {
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) pa[c] += row[c];
      }
    }
  }
  for (int64_t c = 0; c < cols; ++c) {
    float s = 0.0f, sw = 0.0f;
    for (int t = 0; t < threads; ++t) {
      s += partial[(size_t)t * cols * 2 + c];
      sw += partial[(size_t)t * cols * 2 + cols + c];
    }
    sum_a[c] = s;
    if (sum_aw) sum_aw[c] = sw;
  }
}

std::vector<int64_t> with_last(std::vector<int64_t> shape, int64_t last) {
  shape.back() = last;
  return shape;
}

void check_f32(const Tensor &t, const char *name) {
  PD_CHECK(t.dtype() == paddle::DataType::FLOAT32, "paddle-electra fused ops take float32; ", name, " is not");
  PD_CHECK(t.is_cpu(), "paddle-electra fused ops run on the CPU; ", name, " is not on it");
}

// ------------------------------------------------------------------------------------------------ linear
// Every GEMM is split over the OpenMP threads, each calling single-threaded BLAS on its block and running the
// element-wise epilogue on the rows it just wrote (still in cache). One thread pool in the process (Paddle's
// libiomp5, shared with its MKL): OpenBLAS's own pool spins after each call and would take a core from it.
inline void share(int64_t total, int64_t &begin, int64_t &end) {
  const int64_t parts = omp_get_num_threads(), chunk = (total + parts - 1) / parts;
  begin = std::min(total, omp_get_thread_num() * chunk);
  end = std::min(total, begin + chunk);
}

// Out = X W + b, or GELU(X W + b) keeping GELU's slope at X W + b for the backward.
std::vector<Tensor> linear_forward(const Tensor &x, const Tensor &w, const Tensor &b, bool with_gelu, bool bf16) {
  check_f32(x, "x");
  check_f32(w, "weight");
  const int64_t k = w.shape()[0], n = w.shape()[1], m = x.numel() / k;
  PD_CHECK(x.shape().back() == k, "fused linear: input's last dim ", x.shape().back(), " != weight rows ", k);
  Tensor z = paddle::empty(with_last(x.shape(), n), x.dtype(), x.place());
  Tensor out = with_gelu ? paddle::empty(z.shape(), z.dtype(), z.place()) : z;
  const float *xp = x.data<float>(), *wp = w.data<float>(), *bias = b.data<float>();
  float *zp = z.data<float>(), *op = out.data<float>();
  Tensor x_holder, w_holder;
  uint16_t *xb = bf16 ? scratch(x_holder, m * k, x.place()) : nullptr;
  uint16_t *wb = bf16 ? scratch(w_holder, k * n, w.place()) : nullptr;
  SerialBlas serial;
#pragma omp parallel
  {
    int64_t r0, r1;
    if (bf16) {
      share(k, r0, r1);
      to_bf16(wp + r0 * n, wb + r0 * n, (r1 - r0) * n);
#pragma omp barrier
    }
    share(m, r0, r1);
    if (r1 > r0 && bf16) {
      to_bf16(xp + r0 * k, xb + r0 * k, (r1 - r0) * k);
      gemm_bf16(false, false, r1 - r0, n, k, 1.0f, xb + r0 * k, k, wb, n, 0.0f, zp + r0 * n, n);
    } else if (r1 > r0) {
      gemm(false, false, r1 - r0, n, k, 1.0f, xp + r0 * k, k, wp, n, 0.0f, zp + r0 * n, n);
    }
    for (int64_t r = r0; r < r1; ++r) {
      float *zr = zp + r * n, *orow = op + r * n;
      if (with_gelu) {  // z's buffer becomes the slope's
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) gelu_and_slope(zr[c] + bias[c], orow[c], zr[c]);
      } else {
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) zr[c] += bias[c];
      }
    }
  }
  if (with_gelu) return {out, z};
  return {z};
}

// dX = dZ W^T by rows, dW = X^T dZ and db = colsum(dZ) by columns; with gelu_slope, dZ = dOut * GELU'(Z) first.
std::vector<Tensor> linear_backward(const Tensor &x, const Tensor &w, const Tensor &dout, const Tensor *gelu_slope,
                                    bool bf16) {
  const int64_t k = w.shape()[0], n = w.shape()[1], m = x.numel() / k;
  Tensor dx = paddle::empty(x.shape(), x.dtype(), x.place());
  Tensor dw = paddle::empty(w.shape(), w.dtype(), w.place());
  Tensor db = paddle::empty({n}, w.dtype(), w.place());
  Tensor dz_buffer = gelu_slope ? paddle::empty(dout.shape(), dout.dtype(), dout.place()) : dout;
  const float *xp = x.data<float>(), *wp = w.data<float>(), *g = dout.data<float>();
  const float *zp = gelu_slope ? gelu_slope->data<float>() : nullptr;
  float *dz = gelu_slope ? dz_buffer.data<float>() : nullptr;
  const float *dzc = gelu_slope ? dz : g;
  float *dxp = dx.data<float>(), *dwp = dw.data<float>(), *dbp = db.data<float>();
  Tensor x_holder, w_holder, dz_holder;
  uint16_t *xb = bf16 ? scratch(x_holder, m * k, x.place()) : nullptr;
  uint16_t *wb = bf16 ? scratch(w_holder, k * n, w.place()) : nullptr;
  uint16_t *dzb = bf16 ? scratch(dz_holder, m * n, x.place()) : nullptr;
  std::vector<float> db_partial((size_t)omp_get_max_threads() * n, 0.0f);  // per thread, over its rows
  SerialBlas serial;
#pragma omp parallel
  {
    int64_t r0, r1, c0, c1;
    if (bf16) {
      share(k, r0, r1);
      to_bf16(wp + r0 * n, wb + r0 * n, (r1 - r0) * n);
    }
    share(m, r0, r1);
    // one pass over this thread's rows of dZ: GELU', the bias gradient's partial sums, the bfloat16 copy
    float *db_own = db_partial.data() + (size_t)omp_get_thread_num() * n;
    for (int64_t r = r0; r < r1; ++r) {
      const float *dz_row = dzc + r * n;
      if (gelu_slope) {
        const float *g_row = g + r * n, *z_row = zp + r * n;
        float *out_row = dz + r * n;
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) out_row[c] = g_row[c] * z_row[c];
      }
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) db_own[c] += dz_row[c];
      if (bf16) to_bf16(dz_row, dzb + r * n, n);
    }
    if (bf16) {
      to_bf16(xp + r0 * k, xb + r0 * k, (r1 - r0) * k);
#pragma omp barrier
      if (r1 > r0) gemm_bf16(false, true, r1 - r0, k, n, 1.0f, dzb + r0 * n, n, wb, n, 0.0f, dxp + r0 * k, k);
    } else if (r1 > r0) {
      gemm(false, true, r1 - r0, k, n, 1.0f, dzc + r0 * n, n, wp, n, 0.0f, dxp + r0 * k, k);
    }
#pragma omp barrier
    share(n, c0, c1);
    if (c1 > c0) {
      if (bf16) {
        gemm_bf16(true, false, k, c1 - c0, m, 1.0f, xb, k, dzb + c0, n, 0.0f, dwp + c0, n);
      } else {
        gemm(true, false, k, c1 - c0, m, 1.0f, xp, k, dzc + c0, n, 0.0f, dwp + c0, n);
      }
      const int threads = omp_get_num_threads();
      for (int64_t c = c0; c < c1; ++c) {
        float total = 0.0f;
        for (int t = 0; t < threads; ++t) total += db_partial[(size_t)t * n + c];
        dbp[c] = total;
      }
    }
  }
  return {dx, dw, db};
}

std::vector<Tensor> LinearForward(const Tensor &x, const Tensor &w, const Tensor &b, bool bf16) {
  return linear_forward(x, w, b, false, bf16);
}

std::vector<Tensor> LinearBackward(const Tensor &x, const Tensor &w, const Tensor &dout, bool bf16) {
  return linear_backward(x, w, dout, nullptr, bf16);
}

std::vector<Tensor> LinearGeluForward(const Tensor &x, const Tensor &w, const Tensor &b, bool bf16) {
  return linear_forward(x, w, b, true, bf16);
}

std::vector<Tensor> LinearGeluBackward(const Tensor &x, const Tensor &w, const Tensor &slope, const Tensor &dout,
                                       bool bf16) {
  return linear_backward(x, w, dout, &slope, bf16);
}

std::vector<std::vector<int64_t>> LinearShape(const std::vector<int64_t> &x, const std::vector<int64_t> &w,
                                              const std::vector<int64_t> &, const bool &) {
  return {with_last(x, w[1])};
}

std::vector<std::vector<int64_t>> LinearGeluShape(const std::vector<int64_t> &x, const std::vector<int64_t> &w,
                                                  const std::vector<int64_t> &, const bool &) {
  return {with_last(x, w[1]), with_last(x, w[1])};
}

std::vector<paddle::DataType> OneDtype(const paddle::DataType &x, const paddle::DataType &, const paddle::DataType &) {
  return {x};
}

std::vector<paddle::DataType> TwoDtypes(const paddle::DataType &x, const paddle::DataType &,
                                        const paddle::DataType &) {
  return {x, x};
}

// -------------------------------------------------------------------- dropout + residual + LayerNorm
// Out = LayerNorm(dropout(X) + R) * gamma + beta; keeps the normalised rows and 1/std for the backward.
std::vector<Tensor> AddNormForward(const Tensor &x, const Tensor &residual, const Tensor &gamma, const Tensor &beta,
                                   float epsilon, float p, int64_t seed) {
  check_f32(x, "x");
  check_f32(residual, "residual");
  PD_CHECK(x.numel() == residual.numel(), "fused add+LayerNorm: x and residual differ in size");
  const int64_t n = x.shape().back(), m = x.numel() / n;
  Tensor out = paddle::empty(x.shape(), x.dtype(), x.place());
  Tensor xhat = paddle::empty(x.shape(), x.dtype(), x.place());
  Tensor rstd = paddle::empty({m}, x.dtype(), x.place());
  const float *xp = x.data<float>(), *rp = residual.data<float>(), *g = gamma.data<float>(),
              *bt = beta.data<float>();
  float *op = out.data<float>(), *hp = xhat.data<float>(), *sp = rstd.data<float>();
  const uint32_t threshold = threshold_for(p);
  const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) {
    float *h = hp + r * n;
    const float *xr = xp + r * n, *rr = rp + r * n;
    if (p > 0.0f) {
      for (int64_t c = 0; c < n; ++c) h[c] = (keep(seed, r * n + c, threshold) ? xr[c] * scale : 0.0f) + rr[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) h[c] = xr[c] + rr[c];
    }
    float mean = 0.0f;
#pragma omp simd reduction(+ : mean)
    for (int64_t c = 0; c < n; ++c) mean += h[c];
    mean /= n;
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (int64_t c = 0; c < n; ++c) var += (h[c] - mean) * (h[c] - mean);
    const float inv = 1.0f / std::sqrt(var / n + epsilon);
    sp[r] = inv;
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) {
      h[c] = (h[c] - mean) * inv;
      op[r * n + c] = h[c] * g[c] + bt[c];
    }
  }
  return {out, xhat, rstd};
}

std::vector<Tensor> AddNormBackward(const Tensor &gamma, const Tensor &xhat, const Tensor &rstd, const Tensor &dout,
                                    float p, int64_t seed) {
  const int64_t n = xhat.shape().back(), m = xhat.numel() / n;
  Tensor dx = paddle::empty(xhat.shape(), xhat.dtype(), xhat.place());
  Tensor dr = paddle::empty(xhat.shape(), xhat.dtype(), xhat.place());
  Tensor dgamma = paddle::empty(gamma.shape(), gamma.dtype(), gamma.place());
  Tensor dbeta = paddle::empty(gamma.shape(), gamma.dtype(), gamma.place());
  const float *g = gamma.data<float>(), *hp = xhat.data<float>(), *sp = rstd.data<float>(),
              *dy = dout.data<float>();
  float *dxp = dx.data<float>(), *drp = dr.data<float>();
  const uint32_t threshold = threshold_for(p);
  const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) {
    const float *h = hp + r * n, *d = dy + r * n;
    float mean_d = 0.0f, mean_dh = 0.0f;
#pragma omp simd reduction(+ : mean_d, mean_dh)
    for (int64_t c = 0; c < n; ++c) {
      const float dxh = d[c] * g[c];
      mean_d += dxh;
      mean_dh += dxh * h[c];
    }
    mean_d /= n;
    mean_dh /= n;
    float *dres = drp + r * n, *din = dxp + r * n;
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) dres[c] = sp[r] * (d[c] * g[c] - mean_d - h[c] * mean_dh);
    if (p > 0.0f) {
      for (int64_t c = 0; c < n; ++c) din[c] = keep(seed, r * n + c, threshold) ? dres[c] * scale : 0.0f;
    } else {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) din[c] = dres[c];
    }
  }
  column_sums(dy, hp, m, n, dbeta.data<float>(), dgamma.data<float>());
  return {dx, dr, dgamma, dbeta};
}

std::vector<std::vector<int64_t>> AddNormShape(const std::vector<int64_t> &x, const std::vector<int64_t> &,
                                               const std::vector<int64_t> &, const std::vector<int64_t> &,
                                               const float &, const float &, const int64_t &) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i) rows *= x[i];
  return {x, x, {rows}};
}

std::vector<paddle::DataType> AddNormDtype(const paddle::DataType &x, const paddle::DataType &,
                                           const paddle::DataType &, const paddle::DataType &) {
  return {x, x, x};
}

// ------------------------------------------------------------------------------------------- attention
// QKV: [batch, seq, 3 * width], the Q, K and V projections side by side as one GEMM writes them (width = heads *
// head_dim); mask: additive float32 [batch, mask_heads (1 or heads), mask_rows (1 or seq), seq].
// Ctx: [batch, seq, width]; Probs: the softmax before dropout, [batch, heads, seq, seq], kept for the backward.
// Heads are read and written in place (no transposes); the backward writes dQKV in QKV's layout, so the
// projection's backward is one GEMM.
struct Geometry {
  int64_t batch, seq, width, heads, head_dim, mask_heads, mask_rows;
  int64_t packed() const { return 3 * width; }  // QKV's row stride
  // part 0, 1, 2: Q, K, V of head h in example b (row stride packed())
  template <typename T>
  T *in(T *base, int64_t b, int64_t h, int part) const {
    return base + b * seq * packed() + part * width + h * head_dim;
  }
  // head h of example b in Ctx (row stride width)
  template <typename T>
  T *out(T *base, int64_t b, int64_t h) const {
    return base + b * seq * width + h * head_dim;
  }
};

Geometry geometry_of(const Tensor &qkv, const Tensor &mask, int heads) {
  PD_CHECK(qkv.shape().size() == 3 && qkv.shape()[2] % 3 == 0,
           "fused attention: qkv must be [batch, seq, 3 * width] (Q, K, V side by side)");
  const int64_t width = qkv.shape()[2] / 3;
  Geometry g{qkv.shape()[0], qkv.shape()[1], width, heads, width / heads, 1, 1};
  PD_CHECK(g.head_dim * heads == g.width, "fused attention: width ", g.width, " is not a multiple of ", heads);
  PD_CHECK(mask.shape().size() == 4 && mask.shape()[0] == g.batch && mask.shape()[3] == g.seq,
           "fused attention: mask must be [batch, 1|heads, 1|seq, seq]");
  g.mask_heads = mask.shape()[1];
  g.mask_rows = mask.shape()[2];
  PD_CHECK((g.mask_heads == 1 || g.mask_heads == heads) && (g.mask_rows == 1 || g.mask_rows == g.seq),
           "fused attention: mask must be [batch, 1|heads, 1|seq, seq]");
  return g;
}

// C (rows x cols) = alpha op(A) op(B), float32 or on the operands' bfloat16 copies (a_b, b_b: same layout)
inline void head_gemm(bool bf16, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      const uint16_t *a_b, int64_t lda, const float *b, const uint16_t *b_b, int64_t ldb, float *c,
                      int64_t ldc) {
  if (bf16) {
    gemm_bf16(ta, tb, m, n, k, alpha, a_b, lda, b_b, ldb, 0.0f, c, ldc);
  } else {
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
  }
}

// the bfloat16 copy of a thread's s x s block, when bf16 (else nullptr)
inline const uint16_t *square_bf16(bool bf16, const float *block, std::vector<uint16_t> &buffer, int64_t s) {
  if (!bf16) return nullptr;
  uint16_t *out = thread_buffer(buffer, s * s);
  to_bf16(block, out, s * s);
  return out;
}

std::vector<Tensor> AttentionForward(const Tensor &qkv, const Tensor &mask, int heads, float scale, float p,
                                     int64_t seed, bool bf16) {
  check_f32(qkv, "qkv");
  check_f32(mask, "attention mask");
  const Geometry g = geometry_of(qkv, mask, heads);
  const int64_t s = g.seq, d = g.head_dim, ld = g.packed();
  Tensor ctx = paddle::empty({g.batch, s, g.width}, qkv.dtype(), qkv.place());
  Tensor probs = paddle::empty({g.batch, heads, s, s}, qkv.dtype(), qkv.place());
  const float *xp = qkv.data<float>(), *mp = mask.data<float>();
  float *cp = ctx.data<float>(), *pp = probs.data<float>();
  const uint32_t threshold = threshold_for(p);
  const float drop_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  Tensor holder;
  uint16_t *xb = bf16 ? scratch(holder, qkv.numel(), qkv.place()) : nullptr;
  SerialBlas serial;
#pragma omp parallel
  {
    std::vector<float> dropped(p > 0.0f ? (size_t)(s * s) : 0);
    std::vector<uint16_t> weights_bf16;
    if (bf16) {
      int64_t i0, i1;
      share(qkv.numel(), i0, i1);
      to_bf16(xp + i0, xb + i0, i1 - i0);
#pragma omp barrier
    }
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < g.batch * heads; ++bh) {
      const int64_t b = bh / heads, h = bh % heads;
      float *scores = pp + bh * s * s;
      head_gemm(bf16, false, true, s, s, d, scale, g.in(xp, b, h, 0), bf16 ? g.in(xb, b, h, 0) : nullptr, ld,
                g.in(xp, b, h, 1), bf16 ? g.in(xb, b, h, 1) : nullptr, ld, scores, s);
      const float *mask_head = mp + (b * g.mask_heads + (g.mask_heads == 1 ? 0 : h)) * g.mask_rows * s;
      for (int64_t i = 0; i < s; ++i) {
        float *row = scores + i * s;
        const float *mrow = mask_head + (g.mask_rows == 1 ? 0 : i * s);
        float top = -INFINITY;
#pragma omp simd reduction(max : top)
        for (int64_t j = 0; j < s; ++j) {
          row[j] += mrow[j];
          top = std::max(top, row[j]);
        }
        float total = 0.0f;
#pragma omp simd reduction(+ : total)
        for (int64_t j = 0; j < s; ++j) {
          row[j] = fast_exp(row[j] - top);
          total += row[j];
        }
        const float inv = 1.0f / total;
#pragma omp simd
        for (int64_t j = 0; j < s; ++j) row[j] *= inv;
        if (p > 0.0f) {
          float *drow = dropped.data() + i * s;
          const uint64_t base = (uint64_t)(bh * s + i) * s;
          for (int64_t j = 0; j < s; ++j) drow[j] = keep(seed, base + j, threshold) ? row[j] * drop_scale : 0.0f;
        }
      }
      const float *weights = p > 0.0f ? dropped.data() : scores;
      head_gemm(bf16, false, false, s, d, s, 1.0f, weights, square_bf16(bf16, weights, weights_bf16, s), s,
                g.in(xp, b, h, 2), bf16 ? g.in(xb, b, h, 2) : nullptr, ld, g.out(cp, b, h), g.width);
    }
  }
  return {ctx, probs};
}

std::vector<Tensor> AttentionBackward(const Tensor &qkv, const Tensor &mask, const Tensor &probs, const Tensor &dctx,
                                      int heads, float scale, float p, int64_t seed, bool bf16) {
  const Geometry g = geometry_of(qkv, mask, heads);
  const int64_t s = g.seq, d = g.head_dim, ld = g.packed();
  Tensor dqkv = paddle::empty(qkv.shape(), qkv.dtype(), qkv.place());
  const float *xp = qkv.data<float>(), *pp = probs.data<float>(), *gp = dctx.data<float>();
  float *dxp = dqkv.data<float>();
  const uint32_t threshold = threshold_for(p);
  const float drop_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
  Tensor x_holder, g_holder;
  uint16_t *xb = bf16 ? scratch(x_holder, qkv.numel(), qkv.place()) : nullptr;
  uint16_t *gb = bf16 ? scratch(g_holder, dctx.numel(), qkv.place()) : nullptr;
  SerialBlas serial;
#pragma omp parallel
  {
    std::vector<float> dscores((size_t)(s * s));
    std::vector<float> dropped(p > 0.0f ? (size_t)(s * s) : 0);
    std::vector<uint16_t> used_bf16, dscores_bf16;
    if (bf16) {
      int64_t i0, i1;
      share(qkv.numel(), i0, i1);
      to_bf16(xp + i0, xb + i0, i1 - i0);
      share(dctx.numel(), i0, i1);
      to_bf16(gp + i0, gb + i0, i1 - i0);
#pragma omp barrier
    }
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < g.batch * heads; ++bh) {
      const int64_t b = bh / heads, h = bh % heads;
      const float *prob = pp + bh * s * s;
      const float *used = prob;
      if (p > 0.0f) {
        for (int64_t i = 0; i < s * s; ++i)
          dropped[i] = keep(seed, (uint64_t)bh * s * s + i, threshold) ? prob[i] * drop_scale : 0.0f;
        used = dropped.data();
      }
      const float *gh = g.out(gp, b, h);
      const uint16_t *gh_b = bf16 ? g.out(gb, b, h) : nullptr;
      // dV = P'^T dCtx ; dP' = dCtx V^T
      head_gemm(bf16, true, false, s, d, s, 1.0f, used, square_bf16(bf16, used, used_bf16, s), s, gh, gh_b, g.width,
                g.in(dxp, b, h, 2), ld);
      float *ds = dscores.data();
      head_gemm(bf16, false, true, s, s, d, 1.0f, gh, gh_b, g.width, g.in(xp, b, h, 2),
                bf16 ? g.in(xb, b, h, 2) : nullptr, ld, ds, s);
      for (int64_t i = 0; i < s; ++i) {
        float *row = ds + i * s;
        const float *prow = prob + i * s;
        if (p > 0.0f) {
          const uint64_t base = (uint64_t)(bh * s + i) * s;
          for (int64_t j = 0; j < s; ++j) row[j] = keep(seed, base + j, threshold) ? row[j] * drop_scale : 0.0f;
        }
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < s; ++j) dot += row[j] * prow[j];
#pragma omp simd
        for (int64_t j = 0; j < s; ++j) row[j] = prow[j] * (row[j] - dot);
      }
      // scores = scale * Q K^T: dQ = scale dS K ; dK = scale dS^T Q
      const uint16_t *ds_b = square_bf16(bf16, ds, dscores_bf16, s);
      head_gemm(bf16, false, false, s, d, s, scale, ds, ds_b, s, g.in(xp, b, h, 1),
                bf16 ? g.in(xb, b, h, 1) : nullptr, ld, g.in(dxp, b, h, 0), ld);
      head_gemm(bf16, true, false, s, d, s, scale, ds, ds_b, s, g.in(xp, b, h, 0),
                bf16 ? g.in(xb, b, h, 0) : nullptr, ld, g.in(dxp, b, h, 1), ld);
    }
  }
  return {dqkv};
}

std::vector<std::vector<int64_t>> AttentionShape(const std::vector<int64_t> &qkv, const std::vector<int64_t> &,
                                                 const int &heads, const float &, const float &, const int64_t &,
                                                 const bool &) {
  return {{qkv[0], qkv[1], qkv[2] / 3}, {qkv[0], heads, qkv[1], qkv[1]}};
}

std::vector<paddle::DataType> AttentionDtype(const paddle::DataType &qkv, const paddle::DataType &) {
  return {qkv, qkv};
}

// ------------------------------------------------------------------------------------ QA end scores
// The seed's joint QA head scores every (start candidate, end position) pair: v . GELU(S[b,k] + E[b,j]) + b2,
// with S = start @ W[:H] + b1 [B, K, C] and E = end @ W[H:] [B, L, C]. Paddle's ops materialise [B, K, L, C]
// three times (broadcast add, GELU, the C->1 projection); this reads S and E and writes [B, K, L] only.
// Inference only (no backward): training scores one gold start per example.
std::vector<Tensor> PairScoreForward(const Tensor &start, const Tensor &end, const Tensor &weight, const Tensor &bias) {
  check_f32(start, "start projection");
  check_f32(end, "end projection");
  PD_CHECK(start.shape().size() == 3 && end.shape().size() == 3, "pair score: start [B, K, C], end [B, L, C]");
  const int64_t batch = start.shape()[0], beams = start.shape()[1], width = start.shape()[2], seq = end.shape()[1];
  PD_CHECK(end.shape()[0] == batch && end.shape()[2] == width && weight.numel() == width && bias.numel() == 1,
           "pair score: start [B, K, C], end [B, L, C], weight [C], bias [1]");
  Tensor out = paddle::empty({batch, beams, seq}, start.dtype(), start.place());
  const float *sp = start.data<float>(), *ep = end.data<float>(), *wp = weight.data<float>();
  const float b0 = bias.data<float>()[0];
  float *op = out.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = 0; k < beams; ++k) {
      const float *srow = sp + (b * beams + k) * width;
      for (int64_t j = 0; j < seq; ++j) {
        const float *erow = ep + (b * seq + j) * width;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t c = 0; c < width; ++c) acc += wp[c] * gelu(srow[c] + erow[c]);
        op[(b * beams + k) * seq + j] = acc + b0;
      }
    }
  }
  return {out};
}

std::vector<std::vector<int64_t>> PairScoreShape(const std::vector<int64_t> &start, const std::vector<int64_t> &end,
                                                 const std::vector<int64_t> &, const std::vector<int64_t> &) {
  return {{start[0], start[1], end[1]}};
}

std::vector<paddle::DataType> PairScoreDtype(const paddle::DataType &start, const paddle::DataType &,
                                             const paddle::DataType &, const paddle::DataType &) {
  return {start};
}

// ------------------------------------------------------------------------------- the seed's AdamW update
// One multi-threaded pass per parameter, in place: m, v, the update and the weight-decayed step, the maths of
// training/optim.py's SeedAdamW (no bias correction; epsilon outside the square root; decay on the update).
// grad_scale multiplies the gradient first (global-norm clipping and loss-scale undo, without rewriting it).
// Every product and sum rounded on its own (no fused multiply-add) and the complements 1 - beta given by the
// caller, as Paddle's scalar ops compute them: the same bits as the update on Paddle's ops.
__attribute__((optimize("fp-contract=off"))) void SeedAdamWUpdate(
    Tensor &param, const Tensor &grad, Tensor &m, Tensor &v, float lr, float beta1, float one_minus_beta1,
    float beta2, float one_minus_beta2, float epsilon, float decay, float grad_scale) {
  check_f32(param, "parameter");
  check_f32(grad, "gradient");
  check_f32(m, "first moment");
  check_f32(v, "second moment");
  PD_CHECK(grad.numel() == param.numel() && m.numel() == param.numel() && v.numel() == param.numel(),
           "fused AdamW: parameter, gradient and moments differ in size");
  const int64_t count = param.numel();
  float *pp = param.data<float>(), *mp = m.data<float>(), *vp = v.data<float>();
  const float *gp = grad.data<float>();
#pragma omp parallel for simd schedule(static) if (count > 32768)
  for (int64_t i = 0; i < count; ++i) {
    const float g = gp[i] * grad_scale;
    const float m_new = beta1 * mp[i] + one_minus_beta1 * g;
    const float v_new = beta2 * vp[i] + one_minus_beta2 * g * g;
    mp[i] = m_new;
    vp[i] = v_new;
    const float update = m_new / (std::sqrt(v_new) + epsilon) + decay * pp[i];
    pp[i] -= lr * update;
  }
}

}  // namespace

// Loads the BLAS (numpy's OpenBLAS) the kernels call; 0 on success, 1 when the library or sgemm is missing.
extern "C" int pe_load_blas(const char *path) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 1;
  g_sgemm64 = nullptr;
  g_sgemm32 = nullptr;
  g_sgemm64 = (Sgemm64)find(lib, {"scipy_cblas_sgemm64_", "cblas_sgemm64_"});
  if (!g_sgemm64) g_sgemm32 = (Sgemm32)find(lib, {"scipy_cblas_sgemm", "cblas_sgemm"});
  g_set_threads = (SetThreads)find(lib, {"scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                                         "scipy_openblas_set_num_threads", "openblas_set_num_threads"});
  g_get_threads = (GetThreads)find(lib, {"scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                                         "scipy_openblas_get_num_threads", "openblas_get_num_threads"});
  return (g_sgemm64 || g_sgemm32) ? 0 : 1;
}

// Loads oneDNN's GEMMs from Paddle's libdnnl and the OpenMP runtime it runs on; 0 when sgemm was found (the
// bf16 GEMM may still be missing: pe_has_bf16_gemm), 1 otherwise. ~200-220 GFLOP/s a thread on the encoder's
// shapes, beside ~180 for OpenBLAS.
extern "C" int pe_load_dnnl(const char *path) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 1;
  g_dnnl_sgemm = (DnnlSgemm)find(lib, {"dnnl_sgemm"});
  g_bf16_gemm = (DnnlBf16Gemm)find(lib, {"dnnl_gemm_bf16bf16f32"});
  // looked up through libdnnl's own dependencies: the runtime its parallel regions use
  g_dnnl_omp_set = (SetThreads)find(lib, {"omp_set_num_threads"});
  g_dnnl_omp_get = (GetThreads)find(lib, {"omp_get_max_threads"});
  if (!g_dnnl_omp_set || !g_dnnl_omp_get) {  // its thread count cannot be bounded: not used
    g_dnnl_sgemm = nullptr;
    g_bf16_gemm = nullptr;
  }
  return g_dnnl_sgemm ? 0 : 1;
}

extern "C" int pe_has_bf16_gemm() { return g_bf16_gemm != nullptr; }

// Linked against Paddle's libiomp5, not libgomp: one OpenMP pool in the process, shared with Paddle's MKL. Two
// pools spin after their parallel regions and take each other's cores (measured: 6.3 ex/s with libgomp + iomp5
// spinning against each other, 10 with one of them told to sleep, 15.5 with one pool left at its defaults).
extern "C" int pe_threads() { return omp_get_max_threads(); }

extern "C" void pe_set_threads(int count) {
  omp_set_num_threads(count);
  if (g_set_threads) g_set_threads(count);
}

PD_BUILD_OP(pe_linear)
    .Inputs({"X", "W", "B"})
    .Attrs({"bf16: bool"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(LinearForward))
    .SetInferShapeFn(PD_INFER_SHAPE(LinearShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(OneDtype));

PD_BUILD_GRAD_OP(pe_linear)
    .Inputs({"X", "W", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W"), paddle::Grad("B")})
    .Attrs({"bf16: bool"})
    .SetKernelFn(PD_KERNEL(LinearBackward));

PD_BUILD_OP(pe_linear_gelu)
    .Inputs({"X", "W", "B"})
    .Attrs({"bf16: bool"})
    .Outputs({"Out", "Slope"})
    .SetKernelFn(PD_KERNEL(LinearGeluForward))
    .SetInferShapeFn(PD_INFER_SHAPE(LinearGeluShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(TwoDtypes));

PD_BUILD_GRAD_OP(pe_linear_gelu)
    .Inputs({"X", "W", "Slope", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W"), paddle::Grad("B")})
    .Attrs({"bf16: bool"})
    .SetKernelFn(PD_KERNEL(LinearGeluBackward));

PD_BUILD_OP(pe_add_norm)
    .Inputs({"X", "R", "Gamma", "Beta"})
    .Outputs({"Out", "Xhat", "Rstd"})
    .Attrs({"epsilon: float", "p: float", "seed: int64_t"})
    .SetKernelFn(PD_KERNEL(AddNormForward))
    .SetInferShapeFn(PD_INFER_SHAPE(AddNormShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(AddNormDtype));

PD_BUILD_GRAD_OP(pe_add_norm)
    .Inputs({"Gamma", "Xhat", "Rstd", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("R"), paddle::Grad("Gamma"), paddle::Grad("Beta")})
    .Attrs({"p: float", "seed: int64_t"})
    .SetKernelFn(PD_KERNEL(AddNormBackward));

PD_BUILD_OP(pe_attention)
    .Inputs({"QKV", "Mask"})
    .Outputs({"Ctx", "Probs"})
    .Attrs({"heads: int", "scale: float", "p: float", "seed: int64_t", "bf16: bool"})
    .SetKernelFn(PD_KERNEL(AttentionForward))
    .SetInferShapeFn(PD_INFER_SHAPE(AttentionShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(AttentionDtype));

PD_BUILD_GRAD_OP(pe_attention)
    .Inputs({"QKV", "Mask", "Probs", paddle::Grad("Ctx")})
    .Outputs({paddle::Grad("QKV")})
    .Attrs({"heads: int", "scale: float", "p: float", "seed: int64_t", "bf16: bool"})
    .SetKernelFn(PD_KERNEL(AttentionBackward));

PD_BUILD_OP(pe_pair_score)
    .Inputs({"Start", "End", "Weight", "Bias"})
    .Outputs({"Out"})
    .SetKernelFn(PD_KERNEL(PairScoreForward))
    .SetInferShapeFn(PD_INFER_SHAPE(PairScoreShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(PairScoreDtype));

PD_BUILD_OP(pe_seed_adamw_)
    .Inputs({"Param", "Grad", "M", "V"})
    .Outputs({"ParamOut", "MOut", "VOut"})
    .Attrs({"lr: float", "beta1: float", "one_minus_beta1: float", "beta2: float", "one_minus_beta2: float",
            "epsilon: float", "decay: float", "grad_scale: float"})
    .SetInplaceMap({{"Param", "ParamOut"}, {"M", "MOut"}, {"V", "VOut"}})
    .SetKernelFn(PD_KERNEL(SeedAdamWUpdate));
