// Test support: IDX fixture files built byte by byte, independently of framework/src/data, so
// reader tests compare two implementations, and stage tests get a tiny labelled image set in
// the MNIST layout without downloading anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace digitpipe::test_support {

// IDX type bytes, as the format defines them.
inline constexpr std::uint8_t kIdxU8 = 0x08;
inline constexpr std::uint8_t kIdxI8 = 0x09;
inline constexpr std::uint8_t kIdxI16 = 0x0B;
inline constexpr std::uint8_t kIdxI32 = 0x0C;
inline constexpr std::uint8_t kIdxF32 = 0x0D;
inline constexpr std::uint8_t kIdxF64 = 0x0E;

// The bytes of a raw IDX file: magic 00 00 type ndims, big-endian dims, then `data` as given
// (the caller supplies it big-endian; for u8/i8 byte order does not matter).
std::string make_idx_bytes(std::uint8_t type_code, const std::vector<std::uint32_t>& dims,
                           std::string_view data);

// Writes `bytes` to `file` (replacing it). throws: std::runtime_error when it cannot.
void write_bytes(const std::filesystem::path& file, std::string_view bytes);

// A tiny labelled image set: `<stem>-images-idx3-ubyte` (u8 [count][rows][cols]) and
// `<stem>-labels-idx1-ubyte` (u8 [count]) in `folder`. Image i has label i % 10 and shows a
// horizontal bar whose height band is set by the label (jittered by i), so a classifier can
// learn it in a few steps; background 0, ink 255. Deterministic: same arguments, same bytes.
struct IdxImageSet {
    std::filesystem::path images;
    std::filesystem::path labels;
    std::uint32_t rows = 0;
    std::uint32_t cols = 0;
    std::vector<std::uint8_t> label_values;  // label of each image, in file order
    std::vector<std::uint8_t> pixels;        // all images, row-major, as written
};

// requires: rows >= 10 and cols >= 4 (room for ten distinct bands).
// throws: std::invalid_argument for a too small image, std::runtime_error for I/O failures.
IdxImageSet write_idx_image_set(const std::filesystem::path& folder, std::string_view stem,
                                std::size_t count, std::uint32_t rows = 28,
                                std::uint32_t cols = 28);

}  // namespace digitpipe::test_support
