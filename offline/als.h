// Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with the conjugate-gradient solver
// (Takács, Pilászy & Tikk 2011).
#ifndef ENCORE_OFFLINE_ALS_H_
#define ENCORE_OFFLINE_ALS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/foldin.h"
#include "index/matrix.h"

namespace encore::offline {

// Compressed sparse rows. Row r's entries are indices/values[indptr[r], indptr[r+1]).
struct CsrMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr = {0};
  std::vector<int32_t> indices;
  std::vector<float> values;

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  // The transpose (cols x rows), entries of each row in increasing index order.
  CsrMatrix Transpose() const;
};

// A (row, col, value) entry for building matrices.
struct Triplet {
  int32_t row;
  int32_t col;
  float value;
};

// Builds a CSR matrix; duplicate (row, col) entries are summed. INVALID_ARGUMENT when an index is
// out of range or a value is not finite.
absl::StatusOr<CsrMatrix> BuildCsr(int64_t rows, int64_t cols, std::vector<Triplet> triplets);

using index::Confidence;

struct AlsOptions {
  // Latent dimension. Default: 128 (best on Last.fm 2k validation, see docs/EVALUATION.md).
  int factors = 128;
  // L2 regularisation (lambda). Default: 60 (same).
  double regularization = 60.0;
  int iterations = 20;
  // Conjugate-gradient steps per row and half-iteration. Default: 3.
  int cg_steps = 3;
  // Worker threads (rows are split between them; results do not depend on the count).
  int threads = 2;
  uint64_t seed = 42;
  // Compute the training loss after each iteration (costs about one extra half-iteration).
  bool compute_loss = true;
};

struct AlsProgress {
  int iteration = 0;  // 1-based, just finished
  int iterations = 0;
  double seconds = 0.0;  // this iteration
  double loss = 0.0;     // NaN when not computed
};

struct AlsModel {
  index::Matrix user_factors;  // rows x factors
  index::Matrix item_factors;  // cols x factors
};

// Trains on `confidence` (users x items, values = total confidence c_ui >= 1 of observed pairs).
// `on_progress` (optional) is called after every iteration. Deterministic for a seed: each row's
// solve reads only the other side's factors, so the thread count does not change the result.
absl::StatusOr<AlsModel> TrainAls(const CsrMatrix& confidence, const AlsOptions& options,
                                  const std::function<void(const AlsProgress&)>& on_progress = {});

}  // namespace encore::offline

#endif  // ENCORE_OFFLINE_ALS_H_
