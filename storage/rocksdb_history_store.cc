#include "storage/rocksdb_history_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace encore::storage {
namespace {

void PutBigEndian64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string UserPrefix(absl::string_view user_id) {
  std::string p(user_id);
  p.push_back('\0');
  return p;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("history store ", what, ": ", s.ToString()));
}

}  // namespace

absl::Status ValidateUserId(absl::string_view user_id) {
  if (user_id.empty()) return absl::InvalidArgumentError("user_id is empty");
  if (user_id.size() > 256) return absl::InvalidArgumentError("user_id is longer than 256 bytes");
  for (char c : user_id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("user_id contains a control character");
    }
  }
  return absl::OkStatus();
}

std::string EncodeHistoryKey(absl::string_view user_id, const HistoryEvent& event) {
  std::string key = UserPrefix(user_id);
  const uint64_t reversed =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - event.timestamp_ms);
  PutBigEndian64(reversed, &key);
  key.push_back(static_cast<char>(event.type));
  key.append(event.item_id);
  return key;
}

std::string EncodeHistoryValue(const HistoryEvent& event) {
  std::string value(12, '\0');
  const uint64_t played = static_cast<uint64_t>(event.played_ms);
  for (int b = 0; b < 8; ++b) value[b] = static_cast<char>((played >> (8 * b)) & 0xff);
  const uint32_t count = static_cast<uint32_t>(event.count);
  for (int b = 0; b < 4; ++b) value[8 + b] = static_cast<char>((count >> (8 * b)) & 0xff);
  return value;
}

absl::StatusOr<HistoryEvent> DecodeHistoryKey(absl::string_view key, size_t prefix_len,
                                              absl::string_view value) {
  if (key.size() < prefix_len + 9 || (value.size() != 8 && value.size() != 12)) {
    return absl::DataLossError("corrupt history record");
  }
  HistoryEvent e;
  const uint64_t reversed = GetBigEndian64(key.data() + prefix_len);
  e.timestamp_ms = std::numeric_limits<int64_t>::max() - static_cast<int64_t>(reversed);
  const uint8_t type = static_cast<uint8_t>(key[prefix_len + 8]);
  if (type < 1 || type > 4) return absl::DataLossError("corrupt history event type");
  e.type = static_cast<EventType>(type);
  e.item_id = std::string(key.substr(prefix_len + 9));
  uint64_t played = 0;
  for (int i = 7; i >= 0; --i) played = (played << 8) | static_cast<uint8_t>(value[i]);
  e.played_ms = static_cast<int64_t>(played);
  if (value.size() == 12) {
    uint32_t count = 0;
    for (int i = 11; i >= 8; --i) count = (count << 8) | static_cast<uint8_t>(value[i]);
    e.count = static_cast<int32_t>(count);
  }
  return e;
}

RocksDbHistoryStore::RocksDbHistoryStore(std::unique_ptr<rocksdb::DB> db,
                                         RocksDbHistoryOptions options)
    : db_(std::move(db)), options_(options) {}

namespace {

// RocksDB before 8.3 (Debian 12 ships 7.8) never deletes the empty WAL a DB opens with when no
// memtable flush happens before it closes (facebook/rocksdb#11313, fixed by #11409), so every
// restart of a server that wrote nothing left one more empty *.log behind. Those files hold no
// data and are older than the WAL in use; with track_and_verify_wals_in_manifest off (the
// default) deleting them is safe, and this runs only while this process holds the DB lock.
// (GetSortedWalFiles skips empty WALs, so the directory is listed directly.)
void DeleteEmptyOldWals(rocksdb::DB* db, const std::string& dir) {
  std::unique_ptr<rocksdb::LogFile> current;
  if (!db->GetCurrentWalFile(&current).ok() || current == nullptr) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t number = 0;
    if (entry.path().extension() != ".log" ||
        !absl::SimpleAtoi(absl::string_view(name).substr(0, name.size() - 4), &number)) {
      continue;
    }
    std::error_code size_ec;
    if (number < current->LogNumber() && entry.file_size(size_ec) == 0 && !size_ec) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

}  // namespace

RocksDbHistoryStore::~RocksDbHistoryStore() {
  if (db_) db_->Close();
}

absl::StatusOr<std::unique_ptr<RocksDbHistoryStore>> RocksDbHistoryStore::Open(
    const std::string& dir, const RocksDbHistoryOptions& options) {
  if (options.max_events_per_user < 1) {
    return absl::InvalidArgumentError("max_events_per_user must be >= 1");
  }
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.IncreaseParallelism(2);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(options.block_cache_bytes));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  try {
    s = rocksdb::DB::Open(opts, dir, &raw);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot open history store ", dir, ": ", e.what()));
  }
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open history store ", dir, ": ", s.ToString()));
  }
  DeleteEmptyOldWals(raw, dir);
  return std::unique_ptr<RocksDbHistoryStore>(
      new RocksDbHistoryStore(std::unique_ptr<rocksdb::DB>(raw), options));
}

absl::Status RocksDbHistoryStore::Append(absl::string_view user_id,
                                         absl::Span<const HistoryEvent> events) {
  absl::Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return valid;
  if (events.empty()) return absl::OkStatus();
  absl::MutexLock lock(&stripes_[absl::Hash<absl::string_view>()(user_id) % kStripes]);

  const std::string prefix = UserPrefix(user_id);
  std::vector<std::string> new_keys;
  new_keys.reserve(events.size());
  for (const auto& e : events) new_keys.push_back(EncodeHistoryKey(user_id, e));

  // Existing keys, newest first, to find what falls beyond the per-user bound.
  std::vector<std::string> existing;
  {
    std::string upper = prefix;
    upper.back() = '\x01';
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(prefix); it->Valid(); it->Next()) existing.push_back(it->key().ToString());
    if (!it->status().ok()) return FromRocks(it->status(), "scan");
  }
  std::vector<std::string> merged = existing;
  merged.insert(merged.end(), new_keys.begin(), new_keys.end());
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  const size_t keep = static_cast<size_t>(options_.max_events_per_user);
  std::string cutoff = merged.size() > keep ? merged[keep - 1] : std::string();

  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < events.size(); ++i) {
    if (!cutoff.empty() && new_keys[i] > cutoff) continue;  // older than everything kept
    batch.Put(new_keys[i], EncodeHistoryValue(events[i]));
  }
  if (!cutoff.empty()) {
    for (const auto& k : existing) {
      if (k > cutoff) batch.Delete(k);
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  wo.disableWAL = false;
  return FromRocks(db_->Write(wo, &batch), "write");
}

absl::StatusOr<std::vector<HistoryEvent>> RocksDbHistoryStore::Read(absl::string_view user_id,
                                                                    int limit) const {
  std::vector<HistoryEvent> out;
  if (limit <= 0) return out;
  const std::string prefix = UserPrefix(user_id);
  std::string upper = prefix;
  upper.back() = '\x01';
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(prefix); it->Valid() && static_cast<int>(out.size()) < limit; it->Next()) {
    auto e = DecodeHistoryKey(absl::string_view(it->key().data(), it->key().size()), prefix.size(),
                              absl::string_view(it->value().data(), it->value().size()));
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read");
  return out;
}

}  // namespace encore::storage
