// IDX files: the array format MNIST ships in, read and written generically (no knowledge of
// images or labels here; the stages that load datasets check dtype and dims themselves).
//
// Layout: magic bytes 0x00 0x00 <dtype> <ndims>; ndims big-endian uint32 dimensions; then the
// elements, row-major, multi-byte types big-endian. Files may be gzip-compressed; readers
// detect that from the content, not the name. In memory, data holds the elements in host
// byte order (little-endian on every machine we build for), ready to reinterpret as the dtype.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace digitpipe::framework {

// The element types IDX defines, by their magic byte.
enum class IdxType : std::uint8_t {
    kU8 = 0x08,
    kI8 = 0x09,
    kI16 = 0x0B,
    kI32 = 0x0C,
    kF32 = 0x0D,
    kF64 = 0x0E,
};

// Bytes per element: 1, 1, 2, 4, 4, 8.
std::size_t idx_type_size(IdxType type) noexcept;
// "u8", "i8", "i16", "i32", "f32", "f64" (the envelope's dtype names).
std::string_view idx_type_name(IdxType type) noexcept;
// The type for a magic byte; nullopt when IDX defines none.
std::optional<IdxType> idx_type_from_code(std::uint8_t code) noexcept;

// Limits past which a header is treated as corrupt rather than trusted with an allocation.
inline constexpr std::size_t kIdxMaxDims = 8;
inline constexpr std::uint64_t kIdxMaxDataBytes = std::uint64_t{2} << 30;  // 2 GiB

// A malformed, unreadable or unwritable IDX file. what() names the file and the problem.
class DataError : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

// One IDX array. Value type.
// Invariant (checked by write_idx, ensured by read_idx): 1 <= dims.size() <= kIdxMaxDims and
// data.size() == element_count() * idx_type_size(dtype) <= kIdxMaxDataBytes.
struct IdxArray {
    IdxType dtype = IdxType::kU8;
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> data;  // elements in host byte order

    // Product of dims (1 for no dims); nullopt when it overflows 64 bits.
    std::optional<std::uint64_t> element_count() const noexcept;
    // "60000x28x28 u8", for messages.
    std::string describe() const;

    friend bool operator==(const IdxArray&, const IdxArray&) = default;
};

// Reads an IDX file, raw or gzip-compressed.
// throws: DataError naming `file` and what is wrong: unreadable file, corrupt or truncated
//         gzip stream, bad magic, unknown dtype, zero or more than kIdxMaxDims dimensions,
//         a size that overflows or exceeds kIdxMaxDataBytes, truncated data, trailing bytes.
// Thread-safety: reentrant (no shared state).
IdxArray read_idx(const std::filesystem::path& file);

// Parses IDX bytes already in memory (uncompressed); `label` stands in for the file name in
// messages. Same checks and errors as read_idx. For fuzzing and for callers that fetched the
// bytes themselves.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::string_view label);

// Writes `array` to `file`, gzip-compressed when `gzip`. The file appears complete or not at
// all (written beside it, then renamed); an existing file is replaced.
// throws: DataError when `array` breaks its invariant or the file cannot be written.
void write_idx(const std::filesystem::path& file, const IdxArray& array, bool gzip);

}  // namespace digitpipe::framework
