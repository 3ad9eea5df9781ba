#include "index/simd_distance.h"

#include <immintrin.h>

// The original FAISS definitions, reachable under these names because of `--wrap`.
extern "C" float __real__ZN5faiss18fvec_inner_productEPKfS1_m(const float* x, const float* y,
                                                              size_t d);
extern "C" float __real__ZN5faiss10fvec_L2sqrEPKfS1_m(const float* x, const float* y, size_t d);

namespace encore::index {
namespace {

using Kernel = float (*)(const float*, const float*, size_t);

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float InnerProductAvx2(const float* x, const float* y,
                                                           size_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
  }
  if (i + 8 <= d) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    i += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) sum += x[i] * y[i];
  return sum;
}

__attribute__((target("avx2,fma"))) float L2SquaredAvx2(const float* x, const float* y, size_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  if (i + 8 <= d) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    i += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) {
    const float diff = x[i] - y[i];
    sum += diff * diff;
  }
  return sum;
}

__attribute__((target("avx2,fma,f16c"))) float InnerProductHalfAvx2(const float* x,
                                                                    const uint16_t* h, size_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  // (A lambda would not inherit this function's target attribute.)
  const auto* hv = reinterpret_cast<const __m128i*>(h);
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_cvtph_ps(_mm_loadu_si128(hv + i / 8)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8),
                           _mm256_cvtph_ps(_mm_loadu_si128(hv + i / 8 + 1)), acc1);
  }
  if (i + 8 <= d) {
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_cvtph_ps(_mm_loadu_si128(hv + i / 8)), acc0);
    i += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < d; ++i) sum += x[i] * _cvtsh_ss(h[i]);
  return sum;
}

__attribute__((target("avx2,f16c"))) void FloatsToHalfF16c(const float* x, size_t n,
                                                           uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

bool HasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Chosen once, on first use (function-local statics are initialised thread-safely, and FAISS may
// run before any other static initialiser of ours).
Kernel InnerProductKernel() {
  static const Kernel kernel =
      HasAvx2() ? &InnerProductAvx2 : &__real__ZN5faiss18fvec_inner_productEPKfS1_m;
  return kernel;
}
Kernel L2SquaredKernel() {
  static const Kernel kernel = HasAvx2() ? &L2SquaredAvx2 : &__real__ZN5faiss10fvec_L2sqrEPKfS1_m;
  return kernel;
}

}  // namespace

float InnerProduct(const float* x, const float* y, size_t d) {
  return InnerProductKernel()(x, y, d);
}
float L2Squared(const float* x, const float* y, size_t d) { return L2SquaredKernel()(x, y, d); }
const char* DistanceKernelName() { return HasAvx2() ? "avx2+fma" : "scalar"; }

bool HalfKernelAvailable() {
  static const bool available = HasAvx2() && __builtin_cpu_supports("f16c");
  return available;
}
void FloatsToHalf(const float* x, size_t n, uint16_t* out) { FloatsToHalfF16c(x, n, out); }
float InnerProductHalf(const float* x, const uint16_t* h, size_t d) {
  return InnerProductHalfAvx2(x, h, d);
}

}  // namespace encore::index

// faiss::fvec_inner_product and faiss::fvec_L2sqr, redirected here by the linker.
extern "C" float __wrap__ZN5faiss18fvec_inner_productEPKfS1_m(const float* x, const float* y,
                                                              size_t d) {
  return encore::index::InnerProduct(x, y, d);
}
extern "C" float __wrap__ZN5faiss10fvec_L2sqrEPKfS1_m(const float* x, const float* y, size_t d) {
  return encore::index::L2Squared(x, y, d);
}
