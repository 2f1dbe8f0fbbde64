// IDX fixtures for tests (see idx_fixture.hpp). Deliberately a second, minimal encoder with
// no dependency on the framework's IDX code.
#include "support/idx_fixture.hpp"

#include <fstream>
#include <stdexcept>

namespace digitpipe::test_support {
namespace {

// Labels 0..9 each get their own band of rows.
constexpr std::uint32_t kClasses = 10;

void append_big_endian_u32(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

}  // namespace

std::string make_idx_bytes(std::uint8_t type_code, const std::vector<std::uint32_t>& dims,
                           std::string_view data) {
    std::string out;
    out += '\0';
    out += '\0';
    out += static_cast<char>(type_code);
    out += static_cast<char>(dims.size());
    for (std::uint32_t d : dims) append_big_endian_u32(out, d);
    out += data;
    return out;
}

void write_bytes(const std::filesystem::path& file, std::string_view bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("write_bytes: cannot write " + file.string());
}

IdxImageSet write_idx_image_set(const std::filesystem::path& folder, std::string_view stem,
                                std::size_t count, std::uint32_t rows, std::uint32_t cols) {
    if (rows < kClasses || cols < 4) {
        throw std::invalid_argument("write_idx_image_set: images must be at least 10x4, got " +
                                    std::to_string(rows) + "x" + std::to_string(cols));
    }
    IdxImageSet set;
    set.rows = rows;
    set.cols = cols;
    set.images = folder / (std::string(stem) + "-images-idx3-ubyte");
    set.labels = folder / (std::string(stem) + "-labels-idx1-ubyte");
    set.pixels.assign(count * rows * cols, 0);
    const std::uint32_t band = rows / kClasses;
    for (std::size_t i = 0; i < count; ++i) {
        const auto label = static_cast<std::uint8_t>(i % kClasses);
        set.label_values.push_back(label);
        // Jitter the bar's length and start so images of one class differ.
        const std::uint32_t start = static_cast<std::uint32_t>(i / kClasses) % (cols / 4);
        const std::uint32_t end = cols - static_cast<std::uint32_t>(i % 3);
        for (std::uint32_t r = label * band; r < (label + 1) * band; ++r) {
            for (std::uint32_t c = start; c < end; ++c) {
                set.pixels[(i * rows + r) * cols + c] = 255;
            }
        }
    }
    const std::string_view pixel_bytes(reinterpret_cast<const char*>(set.pixels.data()),
                                       set.pixels.size());
    const std::string_view label_bytes(reinterpret_cast<const char*>(set.label_values.data()),
                                       set.label_values.size());
    const auto n = static_cast<std::uint32_t>(count);
    write_bytes(set.images, make_idx_bytes(kIdxU8, {n, rows, cols}, pixel_bytes));
    write_bytes(set.labels, make_idx_bytes(kIdxU8, {n}, label_bytes));
    return set;
}

}  // namespace digitpipe::test_support
