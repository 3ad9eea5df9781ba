// encore-train: implicit-feedback ALS on listening data; writes item/user factors as .npy + ids.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "encore/v1/snapshot.pb.h"
#include "offline/als.h"
#include "offline/importers.h"

ABSL_FLAG(std::string, lastfm_dir, "", "HetRec 2011 Last.fm directory (user_artists.dat)");
ABSL_FLAG(std::string, interactions, "",
          "Or: user<TAB>item<TAB>weight[<TAB>ts] file (.csv: commas)");
ABSL_FLAG(std::string, out_dir, "", "Output directory (created)");
ABSL_FLAG(int, factors, 128, "Latent factors (tuned on Last.fm validation)");
ABSL_FLAG(double, regularization, 60.0, "L2 regularisation");
ABSL_FLAG(double, alpha, 2.0, "Confidence c = 1 + alpha * f(weight)");
ABSL_FLAG(double, epsilon, 1.0, "log scaling: f = log(1 + weight / epsilon)");
ABSL_FLAG(std::string, scaling, "log", "Confidence scaling: log or linear");
ABSL_FLAG(int, iterations, 20, "ALS iterations");
ABSL_FLAG(int, cg_steps, 3, "Conjugate-gradient steps per solve");
ABSL_FLAG(int, threads, 2, "Worker threads");
ABSL_FLAG(uint64_t, seed, 42, "Initialisation seed");
ABSL_FLAG(bool, loss, true, "Compute the loss each iteration (slower)");

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "encore-train: %s\n", msg.c_str());
  return 1;
}

void Progress(const encore::offline::AlsProgress& p, bool tty, double* elapsed) {
  *elapsed += p.seconds;
  const double eta = *elapsed / p.iteration * (p.iterations - p.iteration);
  std::string loss = std::isnan(p.loss) ? "-" : absl::StrCat(p.loss);
  if (tty) {
    const int width = 30;
    const int done = width * p.iteration / p.iterations;
    std::fprintf(stderr, "\r[%s%s] iteration %d/%d  loss %s  %.2fs/it  ETA %.0fs   ",
                 std::string(done, '=').c_str(), std::string(width - done, ' ').c_str(),
                 p.iteration, p.iterations, loss.c_str(), p.seconds, eta);
    if (p.iteration == p.iterations) std::fprintf(stderr, "\n");
  } else {
    std::fprintf(stderr, "iteration %d/%d loss %s seconds %.3f eta %.0fs\n", p.iteration,
                 p.iterations, loss.c_str(), p.seconds, eta);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "encore-train (--lastfm_dir=DIR | --interactions=FILE) --out_dir=DIR [--factors=64] ...");
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out_dir);
  if (out.empty()) return Fail("--out_dir is required");
  encore::offline::InteractionData data;
  if (!absl::GetFlag(FLAGS_lastfm_dir).empty()) {
    auto lastfm = encore::offline::ImportLastfm(absl::GetFlag(FLAGS_lastfm_dir));
    if (!lastfm.ok()) return Fail(lastfm.status().ToString());
    data = std::move(lastfm->plays);
  } else if (!absl::GetFlag(FLAGS_interactions).empty()) {
    auto read = encore::offline::ReadInteractions(absl::GetFlag(FLAGS_interactions));
    if (!read.ok()) return Fail(read.status().ToString());
    data = *std::move(read);
  } else {
    return Fail("give --lastfm_dir or --interactions");
  }
  encore::offline::Confidence conf;
  conf.scaling = absl::GetFlag(FLAGS_scaling);
  conf.alpha = absl::GetFlag(FLAGS_alpha);
  conf.epsilon = absl::GetFlag(FLAGS_epsilon);
  if (conf.scaling != "log" && conf.scaling != "linear")
    return Fail("--scaling must be log or linear");
  if (conf.alpha < 0 || conf.epsilon <= 0) return Fail("need --alpha >= 0 and --epsilon > 0");
  std::vector<encore::offline::Triplet> triplets;
  triplets.reserve(data.entries.size());
  for (const auto& e : data.entries) triplets.push_back({e.user, e.item, e.weight});
  auto raw = encore::offline::BuildCsr(data.users.size(), data.items.size(), std::move(triplets));
  if (!raw.ok()) return Fail(raw.status().ToString());
  // Duplicates were summed as raw weights; confidence applies to the sum.
  for (float& v : raw->values) v = conf.Of(v);

  encore::offline::AlsOptions o;
  o.factors = absl::GetFlag(FLAGS_factors);
  o.regularization = absl::GetFlag(FLAGS_regularization);
  o.iterations = absl::GetFlag(FLAGS_iterations);
  o.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.compute_loss = absl::GetFlag(FLAGS_loss);
  std::fprintf(stderr,
               "encore-train: %d users x %d items, %lld non-zeros, %d factors, %d threads\n",
               data.users.size(), data.items.size(), static_cast<long long>(raw->nnz()), o.factors,
               o.threads);
  const bool tty = ::isatty(STDERR_FILENO);
  double elapsed = 0;
  auto model = encore::offline::TrainAls(
      *raw, o, [&](const encore::offline::AlsProgress& p) { Progress(p, tty, &elapsed); });
  if (!model.ok()) return Fail(model.status().ToString());

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return Fail(absl::StrCat("cannot create ", out, ": ", ec.message()));
  encore::v1::AlsParams params;
  params.set_regularization(o.regularization);
  params.set_scaling(conf.scaling);
  params.set_alpha(conf.alpha);
  params.set_epsilon(conf.epsilon);
  params.set_factors(o.factors);
  params.set_iterations(o.iterations);
  std::string json;
  google::protobuf::util::JsonPrintOptions jo;
  jo.add_whitespace = true;
  jo.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(params, &json, jo);
  for (const auto& [name, status] : std::vector<std::pair<std::string, absl::Status>>{
           {"item_factors.npy",
            encore::common::WriteFile(out + "/item_factors.npy",
                                      encore::index::SerializeNpy(model->item_factors))},
           {"item_ids.txt", encore::offline::WriteIds(out + "/item_ids.txt", data.items.ids())},
           {"user_factors.npy",
            encore::common::WriteFile(out + "/user_factors.npy",
                                      encore::index::SerializeNpy(model->user_factors))},
           {"user_ids.txt", encore::offline::WriteIds(out + "/user_ids.txt", data.users.ids())},
           {"model.json", encore::common::WriteFile(out + "/model.json", json)}}) {
    if (!status.ok()) return Fail(absl::StrCat(name, ": ", status.ToString()));
  }
  std::printf("out_dir=%s items=%d users=%d factors=%d train_seconds=%.2f\n", out.c_str(),
              data.items.size(), data.users.size(), o.factors, elapsed);
  return 0;
}
