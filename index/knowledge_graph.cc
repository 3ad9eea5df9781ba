#include "index/knowledge_graph.h"

#include <time.h>

#include <algorithm>
#include <cctype>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace encore::index {
namespace {

constexpr int64_t kMinFamilySupport = 3;
constexpr double kTokenRuleMinCooccurrence = 0.10;
constexpr double kContainmentMin = 0.50;
constexpr double kContainmentFrequencyRatio = 2.0;
// A tag almost always co-tagged with a more common one is its child even when the other is not
// twice as common (subgenres of small families).
constexpr double kNearlyAlways = 0.9;

constexpr char kDefaultRules[] =
    R"(# Built-in taxonomy rules (see TaxonomyRules). Override with a file of the same format.
alias: xmas = christmas
alias: x mas = christmas
alias: christmas music = christmas
alias: christmas songs = christmas
alias: christmas song = christmas
alias: hiphop = hip hop
alias: rnb = r and b
alias: randb = r and b
alias: rhythm and blues = r and b
alias: electronica = electronic
alias: synth pop = synthpop
alias: female vocalist = female vocalists
alias: male vocalist = male vocalists
alias: favourite = favorite
alias: favourites = favorites
parent: holiday = christmas
parent: holiday music = christmas
parent: christmas pop = christmas
contains: christmas = christmas
contains: xmas = christmas
seasonal: christmas = 11-15..01-06
root: christmas
root: rock
root: pop
root: metal
root: electronic
root: hip hop
root: jazz
root: classical
root: folk
root: country
root: blues
root: reggae
root: soul
root: r and b
root: punk
root: ambient
root: soundtrack
root: latin
root: world
ignore: seen live
ignore: female vocalists
ignore: male vocalists
ignore: beautiful
ignore: sexy
ignore: awesome
ignore: love
ignore: favorite
ignore: favorites
ignore: my favorite
ignore: amazing
ignore: cool
ignore: good
ignore: british
ignore: american
ignore: canadian
ignore: german
ignore: french
ignore: swedish
ignore: uk
ignore: usa
ignore: covers
ignore: under 2000 listeners
ignore: spotify
)";

std::vector<std::string> Words(absl::string_view tag) {
  return absl::StrSplit(tag, ' ', absl::SkipEmpty());
}

// "60s", "1980s", "00s": decades say when, not what.
bool IsDecade(absl::string_view tag) {
  if (tag.size() < 3 || tag.back() != 's') return false;
  for (size_t i = 0; i + 1 < tag.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(tag[i]))) return false;
  }
  return tag.size() == 3 || tag.size() == 5;
}

int DayOfYearKey(int month, int day) { return month * 100 + day; }

absl::Status ParseMonthDay(absl::string_view s, int* month, int* day) {
  std::vector<absl::string_view> md = absl::StrSplit(s, '-');
  if (md.size() != 2 || !absl::SimpleAtoi(md[0], month) || !absl::SimpleAtoi(md[1], day) ||
      *month < 1 || *month > 12 || *day < 1 || *day > 31) {
    return absl::InvalidArgumentError(absl::StrCat("bad month-day '", s, "' (want MM-DD)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaxonomyRules> ParseTaxonomyRules(absl::string_view text, absl::string_view name) {
  TaxonomyRules rules;
  TaxonomyRules plain;  // aliases are applied to rule operands after parsing
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    const size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", line_no, ": ", why));
    };
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return bad("expected 'directive: ...'");
    const std::string directive =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
    absl::string_view rest = absl::StripAsciiWhitespace(line.substr(colon + 1));
    std::string lhs(rest), rhs;
    const size_t eq = rest.find('=');
    if (eq != absl::string_view::npos) {
      lhs = NormalizeTag(rest.substr(0, eq), plain);
      rhs = std::string(absl::StripAsciiWhitespace(rest.substr(eq + 1)));
    } else {
      lhs = NormalizeTag(rest, plain);
    }
    if (lhs.empty()) return bad("empty tag");
    const bool needs_rhs = directive == "alias" || directive == "parent" ||
                           directive == "contains" || directive == "seasonal";
    if (needs_rhs && rhs.empty()) return bad(absl::StrCat("'", directive, "' needs 'a = b'"));
    if (!needs_rhs && !rhs.empty()) return bad(absl::StrCat("'", directive, "' takes one tag"));
    if (directive == "alias") {
      rules.alias[lhs] = NormalizeTag(rhs, plain);
    } else if (directive == "parent") {
      rules.parent[lhs] = NormalizeTag(rhs, plain);
    } else if (directive == "contains") {
      rules.contains.emplace_back(lhs, NormalizeTag(rhs, plain));
    } else if (directive == "root") {
      rules.roots.insert(lhs);
    } else if (directive == "ignore") {
      rules.ignore.insert(lhs);
    } else if (directive == "seasonal") {
      std::vector<absl::string_view> range = absl::StrSplit(rhs, "..");
      if (range.size() != 2) return bad("seasonal window must be MM-DD..MM-DD");
      v1::SeasonalWindow w;
      w.set_family(lhs);
      int m, d;
      if (auto s = ParseMonthDay(absl::StripAsciiWhitespace(range[0]), &m, &d); !s.ok()) {
        return bad(s.message());
      }
      w.set_start_month(m);
      w.set_start_day(d);
      if (auto s = ParseMonthDay(absl::StripAsciiWhitespace(range[1]), &m, &d); !s.ok()) {
        return bad(s.message());
      }
      w.set_end_month(m);
      w.set_end_day(d);
      rules.seasons.push_back(w);
    } else {
      return bad(absl::StrCat("unknown directive '", directive, "'"));
    }
  }
  return rules;
}

const TaxonomyRules& DefaultTaxonomyRules() {
  static const TaxonomyRules* rules = [] {
    auto parsed = ParseTaxonomyRules(kDefaultRules, "built-in taxonomy");
    return new TaxonomyRules(parsed.ok() ? *std::move(parsed) : TaxonomyRules());
  }();
  return *rules;
}

TaxonomyRules MergeRules(const TaxonomyRules& base, const TaxonomyRules& overrides) {
  TaxonomyRules out = base;
  for (const auto& [k, v] : overrides.alias) out.alias[k] = v;
  for (const auto& [k, v] : overrides.parent) out.parent[k] = v;
  out.roots.insert(overrides.roots.begin(), overrides.roots.end());
  out.ignore.insert(overrides.ignore.begin(), overrides.ignore.end());
  out.contains.insert(out.contains.end(), overrides.contains.begin(), overrides.contains.end());
  for (const auto& w : overrides.seasons) {
    auto same = [&](const v1::SeasonalWindow& x) { return x.family() == w.family(); };
    out.seasons.erase(std::remove_if(out.seasons.begin(), out.seasons.end(), same),
                      out.seasons.end());
    out.seasons.push_back(w);
  }
  return out;
}

std::string NormalizeTag(absl::string_view raw, const TaxonomyRules& rules) {
  std::string out;
  bool pending_space = false;
  for (unsigned char c : raw) {
    if (c == '&') {
      if (!out.empty()) out.push_back(' ');
      out += "and";
      pending_space = true;
      continue;
    }
    if (c == ' ' || c == '-' || c == '_' || c == '/' || c == '.' || c == ',' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (c < 0x80 && !std::isalnum(c)) continue;  // other ASCII punctuation: dropped
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
  }
  auto alias = rules.alias.find(out);
  return alias == rules.alias.end() ? out : alias->second;
}

KnowledgeGraph KnowledgeGraph::Build(const std::vector<std::vector<std::string>>& item_tags,
                                     const TaxonomyRules& rules) {
  KnowledgeGraph g;
  auto intern = [&g](const std::string& tag) {
    auto [it, inserted] = g.tag_ids_.emplace(tag, static_cast<int32_t>(g.tags_.size()));
    if (inserted) {
      g.tags_.push_back(tag);
      g.support_.push_back(0);
    }
    return it->second;
  };
  // Support and pairwise co-occurrence (by item).
  absl::flat_hash_map<uint64_t, int64_t> cooc;
  for (const auto& tags : item_tags) {
    std::vector<int32_t> ids;
    for (const auto& t : tags) {
      if (!t.empty()) ids.push_back(intern(t));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (int32_t a : ids) ++g.support_[a];
    for (int32_t a : ids) {
      for (int32_t b : ids) {
        if (a != b) ++cooc[(static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b)];
      }
    }
  }
  // Curated names exist even when no item carries them (e.g. a family of aliases).
  for (const auto& [child, parent] : rules.parent) intern(parent);
  for (const auto& [word, parent] : rules.contains) intern(parent);
  for (const auto& w : rules.seasons) intern(w.family());
  auto co = [&cooc](int32_t a, int32_t b) {
    auto it = cooc.find((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
    return it == cooc.end() ? int64_t{0} : it->second;
  };

  const int32_t n = static_cast<int32_t>(g.tags_.size());
  g.ignored_.assign(n, 0);
  for (int32_t t = 0; t < n; ++t) {
    g.ignored_[t] = rules.ignore.count(g.tags_[t]) > 0 || IsDecade(g.tags_[t]);
  }
  g.parent_.assign(n, -1);
  // Candidate parents per tag from co-occurrence, for the containment rule.
  std::vector<std::vector<std::pair<int32_t, int64_t>>> partners(n);
  for (const auto& [key, count] : cooc) {
    partners[static_cast<int32_t>(key >> 32)].emplace_back(static_cast<int32_t>(key & 0xffffffff),
                                                           count);
  }
  for (int32_t t = 0; t < n; ++t) {
    const std::string& name = g.tags_[t];
    if (g.ignored_[t] || rules.roots.count(name)) continue;
    if (auto p = rules.parent.find(name); p != rules.parent.end()) {
      g.parent_[t] = g.tag_ids_[p->second];
      continue;
    }
    const std::vector<std::string> words = Words(name);
    bool done = false;
    for (const auto& [word, parent] : rules.contains) {
      if (name != parent && std::find(words.begin(), words.end(), word) != words.end()) {
        g.parent_[t] = g.tag_ids_[parent];
        done = true;
        break;
      }
    }
    if (done) continue;
    // Token rule: longest proper word-suffix that is a (non-ignored) tag and co-occurs enough.
    for (size_t start = 1; start < words.size() && !done; ++start) {
      const std::string suffix = absl::StrJoin(words.begin() + start, words.end(), " ");
      auto it = g.tag_ids_.find(suffix);
      if (it == g.tag_ids_.end() || g.ignored_[it->second]) continue;
      const int64_t sup = std::max<int64_t>(g.support_[t], 1);
      if (g.support_[t] == 0 ||
          static_cast<double>(co(t, it->second)) / sup >= kTokenRuleMinCooccurrence) {
        g.parent_[t] = it->second;
        done = true;
      }
    }
    if (done || g.support_[t] == 0) continue;
    // Containment: most of this tag's items also carry a clearly more common tag.
    int32_t best = -1;
    double best_share = 0;
    for (const auto& [other, count] : partners[t]) {
      if (g.ignored_[other] || g.support_[other] <= g.support_[t]) continue;
      const double share = static_cast<double>(count) / g.support_[t];
      const bool contained = (share >= kContainmentMin &&
                              g.support_[other] >= kContainmentFrequencyRatio * g.support_[t]) ||
                             share >= kNearlyAlways;
      if (contained &&
          (share > best_share || (share == best_share && g.support_[other] > g.support_[best]))) {
        best = other;
        best_share = share;
      }
    }
    g.parent_[t] = best;
  }
  g.seasons_ = rules.seasons;
  g.Finish();
  // Rare tags that stayed roots are noise, not families.
  bool changed = false;
  for (int32_t t = 0; t < n; ++t) {
    if (g.parent_[t] < 0 && !g.ignored_[t] && g.support_[t] < kMinFamilySupport &&
        !rules.roots.count(g.tags_[t])) {
      bool curated = false;
      for (const auto& w : rules.seasons) curated |= w.family() == g.tags_[t];
      if (!curated) {
        g.ignored_[t] = 1;
        changed = true;
      }
    }
  }
  if (changed) g.Finish();
  return g;
}

void KnowledgeGraph::Finish() {
  const int32_t n = static_cast<int32_t>(tags_.size());
  // Break curated cycles: a tag whose parent chain returns to itself becomes a root.
  for (int32_t t = 0; t < n; ++t) {
    int32_t steps = 0;
    for (int32_t p = parent_[t]; p >= 0; p = parent_[p]) {
      if (++steps > n) {
        parent_[t] = -1;
        break;
      }
    }
  }
  family_names_.clear();
  family_ids_.clear();
  family_of_tag_.assign(n, -1);
  for (int32_t t = 0; t < n; ++t) {
    int32_t root = t;
    int guard = 0;
    while (parent_[root] >= 0 && guard++ <= n) root = parent_[root];
    if (ignored_[root] || ignored_[t]) continue;
    auto [it, inserted] =
        family_ids_.emplace(tags_[root], static_cast<int32_t>(family_names_.size()));
    if (inserted) family_names_.push_back(tags_[root]);
    family_of_tag_[t] = it->second;
  }
  season_of_family_.clear();
  for (const auto& w : seasons_) {
    auto it = family_ids_.find(w.family());
    if (it != family_ids_.end()) season_of_family_[it->second] = w;
  }
}

absl::StatusOr<KnowledgeGraph> KnowledgeGraph::FromProto(const v1::KnowledgeGraph& proto) {
  KnowledgeGraph g;
  for (const auto& t : proto.tags()) {
    if (t.tag().empty() ||
        !g.tag_ids_.emplace(t.tag(), static_cast<int32_t>(g.tags_.size())).second) {
      return absl::DataLossError(
          absl::StrCat("knowledge graph: bad or duplicate tag '", t.tag(), "'"));
    }
    g.tags_.push_back(t.tag());
    g.support_.push_back(t.support());
  }
  const int32_t n = static_cast<int32_t>(g.tags_.size());
  g.parent_.assign(n, -1);
  g.ignored_.assign(n, 0);
  for (int32_t t = 0; t < n; ++t) {
    const std::string& parent = proto.tags(t).parent();
    if (parent.empty()) continue;
    auto it = g.tag_ids_.find(parent);
    if (it == g.tag_ids_.end()) {
      return absl::DataLossError(absl::StrCat("knowledge graph: tag '", g.tags_[t],
                                              "' has unknown parent '", parent, "'"));
    }
    g.parent_[t] = it->second;
  }
  for (int32_t t = 0; t < n; ++t) {  // cycle check
    int32_t p = g.parent_[t];
    for (int32_t steps = 0; p >= 0; p = g.parent_[p]) {
      if (++steps > n) {
        return absl::DataLossError(
            absl::StrCat("knowledge graph: cycle through '", g.tags_[t], "'"));
      }
    }
  }
  for (const auto& name : proto.ignored()) {
    auto it = g.tag_ids_.find(name);
    if (it != g.tag_ids_.end()) g.ignored_[it->second] = 1;
  }
  g.seasons_.assign(proto.seasons().begin(), proto.seasons().end());
  g.Finish();
  return g;
}

v1::KnowledgeGraph KnowledgeGraph::ToProto() const {
  v1::KnowledgeGraph proto;
  for (size_t t = 0; t < tags_.size(); ++t) {
    auto* gt = proto.add_tags();
    gt->set_tag(tags_[t]);
    if (parent_[t] >= 0) gt->set_parent(tags_[parent_[t]]);
    gt->set_support(support_[t]);
    if (ignored_[t]) proto.add_ignored(tags_[t]);
  }
  for (const auto& w : seasons_) *proto.add_seasons() = w;
  return proto;
}

int32_t KnowledgeGraph::TagId(absl::string_view tag) const {
  auto it = tag_ids_.find(tag);
  return it == tag_ids_.end() ? -1 : it->second;
}

int32_t KnowledgeGraph::FamilyId(absl::string_view name) const {
  auto it = family_ids_.find(name);
  return it == family_ids_.end() ? -1 : it->second;
}

bool KnowledgeGraph::IsA(int32_t tag, int32_t ancestor) const {
  for (int32_t t = tag, guard = 0; t >= 0 && guard <= static_cast<int32_t>(tags_.size());
       t = parent_[t], ++guard) {
    if (t == ancestor) return true;
  }
  return false;
}

bool KnowledgeGraph::InSeason(int32_t family, int64_t now_ms) const {
  auto it = season_of_family_.find(family);
  if (it == season_of_family_.end()) return true;
  const v1::SeasonalWindow& w = it->second;
  const time_t secs = static_cast<time_t>(now_ms / 1000);
  struct tm utc;
  gmtime_r(&secs, &utc);
  const int today = DayOfYearKey(utc.tm_mon + 1, utc.tm_mday);
  const int start = DayOfYearKey(w.start_month(), w.start_day());
  const int end = DayOfYearKey(w.end_month(), w.end_day());
  return start <= end ? (today >= start && today <= end) : (today >= start || today <= end);
}

FamilyProfile KnowledgeGraph::ProfileOf(const std::vector<std::pair<int32_t, float>>& tags) const {
  std::vector<std::pair<int32_t, float>> sums;
  for (const auto& [tag, w] : tags) {
    if (tag < 0 || w <= 0) continue;
    const int32_t f = family_of_tag_[tag];
    if (f < 0) continue;
    auto it = std::find_if(sums.begin(), sums.end(), [f](const auto& s) { return s.first == f; });
    if (it == sums.end()) {
      sums.emplace_back(f, w);
    } else {
      it->second += w;
    }
  }
  float total = 0;
  for (const auto& s : sums) total += s.second;
  FamilyProfile out;
  for (const auto& [f, w] : sums) out.push_back({f, w / total});
  std::sort(out.begin(), out.end(), [](const FamilyWeight& a, const FamilyWeight& b) {
    return a.weight > b.weight || (a.weight == b.weight && a.family < b.family);
  });
  return out;
}

float ProfileOverlap(absl::Span<const FamilyWeight> a, absl::Span<const FamilyWeight> b) {
  float s = 0;
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (x.family == y.family) s += std::min(x.weight, y.weight);
    }
  }
  return s;
}

void AccumulateProfile(absl::Span<const FamilyWeight> p, float weight, std::vector<float>* acc) {
  for (const auto& fw : p) (*acc)[fw.family] += weight * fw.weight;
}

FamilyProfile ToProfile(const std::vector<float>& acc) {
  float total = 0;
  for (float v : acc) total += std::max(v, 0.0f);
  FamilyProfile out;
  if (total <= 0) return out;
  for (size_t f = 0; f < acc.size(); ++f) {
    if (acc[f] > 0) out.push_back({static_cast<int32_t>(f), acc[f] / total});
  }
  std::sort(out.begin(), out.end(), [](const FamilyWeight& a, const FamilyWeight& b) {
    return a.weight > b.weight || (a.weight == b.weight && a.family < b.family);
  });
  return out;
}

}  // namespace encore::index
