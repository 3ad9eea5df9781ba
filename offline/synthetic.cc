#include "offline/synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "index/catalog.h"
#include "storage/event_import.h"

namespace encore::offline {
namespace {

struct Family {
  const char* name;
  std::vector<const char*> subgenres;
  float tempo_lo, tempo_hi, energy_lo, energy_hi;
  float share;  // of artists
};

const std::vector<Family>& Families() {
  static const auto* kFamilies = new std::vector<Family>{
      {"rock", {"rock", "indie rock", "classic rock", "punk"}, 100, 150, 0.6f, 0.9f, 0.16f},
      {"metal",
       {"metal", "heavy metal", "death metal", "melodic heavy metal"},
       110,
       190,
       0.8f,
       1.0f,
       0.08f},
      {"pop", {"pop", "swedish pop", "synthpop", "k-pop"}, 95, 130, 0.5f, 0.85f, 0.18f},
      {"electronic", {"electronic", "house", "techno", "ambient"}, 110, 140, 0.3f, 0.95f, 0.12f},
      {"hip-hop", {"hip-hop", "rap", "trap"}, 80, 100, 0.5f, 0.85f, 0.12f},
      {"jazz", {"jazz", "bebop", "smooth jazz"}, 70, 180, 0.2f, 0.6f, 0.07f},
      {"classical", {"classical", "baroque", "opera"}, 50, 130, 0.05f, 0.5f, 0.07f},
      {"folk", {"folk", "indie folk", "singer-songwriter"}, 70, 120, 0.2f, 0.5f, 0.08f},
      {"country", {"country", "americana"}, 80, 130, 0.4f, 0.7f, 0.06f},
      {"christmas", {"christmas", "holiday", "christmas pop"}, 70, 130, 0.3f, 0.7f, 0.03f},
  };
  return *kFamilies;
}

const char* kSyllables[] = {"ka", "lo", "mi", "ra", "sen", "tor", "vel", "an", "is",  "ul",
                            "do", "ne", "fa", "ri", "zu",  "pel", "mor", "ta", "qui", "bo"};

std::string Name(std::mt19937_64& rng, int parts) {
  std::uniform_int_distribution<int> pick(0, 19);
  std::string s;
  for (int i = 0; i < parts; ++i) s += kSyllables[pick(rng)];
  s[0] = static_cast<char>(std::toupper(s[0]));
  return s;
}

std::vector<float> Gaussian(std::mt19937_64& rng, int dim, float sigma) {
  std::normal_distribution<float> n(0.0f, sigma);
  std::vector<float> v(dim);
  for (float& x : v) x = n(rng);
  return v;
}

void AddScaled(std::vector<float>* a, const std::vector<float>& b, float s) {
  for (size_t i = 0; i < a->size(); ++i) (*a)[i] += s * b[i];
}

struct GenArtist {
  std::string id;
  int family;
  int sub;
  float popularity;
  std::vector<float> vec;
  std::vector<int64_t> tracks;  // item indexes
};

}  // namespace

SyntheticData GenerateSynthetic(const SyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  const auto& families = Families();
  const int dim = o.dim;
  const float unit = 1.0f / std::sqrt(static_cast<float>(dim));
  SyntheticData out;
  SnapshotContents& snap = out.snapshot;
  snap.producer = absl::StrCat("encore-gen --tracks=", o.tracks, " --seed=", o.seed);

  // Centres: family -> subgenre.
  std::vector<std::vector<float>> family_vec;
  std::vector<std::vector<std::vector<float>>> sub_vec;
  for (const auto& f : families) {
    family_vec.push_back(Gaussian(rng, dim, 1.6f * unit));
    std::vector<std::vector<float>> subs;
    for (size_t s = 0; s < f.subgenres.size(); ++s) {
      auto v = family_vec.back();
      AddScaled(&v, Gaussian(rng, dim, 0.8f * unit), 1.0f);
      subs.push_back(v);
    }
    sub_vec.push_back(subs);
  }
  const int christmas = static_cast<int>(families.size()) - 1;

  // Artists.
  const int64_t n_artists = o.artists > 0 ? o.artists : std::max<int64_t>(1, o.tracks / 12);
  std::vector<float> shares;
  for (const auto& f : families) shares.push_back(f.share);
  std::discrete_distribution<int> pick_family(shares.begin(), shares.end());
  std::vector<GenArtist> artists(n_artists);
  for (int64_t a = 0; a < n_artists; ++a) {
    GenArtist& ga = artists[a];
    ga.id = absl::StrCat("a", a + 1);
    ga.family = pick_family(rng);
    ga.sub = std::uniform_int_distribution<int>(
        0, static_cast<int>(families[ga.family].subgenres.size()) - 1)(rng);
    ga.popularity = 1.0f / std::pow(static_cast<float>(a + 1), 0.8f) * 1e6f;
    ga.vec = sub_vec[ga.family][ga.sub];
    AddScaled(&ga.vec, Gaussian(rng, dim, 0.55f * unit), 1.0f);
  }
  std::shuffle(artists.begin(), artists.end(), rng);  // popularity independent of id order

  // Tracks: assign each to an artist (power law on artist order for catalog share).
  snap.spaces[index::kMusicSpace].dim = dim;
  index::Matrix& music = snap.spaces[index::kMusicSpace];
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  for (int64_t t = 0; t < o.tracks; ++t) {
    const int64_t a =
        t < n_artists ? t : std::uniform_int_distribution<int64_t>(0, n_artists - 1)(rng);
    GenArtist& ga = artists[a];
    const Family& fam = families[ga.family];
    v1::ItemRecord rec;
    rec.set_id(absl::StrCat("t", t + 1));
    rec.set_kind(v1::TRACK);
    rec.set_artist_id(ga.id);
    std::vector<float> v = ga.vec;
    AddScaled(&v, Gaussian(rng, dim, 0.35f * unit), 1.0f);
    int family = ga.family;
    int sub = ga.sub;
    // A few pop/rock/country songs are Christmas songs: close to their artist, tagged christmas.
    const bool xmas_song = (ga.family == 0 || ga.family == 2 || ga.family == 8) && u01(rng) < 0.04f;
    if (xmas_song) {
      family = christmas;
      sub = 0;
      AddScaled(&v, family_vec[christmas], 0.35f);
    }
    const Family& f = families[family];
    rec.set_name(absl::StrCat(Name(rng, 2), " ", Name(rng, 1)));
    rec.add_tags()->set_tag(f.subgenres[sub]);
    rec.mutable_tags(0)->set_weight(1.0f);
    if (sub != 0) {
      auto* parent = rec.add_tags();
      parent->set_tag(f.subgenres[0]);
      parent->set_weight(0.6f);
    }
    if (xmas_song) {
      auto* own = rec.add_tags();
      own->set_tag(fam.subgenres[ga.sub]);
      own->set_weight(0.5f);
    }
    rec.set_tempo(std::round(f.tempo_lo + u01(rng) * (f.tempo_hi - f.tempo_lo)));
    rec.set_energy(f.energy_lo + u01(rng) * (f.energy_hi - f.energy_lo));
    rec.set_popularity(std::round(ga.popularity * (0.2f + u01(rng))));
    music.data.insert(music.data.end(), v.begin(), v.end());
    ++music.rows;
    ga.tracks.push_back(static_cast<int64_t>(snap.items.size()));
    snap.items.push_back(std::move(rec));
  }

  // Podcasts: shows on topics, episodes near their show.
  const int pdim = o.podcast_dim;
  std::vector<int64_t> episode_items;
  if (o.shows > 0 && o.episodes_per_show > 0) {
    index::Matrix& pod = snap.spaces[index::kPodcastSpace];
    pod.dim = pdim;
    const char* topics[] = {"true crime",    "comedy", "news",     "science",
                            "music history", "sports", "business", "history"};
    std::vector<std::vector<float>> topic_vec;
    for (int i = 0; i < 8; ++i)
      topic_vec.push_back(Gaussian(rng, pdim, 1.5f / std::sqrt(pdim * 1.0f)));
    for (int s = 0; s < o.shows; ++s) {
      const int topic = s % 8;
      std::vector<float> show = topic_vec[topic];
      AddScaled(&show, Gaussian(rng, pdim, 0.6f / std::sqrt(pdim * 1.0f)), 1.0f);
      const std::string show_id = absl::StrCat("s", s + 1);
      const float pop = 1e5f / (1.0f + s);
      v1::ItemRecord srec;
      srec.set_id(show_id);
      srec.set_kind(v1::SHOW);
      srec.set_artist_id(show_id);
      srec.set_name(absl::StrCat("The ", Name(rng, 2), " Show"));
      srec.add_tags()->set_tag(topics[topic]);
      srec.mutable_tags(0)->set_weight(1.0f);
      srec.set_energy(-1.0f);
      srec.set_popularity(pop);
      pod.data.insert(pod.data.end(), show.begin(), show.end());
      ++pod.rows;
      snap.items.push_back(std::move(srec));
      for (int e = 0; e < o.episodes_per_show; ++e) {
        std::vector<float> v = show;
        AddScaled(&v, Gaussian(rng, pdim, 0.3f / std::sqrt(pdim * 1.0f)), 1.0f);
        v1::ItemRecord erec;
        erec.set_id(absl::StrCat("e", s + 1, "-", e + 1));
        erec.set_kind(v1::EPISODE);
        erec.set_artist_id(show_id);
        erec.set_name(absl::StrCat("Episode ", e + 1, ": ", Name(rng, 3)));
        erec.add_tags()->set_tag(topics[topic]);
        erec.mutable_tags(0)->set_weight(1.0f);
        erec.set_energy(-1.0f);
        erec.set_popularity(std::round(pop * (0.2f + u01(rng))));
        pod.data.insert(pod.data.end(), v.begin(), v.end());
        ++pod.rows;
        episode_items.push_back(static_cast<int64_t>(snap.items.size()));
        snap.items.push_back(std::move(erec));
      }
    }
  }

  // Users.
  std::vector<std::vector<int>> artists_by_sub;  // flattened (family, sub) -> artist indexes
  std::vector<std::pair<int, int>> sub_keys;
  for (size_t f = 0; f < families.size(); ++f) {
    for (size_t s = 0; s < families[f].subgenres.size(); ++s) sub_keys.push_back({int(f), int(s)});
  }
  artists_by_sub.resize(sub_keys.size());
  auto sub_index = [&](int f, int s) {
    return static_cast<int>(std::find(sub_keys.begin(), sub_keys.end(), std::make_pair(f, s)) -
                            sub_keys.begin());
  };
  for (size_t a = 0; a < artists.size(); ++a) {
    if (!artists[a].tracks.empty() && artists[a].family != christmas) {
      artists_by_sub[sub_index(artists[a].family, artists[a].sub)].push_back(static_cast<int>(a));
    }
  }
  std::vector<int> nonempty_subs;
  for (size_t i = 0; i < artists_by_sub.size(); ++i) {
    if (!artists_by_sub[i].empty()) nonempty_subs.push_back(static_cast<int>(i));
  }
  const int64_t span_ms = 180LL * 86400000;
  for (int64_t u = 0; u < o.users && !nonempty_subs.empty(); ++u) {
    SyntheticUser user;
    user.user_id = absl::StrCat("u", u + 1);
    const int n_fav = 1 + static_cast<int>(u01(rng) * 3);
    std::vector<int> favs;
    for (int i = 0; i < n_fav; ++i) {
      favs.push_back(
          nonempty_subs[std::uniform_int_distribution<size_t>(0, nonempty_subs.size() - 1)(rng)]);
    }
    const int lo = std::max(1, o.events_per_user / 3);
    const int n_events =
        std::uniform_int_distribution<int>(lo, lo + 4 * o.events_per_user / 3)(rng);
    const bool podcast_fan = !episode_items.empty() && u01(rng) < 0.3f;
    const int fav_show = podcast_fan ? std::uniform_int_distribution<int>(0, o.shows - 1)(rng) : 0;
    for (int e = 0; e < n_events; ++e) {
      storage::HistoryEvent ev;
      ev.timestamp_ms = o.history_end_ms - static_cast<int64_t>(u01(rng) * span_ms);
      const float r = u01(rng);
      int64_t item;
      if (podcast_fan && r < 0.15f) {
        item = episode_items[fav_show * o.episodes_per_show +
                             std::uniform_int_distribution<int>(0, o.episodes_per_show - 1)(rng)];
        ev.type = storage::EventType::kPlay;
      } else {
        const bool negative = r > 0.93f;
        const int sub = negative
                            ? nonempty_subs[std::uniform_int_distribution<size_t>(
                                  0, nonempty_subs.size() - 1)(rng)]
                            : favs[std::uniform_int_distribution<size_t>(0, favs.size() - 1)(rng)];
        const auto& pool = artists_by_sub[sub];
        // Popular artists are played more: pick the best of two random draws.
        int a1 = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
        int a2 = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
        const GenArtist& ga = artists[artists[a1].popularity > artists[a2].popularity ? a1 : a2];
        item = ga.tracks[std::uniform_int_distribution<size_t>(0, ga.tracks.size() - 1)(rng)];
        ev.type = negative ? (r > 0.98f ? storage::EventType::kDislike : storage::EventType::kSkip)
                           : (r < 0.07f ? storage::EventType::kLike : storage::EventType::kPlay);
      }
      ev.item_id = snap.items[item].id();
      ev.played_ms = ev.type == storage::EventType::kSkip ? 5000 : 180000;
      user.events.push_back(std::move(ev));
    }
    out.users.push_back(std::move(user));
  }
  return out;
}

absl::Status WriteEventsTsv(const std::string& path, const std::vector<SyntheticUser>& users) {
  std::string text = "# user_id\titem_id\ttype\ttimestamp_ms\tplayed_ms\n";
  for (const auto& u : users) {
    for (const auto& e : u.events) {
      absl::StrAppend(&text, u.user_id, "\t", e.item_id, "\t", storage::EventTypeName(e.type), "\t",
                      e.timestamp_ms, "\t", e.played_ms, "\n");
    }
  }
  return common::WriteFile(path, text);
}

}  // namespace encore::offline
