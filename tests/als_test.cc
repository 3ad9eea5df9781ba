#include "offline/als.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <random>

#include "index/foldin.h"
#include "offline/als_kernel.h"
#include "tests/test_util.h"

namespace encore::offline {
namespace {

// Two planted communities: users 0..19 play items 0..29, users 20..39 play items 30..59.
CsrMatrix Communities() {
  std::mt19937_64 rng(3);
  std::vector<Triplet> t;
  for (int u = 0; u < 40; ++u) {
    const int base = u < 20 ? 0 : 30;
    for (int k = 0; k < 10; ++k) {
      t.push_back({u, base + static_cast<int>(rng() % 30), 1.0f + static_cast<float>(rng() % 20)});
    }
  }
  auto m = BuildCsr(40, 60, t);
  EXPECT_TRUE(m.ok());
  for (float& v : m->values) v = Confidence{}.Of(v);
  return *m;
}

TEST(CsrTest, BuildSumsDuplicatesAndTransposes) {
  ASSERT_OK_AND_ASSIGN(CsrMatrix m, BuildCsr(2, 3, {{1, 2, 1.0f}, {0, 1, 2.0f}, {1, 2, 3.0f}}));
  EXPECT_EQ(m.nnz(), 2);
  EXPECT_EQ(m.indptr, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(m.values[1], 4.0f);
  CsrMatrix t = m.Transpose();
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.indptr, (std::vector<int64_t>{0, 0, 1, 2}));
  EXPECT_EQ(t.indices, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(BuildCsr(2, 3, {{2, 0, 1.0f}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(BuildCsr(2, 3, {{0, 0, std::nanf("")}}).ok());
}

TEST(ConfidenceTest, Scalings) {
  Confidence log_c;
  EXPECT_FLOAT_EQ(log_c.Of(0), 1.0f);
  EXPECT_NEAR(log_c.Of(std::exp(1.0) - 1), 3.0f, 1e-5);  // 1 + 2 * log(e)
  Confidence lin{"linear", 0.5, 1.0};
  EXPECT_FLOAT_EQ(lin.Of(10), 6.0f);
}

TEST(AlsTest, LossFallsAndCommunitiesSeparate) {
  CsrMatrix c = Communities();
  AlsOptions o;
  o.factors = 8;
  o.regularization = 0.1;
  o.iterations = 10;
  std::vector<double> losses;
  ASSERT_OK_AND_ASSIGN(AlsModel m,
                       TrainAls(c, o, [&](const AlsProgress& p) { losses.push_back(p.loss); }));
  ASSERT_EQ(losses.size(), 10u);
  EXPECT_LT(losses.back(), losses.front());
  for (size_t i = 1; i < losses.size(); ++i) EXPECT_LE(losses[i], losses[i - 1] * 1.001);
  // A user scores items of their own community above the other's.
  auto score = [&](int u, int i) {
    float s = 0;
    for (int j = 0; j < 8; ++j) s += m.user_factors.row(u)[j] * m.item_factors.row(i)[j];
    return s;
  };
  double own = 0, other = 0;
  for (int i = 0; i < 30; ++i) {
    own += score(3, i) + score(25, 30 + i);
    other += score(3, 30 + i) + score(25, i);
  }
  EXPECT_GT(own, 5 * std::max(other, 1e-3));
}

TEST(AlsTest, DeterministicAcrossThreadCounts) {
  CsrMatrix c = Communities();
  AlsOptions o;
  o.factors = 6;
  o.iterations = 4;
  o.threads = 1;
  ASSERT_OK_AND_ASSIGN(AlsModel one, TrainAls(c, o));
  o.threads = 3;
  ASSERT_OK_AND_ASSIGN(AlsModel three, TrainAls(c, o));
  EXPECT_EQ(one.item_factors.data, three.item_factors.data);
  EXPECT_EQ(one.user_factors.data, three.user_factors.data);
  o.seed = 99;
  ASSERT_OK_AND_ASSIGN(AlsModel other, TrainAls(c, o));
  EXPECT_NE(one.item_factors.data, other.item_factors.data);
}

TEST(AlsTest, RejectsBadOptions) {
  CsrMatrix c = Communities();
  AlsOptions o;
  o.factors = 0;
  EXPECT_EQ(TrainAls(c, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.factors = 4;
  o.regularization = -1;
  EXPECT_FALSE(TrainAls(c, o).ok());
  c.values[0] = 0.5f;  // confidence below 1
  o.regularization = 1;
  EXPECT_FALSE(TrainAls(c, o).ok());
}

TEST(FoldInTest, MatchesTheDenseLeastSquaresSolution) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> n(0, 1);
  index::Matrix y;
  y.rows = 50;
  y.dim = 5;
  for (int i = 0; i < 250; ++i) y.data.push_back(n(rng));
  const double lambda = 2.0;
  std::vector<float> gram = index::Gramian(y, lambda);
  std::vector<index::FoldInTerm> terms = {{3, 5.0f, 1.0f}, {10, 2.0f, 1.0f}, {20, 4.0f, 0.0f}};
  std::vector<float> x = index::FoldIn(y, gram, terms);
  // Dense reference: minimise sum_i c_i (p_i - x.y_i)^2 + lambda |x|^2 over ALL items (c = 1,
  // p = 0 for unobserved ones).
  Eigen::MatrixXd a = lambda * Eigen::MatrixXd::Identity(5, 5);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(5);
  for (int i = 0; i < 50; ++i) {
    double c = 1, p = 0;
    for (const auto& t : terms) {
      if (t.row == i) c = t.confidence, p = t.preference;
    }
    Eigen::VectorXd yi(5);
    for (int j = 0; j < 5; ++j) yi[j] = y.row(i)[j];
    a += c * yi * yi.transpose();
    b += c * p * yi;
  }
  Eigen::VectorXd want = a.ldlt().solve(b);
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(x[j], want[j], 1e-4);
}

}  // namespace
}  // namespace encore::offline

namespace encore::offline::internal {
namespace {

TEST(AlsKernelTest, Avx2AndBaselineAgree) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    GTEST_SKIP() << "CPU without AVX2+FMA: only the baseline kernel can run";
  }
  std::mt19937_64 rng(5);
  std::normal_distribution<float> n(0, 0.3f);
  for (int k : {5, 37, 64}) {
    std::vector<float> y(200 * k), yty(k * k, 0.0f), yty2(k * k, 0.0f);
    for (float& v : y) v = n(rng);
    AddGramBaseline(y.data(), k, 0, 200, yty.data());
    AddGramAvx2(y.data(), k, 0, 200, yty2.data());
    for (int i = 0; i < k * k; ++i) ASSERT_NEAR(yty[i], yty2[i], 1e-3) << k;
    for (int i = 0; i < k; ++i) yty[i * k + i] += 1.0f;
    std::vector<int64_t> indptr = {0, 3, 3, 5};
    std::vector<int32_t> indices = {1, 50, 199, 7, 8};
    std::vector<float> values = {2.0f, 9.0f, 1.5f, 4.0f, 3.0f};
    std::vector<float> xa(3 * k), xb;
    for (float& v : xa) v = n(rng);
    xb = xa;
    SolveArgs a{
        indptr.data(), indices.data(), values.data(), y.data(), yty.data(), xa.data(), k, 3, 0, 3};
    SolveArgs b = a;
    b.x = xb.data();
    SolveRowsBaseline(a);
    SolveRowsAvx2(b);
    for (int i = 0; i < 3 * k; ++i) EXPECT_NEAR(xa[i], xb[i], 1e-4) << k;
  }
}

}  // namespace
}  // namespace encore::offline::internal
