#include "index/matrix.h"

#include <cmath>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace encore::index {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// Returns the value text of `'key': value` in a numpy header dict.
absl::StatusOr<absl::string_view> HeaderValue(absl::string_view header, absl::string_view key,
                                              const std::string& name) {
  std::string needle = absl::StrCat("'", key, "':");
  size_t pos = header.find(needle);
  if (pos == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": npy header lacks '", key, "'"));
  }
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(header.substr(pos + needle.size()));
  size_t end = rest.front() == '(' ? rest.find(')') + 1 : rest.find_first_of(",}");
  if (end == absl::string_view::npos || end == 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": malformed npy header"));
  }
  return absl::StripAsciiWhitespace(rest.substr(0, end));
}

}  // namespace

absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view bytes, const std::string& name) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a .npy file (bad magic)"));
  }
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return absl::InvalidArgumentError(absl::StrCat(name, ": truncated"));
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= size_t{static_cast<uint8_t>(bytes[8 + i])} << (8 * i);
    header_start = 12;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(name, ": unsupported npy version ", major));
  }
  if (header_start + header_len > bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": truncated npy header"));
  }
  absl::string_view header(bytes.data() + header_start, header_len);
  ASSIGN_OR_RETURN(absl::string_view descr, HeaderValue(header, "descr", name));
  if (descr != "'<f4'" && descr != "'float32'") {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": dtype ", descr, " is not little-endian float32 ('<f4')"));
  }
  ASSIGN_OR_RETURN(absl::string_view order, HeaderValue(header, "fortran_order", name));
  if (order != "False") {
    return absl::InvalidArgumentError(absl::StrCat(name, ": Fortran-order arrays are unsupported"));
  }
  ASSIGN_OR_RETURN(absl::string_view shape, HeaderValue(header, "shape", name));
  shape = absl::StripPrefix(absl::StripSuffix(shape, ")"), "(");
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(shape, ',', absl::SkipWhitespace())) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": bad shape entry '", part, "'"));
    }
    dims.push_back(v);
  }
  if (dims.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a 2-D array, got ", dims.size(), " dimensions"));
  }
  if (dims[1] <= 0 || dims[1] > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": dimension ", dims[1], " out of range"));
  }
  NpyHeader h;
  h.rows = dims[0];
  h.dim = static_cast<int32_t>(dims[1]);
  h.data_offset = header_start + header_len;
  return h;
}

absl::StatusOr<Matrix> ParseNpy(const std::string& bytes, const std::string& name) {
  ASSIGN_OR_RETURN(NpyHeader h, ParseNpyHeader(bytes, name));
  Matrix m;
  m.rows = h.rows;
  m.dim = h.dim;
  const size_t payload = bytes.size() - h.data_offset;
  const size_t want = static_cast<size_t>(m.rows) * m.dim * sizeof(float);
  if (payload != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": payload is ", payload, " bytes, shape needs ", want));
  }
  m.data.resize(static_cast<size_t>(m.rows) * m.dim);
  std::memcpy(m.data.data(), bytes.data() + h.data_offset, want);
  for (size_t i = 0; i < m.data.size(); ++i) {
    if (!std::isfinite(m.data[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": non-finite value at row ", i / m.dim, " column ", i % m.dim));
    }
  }
  return m;
}

absl::StatusOr<Matrix> ReadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(path));
  return ParseNpy(bytes, path);
}

std::string SerializeNpy(const Matrix& m) {
  std::string dict = absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", m.rows,
                                  ", ", m.dim, "), }");
  // Header (magic + version + len + dict + padding + '\n') is a multiple of 64 bytes.
  size_t total = kMagicLen + 2 + 2 + dict.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicLen);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>((dict.size() >> 8) & 0xff));
  out += dict;
  out.append(reinterpret_cast<const char*>(m.data.data()), m.data.size() * sizeof(float));
  return out;
}

}  // namespace encore::index
