#include "index/foldin.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace encore::index {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

float Confidence::Of(double weight) const {
  const double f = scaling == "linear" ? weight : std::log1p(weight / epsilon);
  return static_cast<float>(1.0 + alpha * f);
}

std::vector<float> Gramian(MatrixView y, double regularization) {
  const int k = y.dim;
  // Accumulated in double, a block of rows at a time (a double copy of a 1M-row matrix would
  // be a transient 320 MB at load).
  constexpr int64_t kBlock = 4096;
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(k, k);
  for (int64_t r = 0; r < y.rows; r += kBlock) {
    const int64_t n = std::min(kBlock, y.rows - r);
    Eigen::MatrixXd block = Eigen::Map<const RowMajor>(y.row(r), n, k).cast<double>();
    g.noalias() += block.transpose() * block;
  }
  g.diagonal().array() += regularization;
  std::vector<float> out(static_cast<size_t>(k) * k);
  Eigen::Map<RowMajor>(out.data(), k, k) = g.cast<float>();
  return out;
}

std::vector<float> FoldIn(MatrixView y, const std::vector<float>& gram,
                          const std::vector<FoldInTerm>& terms) {
  const int k = y.dim;
  const Eigen::Index n = static_cast<Eigen::Index>(terms.size());
  // Gather the user's rows once so the update is one matrix product, not n rank-1 updates.
  RowMajor yu(n, k);
  Eigen::VectorXf extra(n), target(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    yu.row(i) = Eigen::Map<const Eigen::RowVectorXf>(y.row(terms[i].row), k);
    extra[i] = terms[i].confidence - 1.0f;
    target[i] = terms[i].confidence * terms[i].preference;
  }
  Eigen::MatrixXf a = Eigen::Map<const RowMajor>(gram.data(), k, k);
  a.noalias() += yu.transpose() * (extra.asDiagonal() * yu);
  Eigen::VectorXf b = yu.transpose() * target;
  Eigen::VectorXd x = a.cast<double>().ldlt().solve(b.cast<double>());
  std::vector<float> out(k);
  for (int j = 0; j < k; ++j) out[j] = static_cast<float>(x[j]);
  return out;
}

}  // namespace encore::index
