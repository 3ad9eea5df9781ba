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

namespace encore::index {

// Sum of x[i] * y[i] for i < d.
float InnerProduct(const float* x, const float* y, size_t d);
// Sum of (x[i] - y[i])^2 for i < d.
float L2Squared(const float* x, const float* y, size_t d);
// "avx2+fma" or "scalar": the kernel InnerProduct/L2Squared (and FAISS) use on this CPU.
const char* DistanceKernelName();

}  // namespace encore::index

#endif  // ENCORE_INDEX_SIMD_DISTANCE_H_
