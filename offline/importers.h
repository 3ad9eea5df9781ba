// Importers: HetRec 2011 Last.fm, generic interaction/item TSVs, and .npy vectors with id lists.
// Every parse error names the file, the line and the reason.
#ifndef ENCORE_OFFLINE_IMPORTERS_H_
#define ENCORE_OFFLINE_IMPORTERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "encore/v1/snapshot.pb.h"
#include "index/matrix.h"

namespace encore::offline {

// Dense ids for string ids, in first-seen order.
class IdMap {
 public:
  int32_t Intern(const std::string& id);
  // -1 when unknown.
  int32_t Find(const std::string& id) const;
  const std::vector<std::string>& ids() const { return ids_; }
  int32_t size() const { return static_cast<int32_t>(ids_.size()); }

 private:
  absl::flat_hash_map<std::string, int32_t> index_;
  std::vector<std::string> ids_;
};

struct Interaction {
  int32_t user;
  int32_t item;
  float weight;          // e.g. play count; > 0
  int64_t timestamp_ms;  // 0 when unknown
};

struct InteractionData {
  IdMap users;
  IdMap items;
  std::vector<Interaction> entries;
};

struct LastfmData {
  // Every artist as an ARTIST item: id = artistID, artist_id = artistID, name, top tags (weight =
  // taggings / the artist's most-used tag's taggings), popularity = number of listeners.
  std::vector<v1::ItemRecord> artists;
  // user_artists.dat: user = userID, item = artistID, weight = listening count.
  InteractionData plays;
};

// Reads a HetRec 2011 Last.fm directory (artists.dat, user_artists.dat, tags.dat [Latin-1],
// user_taggedartists.dat).
absl::StatusOr<LastfmData> ImportLastfm(const std::string& dir);

// Generic interactions: `user<SEP>item<SEP>weight[<SEP>timestamp_ms]`, SEP a tab (or a comma for
// .csv files); an optional header line starting with "user" is skipped. Weights must be > 0.
absl::StatusOr<InteractionData> ReadInteractions(const std::string& path);

// Generic item metadata TSV with a header naming columns; `id` is required, the rest optional:
// kind (track|episode|artist|show; default track), artist_id, name, tags ("rock:1,indie:0.5"),
// tempo, energy, popularity.
absl::StatusOr<std::vector<v1::ItemRecord>> ReadItemsTsv(const std::string& path);

// Vectors from a float32 .npy plus a text file with one item id per row.
struct IdVectors {
  std::vector<std::string> ids;
  index::Matrix vectors;
};
absl::StatusOr<IdVectors> ReadIdVectors(const std::string& npy_path, const std::string& ids_path);

// Writes one id per line.
absl::Status WriteIds(const std::string& path, const std::vector<std::string>& ids);

// Latin-1 bytes to UTF-8.
std::string Latin1ToUtf8(absl::string_view in);

}  // namespace encore::offline

#endif  // ENCORE_OFFLINE_IMPORTERS_H_
