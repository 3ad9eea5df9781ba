#include "recommend/filters.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace encore::recommend {

const char* FilterName(int kind) {
  static const char* kNames[] = {"coherence", "seasonal", "sonic", "tags", "tempo"};
  return kind >= 0 && kind < kNumFilterKinds ? kNames[kind] : "unknown";
}

FilterOptions WithOverrides(FilterOptions base, const v1::FilterSwitches& s) {
  if (s.has_coherence()) base.coherence = s.coherence();
  if (s.has_seasonal()) base.seasonal = s.seasonal();
  if (s.has_sonic()) base.sonic = s.sonic();
  return base;
}

absl::StatusOr<CandidateFilter> CandidateFilter::Create(const index::Catalog& catalog,
                                                        const FilterOptions& options,
                                                        Request request) {
  CandidateFilter f(catalog, options);
  const index::KnowledgeGraph& g = catalog.graph();
  const index::TaxonomyRules& rules = index::DefaultTaxonomyRules();
  f.now_ms_ = request.now_ms;
  f.listener_ = std::move(request.listener);
  for (int i = 0; i < static_cast<int>(f.listener_.size()) && i < options.listener_top_families;
       ++i) {
    f.listener_top_.insert(f.listener_[i].family);
  }
  auto resolve = [&](const std::vector<std::string>& raw, const char* field,
                     std::vector<int32_t>* out) -> absl::Status {
    for (size_t i = 0; i < raw.size(); ++i) {
      const int32_t id = g.TagId(index::NormalizeTag(raw[i], rules));
      if (id < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, "[", i, "] '", raw[i], "' is not a tag of catalog version ", catalog.version()));
      }
      out->push_back(id);
    }
    return absl::OkStatus();
  };
  if (auto s = resolve(request.include_tags, "include_tags", &f.include_tags_); !s.ok()) return s;
  if (auto s = resolve(request.exclude_tags, "exclude_tags", &f.exclude_tags_); !s.ok()) return s;
  if (request.min_tempo < 0 || request.max_tempo < 0 ||
      (request.max_tempo > 0 && request.min_tempo > request.max_tempo)) {
    return absl::InvalidArgumentError("min_tempo/max_tempo must be >= 0 with min <= max");
  }
  f.min_tempo_ = request.min_tempo;
  f.max_tempo_ = request.max_tempo;
  // Seeds or include tags in a seasonal family lift that family's window.
  for (index::ItemId s : request.seeds) {
    const index::Item& seed = catalog.item(s);
    if (seed.seasonal_family >= 0) f.allowed_seasonal_.insert(seed.seasonal_family);
  }
  for (int32_t t : f.include_tags_) {
    const int32_t fam = g.FamilyOfTag(t);
    if (fam >= 0 && g.IsSeasonal(fam)) f.allowed_seasonal_.insert(fam);
  }
  // Sonic centre of the seeds.
  double tempo = 0, energy = 0;
  int tempos = 0, energies = 0;
  for (index::ItemId s : request.seeds) {
    const index::Item& seed = catalog.item(s);
    if (seed.tempo > 0) tempo += seed.tempo, ++tempos;
    if (seed.energy >= 0) energy += seed.energy, ++energies;
  }
  if (tempos > 0) f.seed_tempo_ = static_cast<float>(tempo / tempos);
  if (energies > 0) f.seed_energy_ = static_cast<float>(energy / energies);
  return f;
}

bool CandidateFilter::Coherent(const index::Item& item) const {
  if (listener_.empty() || item.families.empty()) return true;
  if (listener_top_.contains(item.families.front().family)) return true;
  return index::ProfileOverlap(item.families, listener_) >= options_.min_overlap;
}

Verdict CandidateFilter::Check(index::ItemId id, FilterStats* stats) const {
  const index::Item& item = catalog_->item(id);
  const index::KnowledgeGraph& g = catalog_->graph();
  auto reject = [stats](FilterKind kind, Verdict v) {
    ++stats->removed[kind];
    return v;
  };
  if (!include_tags_.empty() || !exclude_tags_.empty()) {
    bool included = include_tags_.empty();
    for (int32_t t : item.tag_ids) {
      if (t < 0) continue;
      for (int32_t ex : exclude_tags_) {
        if (g.IsA(t, ex)) return reject(kTags, Verdict::kHard);
      }
      for (int32_t in : include_tags_) included = included || g.IsA(t, in);
    }
    if (!included) return reject(kTags, Verdict::kHard);
  }
  if (min_tempo_ > 0 || max_tempo_ > 0) {
    if (item.tempo <= 0 || item.tempo < min_tempo_ || (max_tempo_ > 0 && item.tempo > max_tempo_)) {
      return reject(kTempo, Verdict::kHard);
    }
  }
  if (options_.seasonal && item.seasonal_family >= 0 &&
      !allowed_seasonal_.contains(item.seasonal_family) &&
      !g.InSeason(item.seasonal_family, now_ms_)) {
    return reject(kSeasonal, Verdict::kHard);
  }
  if (options_.sonic) {
    if (seed_tempo_ && item.tempo > 0 &&
        std::abs(item.tempo - *seed_tempo_) > options_.tempo_band) {
      return reject(kSonic, Verdict::kSoft);
    }
    if (seed_energy_ && item.energy >= 0 &&
        std::abs(item.energy - *seed_energy_) > options_.energy_band) {
      return reject(kSonic, Verdict::kSoft);
    }
  }
  if (options_.coherence && !Coherent(item)) return reject(kCoherence, Verdict::kSoft);
  return Verdict::kPass;
}

}  // namespace encore::recommend
