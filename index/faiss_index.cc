#include "index/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/huge_pages.h"
#include "common/status_macros.h"
#include "index/hnsw_search.h"
#include "index/simd_distance.h"

namespace encore::index {
namespace {

// Pins this thread's OpenMP team size to 1; OpenMP settings are per thread, so every
// serving thread does this once.
void PinOpenMpToOneThread() {
  thread_local bool pinned = false;
  if (!pinned) {
    omp_set_num_threads(1);
    pinned = true;
  }
}

}  // namespace

std::string ResolveIndexType(const IndexOptions& options, int64_t rows) {
  if (options.type != "auto") return options.type;
  return rows >= options.hnsw_threshold ? "hnsw" : "flat";
}

absl::Status CheckHnswSearch(const std::string& name) {
  if (name == "encore_fp16" && !HalfKernelAvailable()) {
    return absl::InvalidArgumentError(
        "hnsw_search 'encore_fp16' needs a CPU with AVX2, FMA and F16C; use 'encore'");
  }
  if (name == "auto" || name == "encore" || name == "encore_fp16" || name == "faiss") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown hnsw_search '", name, "' (want auto, encore, encore_fp16 or faiss)"));
}

FaissIndex::FaissIndex(std::unique_ptr<faiss::Index> index, std::string type,
                       const IndexOptions& options)
    : index_(std::move(index)), type_(std::move(type)), default_ef_(options.ef_search) {
  // Resolved once here, not per query: the flat float storage, and the graph Encore's HNSW
  // search walks (null when FAISS's own search is asked for).
  const faiss::Index* storage = index_.get();
  const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(storage);
  if (hnsw != nullptr) storage = hnsw->storage;
  const auto* flat = dynamic_cast<const faiss::IndexFlat*>(storage);
  if (flat != nullptr && flat->code_size == sizeof(float) * static_cast<size_t>(flat->d)) {
    storage_ = flat->get_xb();
  }
  if (hnsw != nullptr && storage_ != nullptr && options.hnsw_search != "faiss") {
    own_hnsw_graph_ = &hnsw->hnsw;
    if (options.hnsw_search == "encore_fp16" ||
        (options.hnsw_search == "auto" && HalfKernelAvailable())) {
      half_.resize(static_cast<size_t>(index_->ntotal) * static_cast<size_t>(index_->d));
      FloatsToHalf(storage_, half_.size(), half_.data());
      // Half floats top out at 65504: a larger component became infinity (exponent bits all
      // set), and the walk would compare infinities. Build/Load then refuse "encore_fp16";
      // "auto" walks the floats.
      if (std::any_of(half_.begin(), half_.end(),
                      [](uint16_t h) { return (h & 0x7c00) == 0x7c00; })) {
        std::vector<uint16_t>().swap(half_);
      }
    }
    pivots_ =
        BuildHnswPivots(hnsw->hnsw, storage_, static_cast<int32_t>(index_->d), index_->ntotal);
    if (options.huge_pages) {
      // In the background: collapsing ~500 MB into huge pages takes about 1.4 s on the 1M
      // benchmark, which would more than double the time to ready. Searches run meanwhile (the
      // kernel remaps pages under concurrent readers), only with 4 KiB pages at first.
      const size_t rows = static_cast<size_t>(index_->ntotal);
      const size_t d = static_cast<size_t>(index_->d);
      std::vector<common::HugePageCollapse::Range> ranges = {
          {hnsw->hnsw.neighbors.data(), hnsw->hnsw.neighbors.size() * sizeof(int32_t)},
          {hnsw->hnsw.offsets.data(), hnsw->hnsw.offsets.size() * sizeof(size_t)},
          {storage_, rows * d * sizeof(float)},
          {half_.data(), half_.size() * sizeof(uint16_t)}};
      huge_pages_ = common::HugePageCollapse(std::move(ranges));
    }
  }
}

size_t FaissIndex::huge_page_bytes() const { return huge_pages_.bytes(); }

FaissIndex::~FaissIndex() = default;

int32_t FaissIndex::dimension() const { return static_cast<int32_t>(index_->d); }
int64_t FaissIndex::size() const { return index_->ntotal; }

const float* FaissIndex::stored_vectors() const { return storage_; }

std::string FaissIndex::graph_walk() const {
  if (own_hnsw_graph_ == nullptr) return "";
  return half_.empty() ? "float" : "half";
}

absl::StatusOr<std::unique_ptr<FaissIndex>> FaissIndex::Build(MatrixView vectors,
                                                              const IndexOptions& options) {
  RETURN_IF_ERROR(CheckHnswSearch(options.hnsw_search));
  const std::string type = ResolveIndexType(options, vectors.rows);
  if (vectors.dim <= 0) return absl::InvalidArgumentError("index dimension must be positive");
  try {
    std::unique_ptr<faiss::Index> index;
    if (type == "flat") {
      index = std::make_unique<faiss::IndexFlatIP>(vectors.dim);
    } else if (type == "hnsw") {
      if (options.hnsw_m < 4 || options.ef_construction < 8) {
        return absl::InvalidArgumentError("hnsw_m must be >= 4 and ef_construction >= 8");
      }
      auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(vectors.dim, options.hnsw_m,
                                                         faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = options.ef_construction;
      hnsw->hnsw.efSearch = options.ef_search;
      index = std::move(hnsw);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown index type '", type, "' (want auto, flat or hnsw)"));
    }
    if (vectors.rows > 0) index->add(vectors.rows, vectors.data);
    std::unique_ptr<FaissIndex> built(new FaissIndex(std::move(index), type, options));
    RETURN_IF_ERROR(built->CheckHalfWalk(options));
    return built;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("FAISS build failed: ", e.what()));
  }
}

std::string FaissIndex::DistanceKernel() { return DistanceKernelName(); }

namespace {

// faiss::IOReader over a file that, with `digest`, digests every byte as FAISS reads it.
class DigestingReader : public faiss::IOReader {
 public:
  DigestingReader(std::FILE* f, bool digest) : f_(f), digesting_(digest) {}
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    const size_t got = std::fread(ptr, size, nitems, f_);
    if (digesting_) digest_.Update(ptr, got * size);
    return got;
  }
  // The rest of the file (FAISS need not read to the end), then the digest of all of it.
  absl::StatusOr<common::FileDigest> Finish(const std::string& path) {
    std::vector<char> buf(1 << 16);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f_)) > 0) digest_.Update(buf.data(), n);
    if (std::ferror(f_)) return absl::DataLossError(absl::StrCat("cannot read ", path));
    return digest_.Finish();
  }

 private:
  std::FILE* f_;
  const bool digesting_;
  common::StreamingDigest digest_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FaissIndex>> FaissIndex::Load(const std::string& path,
                                                             int32_t expected_dim,
                                                             int64_t expected_rows,
                                                             const IndexOptions& options,
                                                             const common::FileDigest* expected) {
  RETURN_IF_ERROR(CheckHnswSearch(options.hnsw_search));
  std::unique_ptr<faiss::Index> index;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rbe"), &std::fclose);
  if (f == nullptr) {
    return absl::DataLossError(
        absl::StrCat("cannot read FAISS index ", path, ": cannot open: ", std::strerror(errno)));
  }
  DigestingReader reader(f.get(), /*digest=*/expected != nullptr);
  try {
    index.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {
    if (expected != nullptr) {
      // Corruption is the likelier cause: name it when the checksum says so.
      auto digest = common::DigestFile(path);
      if (digest.ok()) RETURN_IF_ERROR(common::ExpectDigest(path, *digest, *expected));
    }
    return absl::DataLossError(absl::StrCat("cannot read FAISS index ", path, ": ", e.what()));
  }
  if (expected != nullptr) {
    ASSIGN_OR_RETURN(common::FileDigest digest, reader.Finish(path));
    RETURN_IF_ERROR(common::ExpectDigest(path, digest, *expected));
  }
  if (index->d != expected_dim || index->ntotal != expected_rows) {
    return absl::DataLossError(absl::StrCat("FAISS index ", path, " holds ", index->ntotal, "x",
                                            index->d, ", manifest says ", expected_rows, "x",
                                            expected_dim));
  }
  if (index->metric_type != faiss::METRIC_INNER_PRODUCT) {
    return absl::DataLossError(absl::StrCat("FAISS index ", path, " is not inner-product"));
  }
  std::string type;
  if (dynamic_cast<faiss::IndexHNSWFlat*>(index.get()) != nullptr) {
    type = "hnsw";
  } else if (dynamic_cast<faiss::IndexFlat*>(index.get()) != nullptr) {
    type = "flat";
  } else {
    return absl::DataLossError(absl::StrCat("FAISS index ", path, " has an unsupported type"));
  }
  std::unique_ptr<FaissIndex> loaded(new FaissIndex(std::move(index), type, options));
  RETURN_IF_ERROR(loaded->CheckHalfWalk(options));
  return loaded;
}

absl::Status FaissIndex::CheckHalfWalk(const IndexOptions& options) const {
  if (options.hnsw_search != "encore_fp16" || own_hnsw_graph_ == nullptr || !half_.empty()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "hnsw_search 'encore_fp16': a vector component exceeds the half-float range (65504); use "
      "'encore'");
}

std::vector<int64_t> FaissIndex::LocalityOrder() const {
  const int64_t n = index_->ntotal;
  std::vector<int64_t> order;
  order.reserve(n);
  const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get());
  if (hnsw == nullptr || hnsw->hnsw.entry_point < 0) {
    for (int64_t i = 0; i < n; ++i) order.push_back(i);
    return order;
  }
  const faiss::HNSW& g = hnsw->hnsw;
  std::vector<bool> seen(n, false);
  auto walk = [&](int64_t root) {
    size_t head = order.size();
    seen[root] = true;
    order.push_back(root);
    while (head < order.size()) {
      const int64_t u = order[head++];
      const size_t begin = g.offsets[u] + g.cum_nneighbor_per_level[0];
      const size_t end = g.offsets[u] + g.cum_nneighbor_per_level[1];
      for (size_t j = begin; j < end && g.neighbors[j] >= 0; ++j) {
        const int64_t v = g.neighbors[j];
        if (!seen[v]) {
          seen[v] = true;
          order.push_back(v);
        }
      }
    }
  };
  walk(g.entry_point);
  for (int64_t i = 0; i < n; ++i) {
    if (!seen[i]) walk(i);
  }
  return order;
}

absl::Status FaissIndex::Permute(absl::Span<const int64_t> order) {
  const int64_t n = index_->ntotal;
  if (static_cast<int64_t>(order.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("row order has ", order.size(), " rows, the index ", n));
  }
  // position[old row] = new row.
  std::vector<int32_t> position(n, -1);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t old = order[i];
    if (old < 0 || old >= n || position[old] >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("row order is not a permutation: row ", old, " at ", i));
    }
    position[old] = static_cast<int32_t>(i);
  }
  // The background collapse works on these arrays: let it finish, then rewrite them in place
  // (same addresses, so the huge pages stay where they are).
  huge_pages_.bytes();
  auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get());
  auto* codes =
      dynamic_cast<faiss::IndexFlatCodes*>(hnsw != nullptr ? hnsw->storage : index_.get());
  if (codes == nullptr) return absl::InternalError("index storage is not flat codes");
  // Copies of what is rewritten, all taken before anything changes: a failed allocation leaves
  // the index as it was.
  std::vector<int> levels;
  std::vector<size_t> offsets;
  std::vector<faiss::HNSW::storage_idx_t> neighbors;
  std::vector<uint8_t> old_codes;
  try {
    if (hnsw != nullptr) {
      levels = hnsw->hnsw.levels;
      offsets = hnsw->hnsw.offsets;
      neighbors = hnsw->hnsw.neighbors;
    }
    old_codes = codes->codes;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("not enough memory to renumber the index");
  }
  if (hnsw != nullptr) {
    faiss::HNSW& g = hnsw->hnsw;
    g.offsets[0] = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t old = order[i];
      g.levels[i] = levels[old];
      g.offsets[i + 1] = g.offsets[i] + (offsets[old + 1] - offsets[old]);
      for (size_t j = 0; j < offsets[old + 1] - offsets[old]; ++j) {
        const faiss::HNSW::storage_idx_t nb = neighbors[offsets[old] + j];
        g.neighbors[g.offsets[i] + j] = nb < 0 ? nb : position[nb];
      }
    }
    if (g.entry_point >= 0) g.entry_point = position[g.entry_point];
  }
  const size_t row_bytes = codes->code_size;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(codes->codes.data() + i * row_bytes, old_codes.data() + order[i] * row_bytes,
                row_bytes);
  }
  if (!half_.empty()) FloatsToHalf(storage_, half_.size(), half_.data());
  if (own_hnsw_graph_ != nullptr) {
    pivots_ = BuildHnswPivots(*own_hnsw_graph_, storage_, static_cast<int32_t>(index_->d), n);
  }
  return absl::OkStatus();
}

absl::Status FaissIndex::Save(const std::string& path) const {
  try {
    faiss::write_index(index_.get(), path.c_str());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot write FAISS index ", path, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status FaissIndex::RunSearch(const float* queries, int64_t n, int k,
                                   const SearchParams& params, float* distances,
                                   int64_t* labels) const {
  if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
  if (params.upper_ef < 0) {
    return absl::InvalidArgumentError(absl::StrCat("upper_ef must be >= 0, got ", params.upper_ef));
  }
  for (int64_t e : params.entry_rows) {
    if (e < 0 || e >= index_->ntotal) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry row ", e, " is outside the index's ", index_->ntotal, " rows"));
    }
  }
  PinOpenMpToOneThread();
  try {
    if (own_hnsw_graph_ != nullptr) {
      const int ef = params.ef_search > 0 ? params.ef_search : default_ef_;
      const int64_t d = index_->d;
      for (int64_t q = 0; q < n; ++q) {
        std::vector<Neighbor> hits = HnswSearch(
            *own_hnsw_graph_, storage_, index_->d, index_->ntotal, queries + q * d, k, ef,
            params.entry_rows, &pivots_, params.upper_ef, half_.empty() ? nullptr : half_.data());
        for (int i = 0; i < k; ++i) {
          const bool hit = i < static_cast<int>(hits.size());
          labels[q * k + i] = hit ? hits[i].row : -1;
          distances[q * k + i] = hit ? hits[i].score : 0.0f;
        }
      }
    } else if (type_ == "hnsw") {
      faiss::SearchParametersHNSW hp;
      hp.efSearch = std::max(params.ef_search > 0 ? params.ef_search : default_ef_, k);
      index_->search(n, queries, k, distances, labels, &hp);
    } else {
      index_->search(n, queries, k, distances, labels);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("FAISS search failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Neighbor>> FaissIndex::Search(absl::Span<const float> query, int k,
                                                         const SearchParams& params) const {
  if (static_cast<int64_t>(query.size()) != index_->d) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", query.size(), " floats, index dimension is ", index_->d));
  }
  k = static_cast<int>(std::min<int64_t>(k, std::max<int64_t>(index_->ntotal, 1)));
  std::vector<float> distances(k);
  std::vector<int64_t> labels(k);
  absl::Status s = RunSearch(query.data(), 1, k, params, distances.data(), labels.data());
  if (!s.ok()) return s;
  std::vector<Neighbor> out;
  out.reserve(k);
  for (int i = 0; i < k; ++i) {
    if (labels[i] >= 0) out.push_back({labels[i], distances[i]});
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> FaissIndex::SearchBatch(
    absl::Span<const float> queries, int k, const SearchParams& params) const {
  const int64_t d = index_->d;
  if (queries.size() % d != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("query block of ", queries.size(), " floats is not a multiple of ", d));
  }
  const int64_t n = static_cast<int64_t>(queries.size()) / d;
  k = static_cast<int>(std::min<int64_t>(k, std::max<int64_t>(index_->ntotal, 1)));
  std::vector<float> distances(n * k);
  std::vector<int64_t> labels(n * k);
  absl::Status s = RunSearch(queries.data(), n, k, params, distances.data(), labels.data());
  if (!s.ok()) return s;
  std::vector<std::vector<Neighbor>> out(n);
  for (int64_t q = 0; q < n; ++q) {
    for (int i = 0; i < k; ++i) {
      if (labels[q * k + i] >= 0) out[q].push_back({labels[q * k + i], distances[q * k + i]});
    }
  }
  return out;
}

}  // namespace encore::index
