// The conjugate-gradient row solver of ALS, compiled twice: for baseline x86-64 and for
// AVX2+FMA, chosen at run time. Internal to offline/als.cc.
#ifndef ENCORE_OFFLINE_ALS_KERNEL_H_
#define ENCORE_OFFLINE_ALS_KERNEL_H_

#include <cstdint>

namespace encore::offline::internal {

// Solves rows [begin, end) of X given Y (see SolveSide in als.cc). All matrices row-major.
struct SolveArgs {
  const int64_t* indptr;
  const int32_t* indices;
  const float* values;  // total confidence per non-zero
  const float* y;       // items x k
  const float* yty;     // k x k, Y'Y + lambda I
  float* x;             // rows x k, updated in place
  int k;
  int cg_steps;
  int64_t begin;
  int64_t end;
};

void SolveRowsBaseline(const SolveArgs& args);
void SolveRowsAvx2(const SolveArgs& args);

// gram (k x k, row-major) += sum of y_r y_r' over rows [begin, end) of y (rows x k).
void AddGramBaseline(const float* y, int k, int64_t begin, int64_t end, float* gram);
void AddGramAvx2(const float* y, int k, int64_t begin, int64_t end, float* gram);

}  // namespace encore::offline::internal

#endif  // ENCORE_OFFLINE_ALS_KERNEL_H_
