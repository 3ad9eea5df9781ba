// Small helpers for absl::Status plumbing (Abseil 20220623 ships none).
#ifndef ENCORE_COMMON_STATUS_MACROS_H_
#define ENCORE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ENCORE_CONCAT_INNER_(a, b) a##b
#define ENCORE_CONCAT_(a, b) ENCORE_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status encore_status_ = (expr);          \
    if (!encore_status_.ok()) return encore_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` assigns the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(ENCORE_CONCAT_(encore_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // ENCORE_COMMON_STATUS_MACROS_H_
