// ALS training speed on a synthetic power-law play matrix, in seconds per iteration.
// Usage: encore-bench-als [--users=50000 --items=100000 --nnz=2000000 --factors=64 ...]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "offline/als.h"

ABSL_FLAG(int64_t, users, 50000, "Rows");
ABSL_FLAG(int64_t, items, 100000, "Columns");
ABSL_FLAG(int64_t, nnz, 2000000, "Distinct non-zeros");
ABSL_FLAG(double, zipf, 1.0, "Power-law exponent of item and user activity");
ABSL_FLAG(int, factors, 64, "Latent factors");
ABSL_FLAG(int, iterations, 3, "Timed iterations (after one warm-up iteration)");
ABSL_FLAG(int, threads, 2, "Threads");
ABSL_FLAG(int, cg_steps, 3, "CG steps");
ABSL_FLAG(uint64_t, seed, 1, "Seed");

namespace {

// Draws ranks in [0, n) with P(r) proportional to 1 / (r + 1)^s via the inverse CDF of the
// continuous approximation.
class PowerLaw {
 public:
  PowerLaw(int64_t n, double s) : n_(n), s_(s) {}
  int64_t operator()(std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> u(0, 1);
    const double x = u(rng);
    double r;
    if (std::abs(s_ - 1.0) < 1e-9) {
      r = std::exp(x * std::log(n_ + 1.0)) - 1.0;
    } else {
      const double a = 1.0 - s_;
      r = std::pow(x * (std::pow(n_ + 1.0, a) - 1.0) + 1.0, 1.0 / a) - 1.0;
    }
    return std::min<int64_t>(n_ - 1, static_cast<int64_t>(r));
  }

 private:
  int64_t n_;
  double s_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t users = absl::GetFlag(FLAGS_users), items = absl::GetFlag(FLAGS_items);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  PowerLaw user_draw(users, absl::GetFlag(FLAGS_zipf)), item_draw(items, absl::GetFlag(FLAGS_zipf));
  // Shuffle ids so popular rows/columns are spread out, as in real data.
  std::vector<int32_t> user_perm(users), item_perm(items);
  for (int64_t i = 0; i < users; ++i) user_perm[i] = static_cast<int32_t>(i);
  for (int64_t i = 0; i < items; ++i) item_perm[i] = static_cast<int32_t>(i);
  std::shuffle(user_perm.begin(), user_perm.end(), rng);
  std::shuffle(item_perm.begin(), item_perm.end(), rng);
  // Draw until exactly --nnz distinct (user, item) pairs exist.
  std::vector<encore::offline::Triplet> t;
  const int64_t want = std::min(absl::GetFlag(FLAGS_nnz), users * items);
  t.reserve(want);
  absl::flat_hash_set<uint64_t> seen;
  seen.reserve(want);
  std::uniform_int_distribution<int> plays(1, 50);
  while (static_cast<int64_t>(t.size()) < want) {
    const int32_t u = user_perm[user_draw(rng)], i = item_perm[item_draw(rng)];
    if (!seen.insert(static_cast<uint64_t>(u) * items + i).second) continue;
    t.push_back({u, i, static_cast<float>(plays(rng))});
  }
  auto m = encore::offline::BuildCsr(users, items, std::move(t));
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    return 1;
  }
  for (float& v : m->values) v = encore::offline::Confidence{}.Of(v);
  encore::offline::AlsOptions o;
  o.factors = absl::GetFlag(FLAGS_factors);
  o.iterations = absl::GetFlag(FLAGS_iterations) + 1;
  o.threads = absl::GetFlag(FLAGS_threads);
  o.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  o.compute_loss = false;
  std::vector<double> seconds;
  auto model = encore::offline::TrainAls(
      *m, o, [&](const encore::offline::AlsProgress& p) { seconds.push_back(p.seconds); });
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  double sum = 0, best = 1e9;
  for (size_t i = 1; i < seconds.size(); ++i) {
    sum += seconds[i];
    best = std::min(best, seconds[i]);
  }
  const double mean = sum / (seconds.size() - 1);
  std::printf(
      "users=%lld items=%lld nnz=%lld factors=%d threads=%d cg_steps=%d "
      "seconds_per_iteration_mean=%.3f best=%.3f\n",
      static_cast<long long>(users), static_cast<long long>(items),
      static_cast<long long>(m->nnz()), o.factors, o.threads, o.cg_steps, mean, best);
  return 0;
}
