// Vector distance kernels for the serving path, with an AVX2+FMA version picked at run time.
//
// Debian's libfaiss is compiled for baseline x86-64, so its fvec_inner_product / fvec_L2sqr are
// scalar loops; profiling the 1M-item Recommend path showed that scalar inner product taking 47%
// of the CPU. The index library links with `--wrap` for those two FAISS symbols (see
// index/CMakeLists.txt), so every FAISS distance computer (HNSW build and search, flat search)
// calls the kernels below instead. On a CPU without AVX2+FMA the original FAISS code runs.
#ifndef ENCORE_INDEX_SIMD_DISTANCE_H_
#define ENCORE_INDEX_SIMD_DISTANCE_H_

#include <cstddef>
#include <cstdint>

namespace encore::index {

// Sum of x[i] * y[i] for i < d.
float InnerProduct(const float* x, const float* y, size_t d);
// Sum of (x[i] - y[i])^2 for i < d.
float L2Squared(const float* x, const float* y, size_t d);
// "avx2+fma" or "scalar": the kernel InnerProduct/L2Squared (and FAISS) use on this CPU.
const char* DistanceKernelName();

// Half-precision (IEEE binary16) vectors for the HNSW traversal (index/hnsw_search.h): half the
// memory traffic of floats. Whether this CPU has what the two functions below need (AVX2, FMA
// and F16C); they must not be called where it has not.
bool HalfKernelAvailable();
// out[i] = x[i] rounded to the nearest half float, i < n. REQUIRES: HalfKernelAvailable().
void FloatsToHalf(const float* x, size_t n, uint16_t* out);
// Sum of x[i] * h[i] (h widened to float) for i < d. REQUIRES: HalfKernelAvailable().
float InnerProductHalf(const float* x, const uint16_t* h, size_t d);

}  // namespace encore::index

#endif  // ENCORE_INDEX_SIMD_DISTANCE_H_
