// The ALS fold-in: a listener's least-squares factors given fixed item factors.
#ifndef ENCORE_INDEX_FOLDIN_H_
#define ENCORE_INDEX_FOLDIN_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "index/matrix.h"

namespace encore::index {

// How raw interaction weights (play counts) become ALS confidence c = 1 + alpha * f(w).
struct Confidence {
  // "log": f(w) = log(1 + w / epsilon); "linear": f(w) = w.
  std::string scaling = "log";
  double alpha = 2.0;
  double epsilon = 1.0;

  // The total confidence (>= 1) of an observed weight w >= 0.
  float Of(double weight) const;
};

// What a space needs for the fold-in: the training regularisation and confidence function, and
// the Gramian Y'Y + lambda I computed once at load.
struct FoldInModel {
  double regularization = 0.0;
  Confidence confidence;
  std::vector<float> gram;
};

// Y'Y + lambda I for item factors Y (rows x k): row-major k x k.
std::vector<float> Gramian(MatrixView item_factors, double regularization);

// One observed item for the fold-in: its row in Y, its total confidence c >= 0 and its
// preference p (1 = liked/played, 0 = explicitly not wanted).
struct FoldInTerm {
  int64_t row;
  float confidence;
  float preference;
};

// Solves x = (Y'Y + lambda I + sum_i (c_i - 1) y_i y_i')^-1 sum_i c_i p_i y_i exactly (Cholesky),
// the same step as implicit's recalculate_user. `gram` = Gramian(Y, lambda). Returns k floats.
std::vector<float> FoldIn(MatrixView item_factors, const std::vector<float>& gram,
                          const std::vector<FoldInTerm>& terms);

}  // namespace encore::index

#endif  // ENCORE_INDEX_FOLDIN_H_
