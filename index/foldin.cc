#include "index/foldin.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>

namespace encore::index {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

float Confidence::Of(double weight) const {
  const double f = scaling == "linear" ? weight : std::log1p(weight / epsilon);
  return static_cast<float>(1.0 + alpha * f);
}

std::vector<float> Gramian(const Matrix& y, double regularization) {
  const int k = y.dim;
  Eigen::Map<const RowMajor> Y(y.data.data(), y.rows, k);
  Eigen::MatrixXd g = Y.cast<double>().transpose() * Y.cast<double>();
  g.diagonal().array() += regularization;
  std::vector<float> out(static_cast<size_t>(k) * k);
  Eigen::Map<RowMajor>(out.data(), k, k) = g.cast<float>();
  return out;
}

std::vector<float> FoldIn(const Matrix& y, const std::vector<float>& gram,
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
