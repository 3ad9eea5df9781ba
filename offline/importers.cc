#include "offline/importers.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace encore::offline {
namespace {

constexpr int kMaxTagsPerItem = 20;

// Calls fn(line_no, fields) for each non-empty line after the header; stops at the first error.
template <typename Fn>
absl::Status ForEachRow(const std::string& path, const std::string& text, char sep, bool has_header,
                        Fn fn) {
  int64_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (has_header && line_no == 1)) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, sep);
    absl::Status s = fn(line_no, fields);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status NeedFields(const std::vector<absl::string_view>& f, size_t n) {
  if (f.size() < n) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected at least ", n, " fields, got ", f.size()));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status ParseNumber(absl::string_view field, const char* what, T* out) {
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(field), out)) {
    return absl::InvalidArgumentError(absl::StrCat("bad ", what, " '", field, "'"));
  }
  return absl::OkStatus();
}

absl::Status ParseFloat(absl::string_view field, const char* what, float* out) {
  if (!absl::SimpleAtof(absl::StripAsciiWhitespace(field), out) || !std::isfinite(*out)) {
    return absl::InvalidArgumentError(absl::StrCat("bad ", what, " '", field, "'"));
  }
  return absl::OkStatus();
}

bool ValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    const size_t len = c < 0x80           ? 1
                       : (c >> 5) == 0x6  ? 2
                       : (c >> 4) == 0xe  ? 3
                       : (c >> 3) == 0x1e ? 4
                                          : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

int32_t IdMap::Intern(const std::string& id) {
  auto [it, inserted] = index_.emplace(id, static_cast<int32_t>(ids_.size()));
  if (inserted) ids_.push_back(id);
  return it->second;
}

int32_t IdMap::Find(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? -1 : it->second;
}

std::string Latin1ToUtf8(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

absl::StatusOr<LastfmData> ImportLastfm(const std::string& dir) {
  LastfmData data;
  const std::string artists_path = absl::StrCat(dir, "/artists.dat");
  ASSIGN_OR_RETURN(std::string artists_text, common::ReadFile(artists_path));
  absl::flat_hash_map<std::string, size_t> artist_pos;
  RETURN_IF_ERROR(ForEachRow(
      artists_path, artists_text, '\t', true,
      [&](int64_t, const std::vector<absl::string_view>& f) {
        RETURN_IF_ERROR(NeedFields(f, 2));
        int64_t id;
        RETURN_IF_ERROR(ParseNumber(f[0], "artist id", &id));
        v1::ItemRecord rec;
        rec.set_id(std::string(f[0]));
        rec.set_kind(v1::ARTIST);
        rec.set_artist_id(rec.id());
        rec.set_name(ValidUtf8(f[1]) ? std::string(f[1]) : Latin1ToUtf8(f[1]));
        rec.set_energy(-1.0f);
        if (!artist_pos.emplace(rec.id(), data.artists.size()).second) {
          return absl::InvalidArgumentError(absl::StrCat("duplicate artist id ", rec.id()));
        }
        data.artists.push_back(std::move(rec));
        return absl::OkStatus();
      }));

  const std::string plays_path = absl::StrCat(dir, "/user_artists.dat");
  ASSIGN_OR_RETURN(std::string plays_text, common::ReadFile(plays_path));
  std::vector<int64_t> listeners(data.artists.size(), 0);
  RETURN_IF_ERROR(ForEachRow(
      plays_path, plays_text, '\t', true, [&](int64_t, const std::vector<absl::string_view>& f) {
        RETURN_IF_ERROR(NeedFields(f, 3));
        int64_t user, artist, weight;
        RETURN_IF_ERROR(ParseNumber(f[0], "userID", &user));
        RETURN_IF_ERROR(ParseNumber(f[1], "artistID", &artist));
        RETURN_IF_ERROR(ParseNumber(f[2], "weight", &weight));
        auto pos = artist_pos.find(std::string(f[1]));
        if (pos == artist_pos.end()) {
          return absl::InvalidArgumentError(absl::StrCat("artistID ", f[1], " not in artists.dat"));
        }
        if (weight <= 0) return absl::InvalidArgumentError("weight must be > 0");
        ++listeners[pos->second];
        data.plays.entries.push_back({data.plays.users.Intern(std::string(f[0])),
                                      data.plays.items.Intern(std::string(f[1])),
                                      static_cast<float>(weight), 0});
        return absl::OkStatus();
      }));
  for (size_t a = 0; a < data.artists.size(); ++a) {
    data.artists[a].set_popularity(static_cast<float>(listeners[a]));
  }

  const std::string tags_path = absl::StrCat(dir, "/tags.dat");
  ASSIGN_OR_RETURN(std::string tags_text, common::ReadFile(tags_path));
  absl::flat_hash_map<std::string, std::string> tag_names;
  RETURN_IF_ERROR(ForEachRow(tags_path, tags_text, '\t', true,
                             [&](int64_t, const std::vector<absl::string_view>& f) {
                               RETURN_IF_ERROR(NeedFields(f, 2));
                               tag_names[std::string(f[0])] = Latin1ToUtf8(f[1]);
                               return absl::OkStatus();
                             }));
  const std::string tagged_path = absl::StrCat(dir, "/user_taggedartists.dat");
  ASSIGN_OR_RETURN(std::string tagged_text, common::ReadFile(tagged_path));
  std::vector<std::map<std::string, int>> tag_counts(data.artists.size());
  RETURN_IF_ERROR(ForEachRow(
      tagged_path, tagged_text, '\t', true, [&](int64_t, const std::vector<absl::string_view>& f) {
        RETURN_IF_ERROR(NeedFields(f, 3));
        auto pos = artist_pos.find(std::string(f[1]));
        auto tag = tag_names.find(std::string(f[2]));
        // HetRec tags artists missing from artists.dat; those taggings carry no item to attach to.
        if (pos == artist_pos.end()) return absl::OkStatus();
        if (tag == tag_names.end()) {
          return absl::InvalidArgumentError(absl::StrCat("tagID ", f[2], " not in tags.dat"));
        }
        ++tag_counts[pos->second][tag->second];
        return absl::OkStatus();
      }));
  for (size_t a = 0; a < data.artists.size(); ++a) {
    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& [tag, n] : tag_counts[a]) ranked.emplace_back(n, tag);
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
      return x.first > y.first || (x.first == y.first && x.second < y.second);
    });
    for (size_t i = 0; i < ranked.size() && i < kMaxTagsPerItem; ++i) {
      auto* t = data.artists[a].add_tags();
      t->set_tag(ranked[i].second);
      t->set_weight(static_cast<float>(ranked[i].first) / static_cast<float>(ranked[0].first));
    }
  }
  return data;
}

absl::StatusOr<InteractionData> ReadInteractions(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
  const char sep = absl::EndsWith(path, ".csv") ? ',' : '\t';
  const bool header = absl::StartsWith(absl::AsciiStrToLower(text.substr(0, 4)), "user");
  InteractionData data;
  RETURN_IF_ERROR(
      ForEachRow(path, text, sep, header, [&](int64_t, const std::vector<absl::string_view>& f) {
        RETURN_IF_ERROR(NeedFields(f, 3));
        if (f.size() > 4) return absl::InvalidArgumentError("more than 4 fields");
        if (f[0].empty() || f[1].empty())
          return absl::InvalidArgumentError("empty user or item id");
        float weight;
        RETURN_IF_ERROR(ParseFloat(f[2], "weight", &weight));
        if (weight <= 0) return absl::InvalidArgumentError("weight must be > 0");
        int64_t ts = 0;
        if (f.size() == 4) RETURN_IF_ERROR(ParseNumber(f[3], "timestamp", &ts));
        data.entries.push_back({data.users.Intern(std::string(f[0])),
                                data.items.Intern(std::string(f[1])), weight, ts});
        return absl::OkStatus();
      }));
  return data;
}

absl::StatusOr<std::vector<v1::ItemRecord>> ReadItemsTsv(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
  const size_t eol = text.find('\n');
  std::vector<std::string> columns =
      absl::StrSplit(absl::StripAsciiWhitespace(text.substr(0, eol)), '\t');
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < columns.size(); ++i) col[absl::AsciiStrToLower(columns[i])] = i;
  if (!col.count("id")) return absl::InvalidArgumentError(absl::StrCat(path, ":1: no 'id' column"));
  std::vector<v1::ItemRecord> items;
  RETURN_IF_ERROR(
      ForEachRow(path, text, '\t', true, [&](int64_t, const std::vector<absl::string_view>& f) {
        auto get = [&](const char* name) -> absl::string_view {
          auto it = col.find(name);
          return it == col.end() || it->second >= f.size() ? absl::string_view() : f[it->second];
        };
        v1::ItemRecord rec;
        rec.set_id(std::string(get("id")));
        if (rec.id().empty()) return absl::InvalidArgumentError("empty id");
        v1::ItemKind kind = v1::TRACK;
        if (!get("kind").empty() &&
            (!v1::ItemKind_Parse(absl::AsciiStrToUpper(get("kind")), &kind) ||
             kind == v1::ITEM_KIND_UNSPECIFIED)) {
          return absl::InvalidArgumentError(absl::StrCat("unknown kind '", get("kind"), "'"));
        }
        rec.set_kind(kind);
        rec.set_artist_id(std::string(get("artist_id")));
        rec.set_name(std::string(get("name")));
        for (absl::string_view tw : absl::StrSplit(get("tags"), ',', absl::SkipWhitespace())) {
          std::pair<absl::string_view, absl::string_view> kv =
              absl::StrSplit(tw, absl::MaxSplits(':', 1));
          auto* t = rec.add_tags();
          t->set_tag(std::string(absl::StripAsciiWhitespace(kv.first)));
          float w = 1.0f;
          if (!kv.second.empty()) RETURN_IF_ERROR(ParseFloat(kv.second, "tag weight", &w));
          t->set_weight(w);
        }
        float v = 0.0f;
        if (!get("tempo").empty()) RETURN_IF_ERROR(ParseFloat(get("tempo"), "tempo", &v));
        rec.set_tempo(v);
        v = -1.0f;
        if (!get("energy").empty()) RETURN_IF_ERROR(ParseFloat(get("energy"), "energy", &v));
        rec.set_energy(v);
        v = 0.0f;
        if (!get("popularity").empty())
          RETURN_IF_ERROR(ParseFloat(get("popularity"), "popularity", &v));
        if (v < 0) return absl::InvalidArgumentError("popularity must be >= 0");
        rec.set_popularity(v);
        items.push_back(std::move(rec));
        return absl::OkStatus();
      }));
  return items;
}

absl::StatusOr<IdVectors> ReadIdVectors(const std::string& npy_path, const std::string& ids_path) {
  IdVectors out;
  ASSIGN_OR_RETURN(out.vectors, index::ReadNpy(npy_path));
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(ids_path));
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    out.ids.emplace_back(absl::StripTrailingAsciiWhitespace(line));
  }
  if (static_cast<int64_t>(out.ids.size()) != out.vectors.rows) {
    return absl::InvalidArgumentError(absl::StrCat(ids_path, " has ", out.ids.size(), " ids but ",
                                                   npy_path, " has ", out.vectors.rows, " rows"));
  }
  return out;
}

absl::Status WriteIds(const std::string& path, const std::vector<std::string>& ids) {
  std::string text;
  for (const auto& id : ids) absl::StrAppend(&text, id, "\n");
  return common::WriteFile(path, text);
}

}  // namespace encore::offline
