#include "offline/als.h"

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "offline/als_kernel.h"

namespace encore::offline {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapRows = Eigen::Map<RowMajor>;
using MapConstRows = Eigen::Map<const RowMajor>;

// Runs body(begin, end) over [0, n) in blocks on `threads` threads.
template <typename Body>
void ParallelFor(int64_t n, int threads, Body body) {
  constexpr int64_t kBlock = 128;
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    while (true) {
      const int64_t begin = next.fetch_add(kBlock);
      if (begin >= n) return;
      body(begin, std::min(n, begin + kBlock));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

bool UseAvx2();

// Y'Y + reg I. Blocks of rows are summed in float by the kernel, blocks are added in double.
Eigen::MatrixXf Gram(const index::Matrix& y, double reg, int threads) {
  const int k = y.dim;
  constexpr int64_t kBlock = 128;  // must match ParallelFor's block
  const int64_t blocks = (y.rows + kBlock - 1) / kBlock;
  std::vector<std::vector<float>> partial(blocks);
  const bool avx2 = UseAvx2();
  ParallelFor(y.rows, threads, [&](int64_t begin, int64_t end) {
    std::vector<float>& g = partial[begin / kBlock];
    g.assign(static_cast<size_t>(k) * k, 0.0f);
    if (avx2) {
      internal::AddGramAvx2(y.data.data(), k, begin, end, g.data());
    } else {
      internal::AddGramBaseline(y.data.data(), k, begin, end, g.data());
    }
  });
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(k, k);
  for (const auto& g : partial) {
    sum += Eigen::Map<const Eigen::MatrixXf>(g.data(), k, k).cast<double>();
  }
  sum.diagonal().array() += reg;
  return sum.cast<float>();
}

// Picks the AVX2+FMA solver when the CPU has it.
bool UseAvx2() {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2;
#else
  return false;
#endif
}

// One half-iteration: solves every row of X given Y with `cg_steps` of conjugate gradient,
// warm-started from the current X.
void SolveSide(const CsrMatrix& c, const index::Matrix& y, index::Matrix* x, double reg,
               int cg_steps, int threads) {
  const Eigen::MatrixXf yty = Gram(y, reg, threads);  // symmetric: storage order is moot
  const bool avx2 = UseAvx2();
  ParallelFor(c.rows, threads, [&](int64_t begin, int64_t end) {
    internal::SolveArgs args{c.indptr.data(), c.indices.data(),
                             c.values.data(), y.data.data(),
                             yty.data(),      x->data.data(),
                             y.dim,           cg_steps,
                             begin,           end};
    if (avx2) {
      internal::SolveRowsAvx2(args);
    } else {
      internal::SolveRowsBaseline(args);
    }
  });
}

// Weighted squared error over all user x item cells plus the L2 penalty, per cell.
double Loss(const CsrMatrix& c, const index::Matrix& x, const index::Matrix& y, double reg,
            int threads) {
  const int k = y.dim;
  const Eigen::MatrixXf yty = Gram(y, 0.0, threads);
  MapConstRows X(x.data.data(), x.rows, k);
  MapConstRows Y(y.data.data(), y.rows, k);
  std::vector<double> partial((c.rows + 127) / 128, 0.0);
  ParallelFor(c.rows, threads, [&](int64_t begin, int64_t end) {
    double loss = 0.0;
    for (int64_t u = begin; u < end; ++u) {
      const auto xu = X.row(u);
      loss += static_cast<double>(xu * yty * xu.transpose());
      for (int64_t j = c.indptr[u]; j < c.indptr[u + 1]; ++j) {
        const double s = xu.dot(Y.row(c.indices[j]));
        const double conf = c.values[j];
        loss += conf * (1.0 - s) * (1.0 - s) - s * s;
      }
      loss += reg * xu.squaredNorm();
    }
    partial[begin / 128] = loss;
  });
  double total = 0.0;
  for (double v : partial) total += v;
  total += reg * static_cast<double>(Y.squaredNorm());
  double confidence_mass = 0.0;
  for (float v : c.values) confidence_mass += v - 1.0;
  return total / (static_cast<double>(c.rows) * c.cols + confidence_mass);
}

void InitFactors(index::Matrix* m, int64_t rows, int k, std::mt19937_64* rng) {
  std::uniform_real_distribution<float> u(0.0f, 0.01f);
  m->rows = rows;
  m->dim = k;
  m->data.resize(static_cast<size_t>(rows) * k);
  for (float& v : m->data) v = u(*rng);
}

}  // namespace

CsrMatrix CsrMatrix::Transpose() const {
  CsrMatrix t;
  t.rows = cols;
  t.cols = rows;
  t.indptr.assign(cols + 1, 0);
  for (int32_t c : indices) ++t.indptr[c + 1];
  for (int64_t i = 0; i < cols; ++i) t.indptr[i + 1] += t.indptr[i];
  t.indices.resize(indices.size());
  t.values.resize(values.size());
  std::vector<int64_t> fill(t.indptr.begin(), t.indptr.end() - 1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = indptr[r]; j < indptr[r + 1]; ++j) {
      const int64_t dst = fill[indices[j]]++;
      t.indices[dst] = static_cast<int32_t>(r);
      t.values[dst] = values[j];
    }
  }
  return t;
}

absl::StatusOr<CsrMatrix> BuildCsr(int64_t rows, int64_t cols, std::vector<Triplet> triplets) {
  if (rows < 0 || cols < 0 || cols > INT32_MAX || rows > INT32_MAX) {
    return absl::InvalidArgumentError("matrix shape out of range");
  }
  for (const auto& t : triplets) {
    if (t.row < 0 || t.row >= rows || t.col < 0 || t.col >= cols) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry (", t.row, ", ", t.col, ") outside ", rows, "x", cols));
    }
    if (!std::isfinite(t.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry (", t.row, ", ", t.col, ") is not finite"));
    }
  }
  std::sort(triplets.begin(), triplets.end(), [](const Triplet& a, const Triplet& b) {
    return a.row < b.row || (a.row == b.row && a.col < b.col);
  });
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.assign(rows + 1, 0);
  for (size_t i = 0; i < triplets.size(); ++i) {
    const Triplet& t = triplets[i];
    if (!m.indices.empty() && i > 0 && triplets[i - 1].row == t.row &&
        triplets[i - 1].col == t.col) {
      m.values.back() += t.value;
      continue;
    }
    m.indices.push_back(t.col);
    m.values.push_back(t.value);
    ++m.indptr[t.row + 1];
  }
  for (int64_t r = 0; r < rows; ++r) m.indptr[r + 1] += m.indptr[r];
  return m;
}

absl::StatusOr<AlsModel> TrainAls(const CsrMatrix& confidence, const AlsOptions& o,
                                  const std::function<void(const AlsProgress&)>& on_progress) {
  if (o.factors < 1 || o.factors > 1024) {
    return absl::InvalidArgumentError("factors must be in 1..1024");
  }
  if (!(o.regularization >= 0)) return absl::InvalidArgumentError("regularization must be >= 0");
  if (o.iterations < 0 || o.cg_steps < 1 || o.threads < 1) {
    return absl::InvalidArgumentError("need iterations >= 0, cg_steps >= 1, threads >= 1");
  }
  for (float v : confidence.values) {
    if (!(v >= 1.0f) || !std::isfinite(v)) {
      return absl::InvalidArgumentError("confidence values must be finite and >= 1");
    }
  }
  std::mt19937_64 rng(o.seed);
  AlsModel model;
  InitFactors(&model.user_factors, confidence.rows, o.factors, &rng);
  InitFactors(&model.item_factors, confidence.cols, o.factors, &rng);
  const CsrMatrix transposed = confidence.Transpose();
  for (int it = 1; it <= o.iterations; ++it) {
    const auto start = std::chrono::steady_clock::now();
    SolveSide(confidence, model.item_factors, &model.user_factors, o.regularization, o.cg_steps,
              o.threads);
    SolveSide(transposed, model.user_factors, &model.item_factors, o.regularization, o.cg_steps,
              o.threads);
    AlsProgress progress;
    progress.iteration = it;
    progress.iterations = o.iterations;
    progress.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.loss = o.compute_loss ? Loss(confidence, model.user_factors, model.item_factors,
                                          o.regularization, o.threads)
                                   : std::nan("");
    if (on_progress) on_progress(progress);
  }
  return model;
}

}  // namespace encore::offline
