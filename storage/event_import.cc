#include "storage/event_import.h"

#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace encore::storage {

absl::StatusOr<EventType> ParseEventType(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "play") return EventType::kPlay;
  if (n == "skip") return EventType::kSkip;
  if (n == "like") return EventType::kLike;
  if (n == "dislike") return EventType::kDislike;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown event type '", name, "' (want play, skip, like or dislike)"));
}

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kPlay:
      return "play";
    case EventType::kSkip:
      return "skip";
    case EventType::kLike:
      return "like";
    case EventType::kDislike:
      return "dislike";
  }
  return "unknown";
}

absl::StatusOr<int64_t> ImportEventsTsv(const std::string& path, HistoryStore* store) {
  ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
  std::map<std::string, std::vector<HistoryEvent>> by_user;
  int64_t line_no = 0;
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", why));
    };
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    if (f.size() != 5 && f.size() != 6) {
      return bad(absl::StrCat("expected 5 or 6 tab-separated fields, got ", f.size()));
    }
    if (auto s = ValidateUserId(f[0]); !s.ok()) return bad(s.message());
    if (f[1].empty()) return bad("empty item_id");
    auto type = ParseEventType(f[2]);
    if (!type.ok()) return bad(type.status().message());
    HistoryEvent e;
    e.item_id = std::string(f[1]);
    e.type = *type;
    if (!absl::SimpleAtoi(f[3], &e.timestamp_ms) || e.timestamp_ms < 0) {
      return bad(absl::StrCat("bad timestamp_ms '", f[3], "'"));
    }
    if (!absl::SimpleAtoi(f[4], &e.played_ms) || e.played_ms < 0) {
      return bad(absl::StrCat("bad played_ms '", f[4], "'"));
    }
    if (f.size() == 6 && (!absl::SimpleAtoi(f[5], &e.count) || e.count < 1)) {
      return bad(absl::StrCat("bad count '", f[5], "' (want an integer >= 1)"));
    }
    by_user[std::string(f[0])].push_back(std::move(e));
    ++total;
  }
  for (const auto& [user, events] : by_user) {
    RETURN_IF_ERROR(store->Append(user, events));
  }
  return total;
}

}  // namespace encore::storage
