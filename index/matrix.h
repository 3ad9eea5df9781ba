// Dense row-major float32 matrix and its .npy reader/writer.
#ifndef ENCORE_INDEX_MATRIX_H_
#define ENCORE_INDEX_MATRIX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace encore::index {

// A rows x dim float32 matrix, row-major. Value type; immutable once loaded into a Catalog.
struct Matrix {
  int64_t rows = 0;
  int32_t dim = 0;
  std::vector<float> data;  // rows * dim values

  const float* row(int64_t r) const { return data.data() + r * dim; }
  float* mutable_row(int64_t r) { return data.data() + r * dim; }
  absl::Span<const float> row_span(int64_t r) const { return {row(r), static_cast<size_t>(dim)}; }
};

// A borrowed, read-only rows x dim row-major float32 matrix: a Matrix, or vectors that live
// inside an index (a prebuilt FAISS index keeps its own copy, so the catalog reads from it
// instead of holding a second one). REQUIRES: the storage outlives the view.
struct MatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int32_t dim = 0;

  MatrixView() = default;
  MatrixView(const float* d, int64_t r, int32_t k) : data(d), rows(r), dim(k) {}
  // Implicit: every reader of a Matrix reads a view of it.
  MatrixView(const Matrix& m)  // NOLINT(google-explicit-constructor)
      : data(m.data.data()), rows(m.rows), dim(m.dim) {}

  const float* row(int64_t r) const { return data + r * dim; }
  absl::Span<const float> row_span(int64_t r) const { return {row(r), static_cast<size_t>(dim)}; }
};

// Reads a numpy .npy file holding a 2-D little-endian float32 ('<f4'), C-order array.
// Every header field is checked; any other dtype, order or shape is INVALID_ARGUMENT, and
// non-finite values are rejected.
absl::StatusOr<Matrix> ReadNpy(const std::string& path);

// The header of a .npy file: shape, and where the row-major float32 data starts.
struct NpyHeader {
  int64_t rows = 0;
  int32_t dim = 0;
  size_t data_offset = 0;
};
// Parses and checks the header at the start of `bytes` (which may hold only a prefix of the
// file); same rules as ReadNpy.
absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view bytes, const std::string& name);

// Parses .npy bytes (see ReadNpy); `name` is used in error messages.
absl::StatusOr<Matrix> ParseNpy(const std::string& bytes, const std::string& name);

// Serialises `m` as .npy version 1.0 bytes.
std::string SerializeNpy(const Matrix& m);

}  // namespace encore::index

#endif  // ENCORE_INDEX_MATRIX_H_
