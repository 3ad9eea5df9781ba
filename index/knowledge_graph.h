// The music knowledge graph: normalised tags, a genre taxonomy (tag -> parent -> ... -> family)
// and seasonal windows. Built offline from the items' tags plus curated rules; immutable.
#ifndef ENCORE_INDEX_KNOWLEDGE_GRAPH_H_
#define ENCORE_INDEX_KNOWLEDGE_GRAPH_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "encore/v1/snapshot.pb.h"

namespace encore::index {

// Curated taxonomy rules; a small text file, one rule per line ('#' starts a comment):
//   alias: xmas = christmas          spelling variant -> canonical tag
//   parent: grunge = rock            force a parent
//   root: soundtrack                 force a tag to be a family (no parent)
//   ignore: seen live                not a genre: in no family
//   contains: christmas = christmas  any tag with this word gets this parent
//   seasonal: christmas = 11-15..01-06   a seasonal family and its window (inclusive)
struct TaxonomyRules {
  std::map<std::string, std::string> alias;
  std::map<std::string, std::string> parent;
  std::set<std::string> roots;
  std::set<std::string> ignore;
  std::vector<std::pair<std::string, std::string>> contains;
  std::vector<v1::SeasonalWindow> seasons;
};

// Parses rules; errors name `name`, the line and the reason.
absl::StatusOr<TaxonomyRules> ParseTaxonomyRules(absl::string_view text, absl::string_view name);
// The built-in rules (aliases like xmas -> christmas, non-genre tags, the Christmas window).
const TaxonomyRules& DefaultTaxonomyRules();
// `base` with `overrides` applied on top (override wins per key; lists are appended).
TaxonomyRules MergeRules(const TaxonomyRules& base, const TaxonomyRules& overrides);

// Lower case; '&' -> "and"; separators (space - _ / . ,) collapse to one space; other punctuation
// dropped; then `rules.alias` maps variants ("hip hop", "hip-hop" and "Hip Hop" all become
// "hip hop"; "xmas" becomes "christmas").
std::string NormalizeTag(absl::string_view raw, const TaxonomyRules& rules);

// A family (root tag) index and a weight.
struct FamilyWeight {
  int32_t family;
  float weight;
};
// Sparse family profile, weights summing to 1 (empty = unknown), heaviest first.
using FamilyProfile = std::vector<FamilyWeight>;

// Thread safety: immutable after construction; all methods const.
class KnowledgeGraph {
 public:
  KnowledgeGraph() = default;

  // Derives the taxonomy from items' normalised tags (weights ignored for structure):
  //  1. curated parents, aliases and roots apply first;
  //  2. token rule: the longest proper word-suffix that is itself a tag becomes the parent
  //     ("melodic heavy metal" -> "heavy metal" -> "metal", "swedish pop" -> "pop"), provided
  //     the two co-occur on at least 10% of the child's items (so "billie holiday" does not
  //     become a holiday tag);
  //  3. containment: otherwise a tag whose items mostly (>= 50%) also carry a tag at least
  //     twice as common, or nearly always (>= 90%) a more common one, gets that tag as parent
  //     ("grunge" -> "rock");
  // Cycles are impossible (parents are strictly more frequent, or curated and checked).
  static KnowledgeGraph Build(const std::vector<std::vector<std::string>>& item_tags,
                              const TaxonomyRules& rules);
  // Loads a serialised graph; DATA_LOSS on cycles or unknown parents.
  static absl::StatusOr<KnowledgeGraph> FromProto(const v1::KnowledgeGraph& proto);
  v1::KnowledgeGraph ToProto() const;

  // Tag id of a normalised tag, or -1.
  int32_t TagId(absl::string_view tag) const;
  const std::string& TagName(int32_t id) const { return tags_[id]; }
  // Family (root) of a tag id, or -1 for ignored tags.
  int32_t FamilyOfTag(int32_t tag) const { return family_of_tag_[tag]; }
  int32_t num_families() const { return static_cast<int32_t>(family_names_.size()); }
  const std::string& FamilyName(int32_t family) const { return family_names_[family]; }
  // Family index of a family name, or -1.
  int32_t FamilyId(absl::string_view name) const;
  // Parent tag id, or -1 for roots.
  int32_t Parent(int32_t tag) const { return parent_[tag]; }
  // True when `tag` is `ancestor` or descends from it.
  bool IsA(int32_t tag, int32_t ancestor) const;

  bool IsSeasonal(int32_t family) const { return season_of_family_.count(family) > 0; }
  // Whether a seasonal family's window contains `now_ms` (UTC). True for non-seasonal families.
  bool InSeason(int32_t family, int64_t now_ms) const;

  // Profile from (tag id, weight) pairs; ignored tags and non-positive weights drop out.
  FamilyProfile ProfileOf(const std::vector<std::pair<int32_t, float>>& tags) const;

 private:
  void Finish();

  std::vector<std::string> tags_;
  std::vector<int32_t> parent_;
  std::vector<int64_t> support_;
  std::vector<char> ignored_;
  absl::flat_hash_map<std::string, int32_t> tag_ids_;
  std::vector<int32_t> family_of_tag_;
  std::vector<std::string> family_names_;
  absl::flat_hash_map<std::string, int32_t> family_ids_;
  std::map<int32_t, v1::SeasonalWindow> season_of_family_;
  std::vector<v1::SeasonalWindow> seasons_;
};

// Histogram intersection of two profiles: sum_f min(a_f, b_f), in [0, 1].
float ProfileOverlap(absl::Span<const FamilyWeight> a, absl::Span<const FamilyWeight> b);
// Adds `weight * p` into the dense accumulator `acc` (size num_families).
void AccumulateProfile(absl::Span<const FamilyWeight> p, float weight, std::vector<float>* acc);
// Dense accumulator -> normalised sparse profile (heaviest first).
FamilyProfile ToProfile(const std::vector<float>& acc);

}  // namespace encore::index

#endif  // ENCORE_INDEX_KNOWLEDGE_GRAPH_H_
