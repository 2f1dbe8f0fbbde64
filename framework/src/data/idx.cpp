// IDX reader and writer (see idx.hpp). One parser serves files (through zlib, which reads
// gzip and raw files alike) and memory. The header is validated completely, and the size it
// declares checked against a cap, before anything is allocated, so a hostile or corrupt file
// costs no more memory than a legitimate one.
#include "digitpipe/idx.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>

namespace digitpipe::framework {
namespace {

constexpr std::size_t kMagicBytes = 4;
constexpr std::size_t kDimBytes = 4;
// gzread/gzwrite take an unsigned count: move data in chunks well below that.
constexpr std::size_t kChunkBytes = std::size_t{1} << 24;
// zlib's internal buffer; larger than its 8 KiB default for faster bulk reads.
constexpr unsigned kZlibBufferBytes = 1u << 17;
static_assert(kIdxMaxDataBytes < std::numeric_limits<std::size_t>::max() / 2);

struct TypeInfo {
    IdxType type;
    std::string_view name;
    std::size_t size;
};

constexpr std::array<TypeInfo, 6> kTypes{{
    {IdxType::kU8, "u8", 1},
    {IdxType::kI8, "i8", 1},
    {IdxType::kI16, "i16", 2},
    {IdxType::kI32, "i32", 4},
    {IdxType::kF32, "f32", 4},
    {IdxType::kF64, "f64", 8},
}};

std::string hex_byte(std::uint8_t b) {
    std::array<char, 5> text{};
    std::snprintf(text.data(), text.size(), "0x%02x", b);
    return text.data();
}

std::string known_types() {
    std::string out;
    for (const auto& t : kTypes) {
        if (!out.empty()) out += ", ";
        out += hex_byte(static_cast<std::uint8_t>(t.type)) + " " + std::string(t.name);
    }
    return out;
}

std::string shape_text(const std::vector<std::uint32_t>& dims, IdxType type) {
    std::string out;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (i > 0) out += 'x';
        out += std::to_string(dims[i]);
    }
    if (dims.empty()) out = "scalar";
    return out + " " + std::string(idx_type_name(type));
}

std::uint32_t load_big_endian_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
           (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

void store_big_endian_u32(std::uint32_t v, std::uint8_t* p) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

// Converts elements between big-endian (file) and host order; the same swap works both ways.
void swap_to_or_from_big_endian(std::uint8_t* data, std::size_t bytes, std::size_t element) {
    if constexpr (std::endian::native == std::endian::big) return;
    switch (element) {
        case 2:
            for (std::size_t i = 0; i + 2 <= bytes; i += 2) std::swap(data[i], data[i + 1]);
            break;
        case 4:
            for (std::size_t i = 0; i + 4 <= bytes; i += 4) {
                std::uint32_t v;
                std::memcpy(&v, data + i, 4);
                v = __builtin_bswap32(v);
                std::memcpy(data + i, &v, 4);
            }
            break;
        case 8:
            for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
                std::uint64_t v;
                std::memcpy(&v, data + i, 8);
                v = __builtin_bswap64(v);
                std::memcpy(data + i, &v, 8);
            }
            break;
        default:
            break;  // one-byte types have no byte order
    }
}

// Total data bytes for dims x type. throws: DataError when that overflows or is over the cap.
std::uint64_t checked_data_bytes(const std::vector<std::uint32_t>& dims, IdxType type,
                                 const std::string& label) {
    std::uint64_t count = 1;
    for (std::uint32_t d : dims) {
        if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d) {
            throw DataError(label + ": " + shape_text(dims, type) + " overflows a 64-bit size");
        }
        count *= d;
    }
    const std::size_t element = idx_type_size(type);
    if (count > kIdxMaxDataBytes / element) {
        const bool overflows = count > std::numeric_limits<std::uint64_t>::max() / element;
        throw DataError(label + ": " + shape_text(dims, type) + " is " +
                        (overflows ? std::string("more than 2^64")
                                   : std::to_string(count * element)) +
                        " bytes of data, over the limit of " + std::to_string(kIdxMaxDataBytes) +
                        " bytes");
    }
    return count * element;
}

// Where the parser's bytes come from. read() returns fewer than `n` bytes only at the end
// of the data; it throws DataError for a read error or a corrupt compressed stream.
class ByteSource {
 public:
    virtual ~ByteSource() = default;
    virtual std::size_t read(std::uint8_t* dst, std::size_t n) = 0;
};

class MemorySource final : public ByteSource {
 public:
    explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
    std::size_t read(std::uint8_t* dst, std::size_t n) override {
        const std::size_t got = std::min(n, bytes_.size() - offset_);
        if (got > 0) std::memcpy(dst, bytes_.data() + offset_, got);
        offset_ += got;
        return got;
    }

 private:
    std::span<const std::uint8_t> bytes_;
    std::size_t offset_ = 0;
};

class GzipFileSource final : public ByteSource {
 public:
    GzipFileSource(const std::filesystem::path& file, std::string label)
        : label_(std::move(label)), path_(file.string()) {
        errno = 0;
        file_ = gzopen(file.c_str(), "rb");
        if (file_ == nullptr) {
            throw DataError(label_ + ": cannot open: " +
                            (errno != 0 ? std::strerror(errno) : "out of memory"));
        }
        gzbuffer(file_, kZlibBufferBytes);
    }
    ~GzipFileSource() override { gzclose_r(file_); }
    GzipFileSource(const GzipFileSource&) = delete;
    GzipFileSource& operator=(const GzipFileSource&) = delete;

    std::size_t read(std::uint8_t* dst, std::size_t n) override {
        std::size_t total = 0;
        while (total < n) {
            const auto want = static_cast<unsigned>(std::min(n - total, kChunkBytes));
            const int got = gzread(file_, dst + total, want);
            if (got < 0) throw DataError(label_ + ": " + error_text());
            if (got == 0) break;
            total += static_cast<std::size_t>(got);
        }
        if (total < n) {
            // zlib reports a gzip stream cut short as Z_BUF_ERROR after a short read.
            int errnum = Z_OK;
            gzerror(file_, &errnum);
            if (errnum == Z_BUF_ERROR) {
                throw DataError(label_ + ": corrupt gzip stream: it ends early (truncated file)");
            }
            if (errnum != Z_OK) throw DataError(label_ + ": " + error_text());
        }
        return total;
    }

 private:
    std::string error_text() {
        int errnum = Z_OK;
        std::string_view message = gzerror(file_, &errnum);
        if (errnum == Z_ERRNO) return std::string("read failed: ") + std::strerror(errno);
        // zlib prefixes its message with the path we already lead with.
        if (message.starts_with(path_ + ": ")) message.remove_prefix(path_.size() + 2);
        if (errnum == Z_DATA_ERROR) return "corrupt gzip stream: " + std::string(message);
        return "read failed: " + std::string(message);
    }

    std::string label_;
    std::string path_;  // as zlib saw it
    gzFile file_ = nullptr;
};

IdxArray parse(ByteSource& source, const std::string& label) {
    std::array<std::uint8_t, kMagicBytes> magic{};
    const std::size_t magic_got = source.read(magic.data(), magic.size());
    if (magic_got == 0) throw DataError(label + ": empty file, expected an IDX header");
    if (magic_got < kMagicBytes) {
        throw DataError(label + ": truncated header: expected at least 4 bytes, file has " +
                        std::to_string(magic_got));
    }
    if (magic[0] != 0 || magic[1] != 0) {
        throw DataError(label + ": not an IDX file: magic is " + hex_byte(magic[0]) + " " +
                        hex_byte(magic[1]) + " " + hex_byte(magic[2]) + " " + hex_byte(magic[3]) +
                        ", expected 0x00 0x00 <dtype> <ndims>");
    }
    const auto type = idx_type_from_code(magic[2]);
    if (!type) {
        throw DataError(label + ": unknown IDX data type " + hex_byte(magic[2]) +
                        " (expected one of " + known_types() + ")");
    }
    const std::size_t ndims = magic[3];
    if (ndims == 0 || ndims > kIdxMaxDims) {
        throw DataError(label + ": header declares " + std::to_string(ndims) +
                        " dimensions, expected 1 to " + std::to_string(kIdxMaxDims));
    }

    std::array<std::uint8_t, kIdxMaxDims * kDimBytes> dim_bytes{};
    const std::size_t dims_got = source.read(dim_bytes.data(), ndims * kDimBytes);
    if (dims_got < ndims * kDimBytes) {
        throw DataError(label + ": truncated header: " + std::to_string(ndims) +
                        " dimensions need " + std::to_string(ndims * kDimBytes) +
                        " bytes after the magic, file has " + std::to_string(dims_got));
    }
    IdxArray array;
    array.dtype = *type;
    for (std::size_t i = 0; i < ndims; ++i) {
        array.dims.push_back(load_big_endian_u32(dim_bytes.data() + i * kDimBytes));
    }
    const auto data_bytes = static_cast<std::size_t>(checked_data_bytes(array.dims, *type, label));

    array.data.resize(data_bytes);
    const std::size_t data_got = source.read(array.data.data(), data_bytes);
    if (data_got < data_bytes) {
        throw DataError(label + ": truncated data: expected " + std::to_string(data_bytes) +
                        " bytes of data after the " +
                        std::to_string(kMagicBytes + ndims * kDimBytes) + "-byte header (" +
                        array.describe() + "), file has " + std::to_string(data_got));
    }
    // One more read both finds trailing bytes and, for gzip, reaches the trailer whose CRC
    // and length zlib checks.
    std::uint8_t extra = 0;
    if (source.read(&extra, 1) != 0) {
        throw DataError(label + ": trailing data after the " + std::to_string(data_bytes) +
                        " data bytes of " + array.describe() +
                        " (the file is longer than its header says)");
    }
    swap_to_or_from_big_endian(array.data.data(), array.data.size(), idx_type_size(*type));
    return array;
}

// Writes all of `bytes` or throws.
void write_all(gzFile file, const std::uint8_t* bytes, std::size_t n, const std::string& label) {
    while (n > 0) {
        const auto chunk = static_cast<unsigned>(std::min(n, kChunkBytes));
        if (gzwrite(file, bytes, chunk) != static_cast<int>(chunk)) {
            int errnum = Z_OK;
            const char* message = gzerror(file, &errnum);
            throw DataError(label + ": write failed: " +
                            (errnum == Z_ERRNO ? std::strerror(errno) : message));
        }
        bytes += chunk;
        n -= chunk;
    }
}

// A name beside `file` that no concurrent writer (thread or process) picks too.
std::filesystem::path temporary_beside(const std::filesystem::path& file) {
    static std::atomic<unsigned> counter{0};
    auto name = file;
    name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    return name;
}

}  // namespace

std::size_t idx_type_size(IdxType type) noexcept {
    for (const auto& t : kTypes) {
        if (t.type == type) return t.size;
    }
    return 1;
}

std::string_view idx_type_name(IdxType type) noexcept {
    for (const auto& t : kTypes) {
        if (t.type == type) return t.name;
    }
    return "unknown";
}

std::optional<IdxType> idx_type_from_code(std::uint8_t code) noexcept {
    for (const auto& t : kTypes) {
        if (static_cast<std::uint8_t>(t.type) == code) return t.type;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> IdxArray::element_count() const noexcept {
    std::uint64_t count = 1;
    for (std::uint32_t d : dims) {
        if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
        count *= d;
    }
    return count;
}

std::string IdxArray::describe() const { return shape_text(dims, dtype); }

IdxArray read_idx(const std::filesystem::path& file) {
    GzipFileSource source(file, file.string());
    return parse(source, file.string());
}

IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::string_view label) {
    MemorySource source(bytes);
    return parse(source, std::string(label));
}

void write_idx(const std::filesystem::path& file, const IdxArray& array, bool gzip) {
    const std::string label = file.string();
    if (!idx_type_from_code(static_cast<std::uint8_t>(array.dtype))) {
        throw DataError(label + ": cannot write: unknown dtype " +
                        hex_byte(static_cast<std::uint8_t>(array.dtype)));
    }
    if (array.dims.empty() || array.dims.size() > kIdxMaxDims) {
        throw DataError(label + ": cannot write: " + std::to_string(array.dims.size()) +
                        " dimensions, expected 1 to " + std::to_string(kIdxMaxDims));
    }
    const std::uint64_t data_bytes = checked_data_bytes(array.dims, array.dtype, label);
    if (array.data.size() != data_bytes) {
        throw DataError(label + ": cannot write: " + array.describe() + " needs " +
                        std::to_string(data_bytes) + " bytes of data, the array has " +
                        std::to_string(array.data.size()));
    }

    const std::filesystem::path temporary = temporary_beside(file);
    // "T" writes the bytes as they are, so one zlib path serves both formats.
    errno = 0;
    gzFile out = gzopen(temporary.c_str(), gzip ? "wb" : "wbT");
    if (out == nullptr) {
        throw DataError(label + ": cannot create " + temporary.string() + ": " +
                        (errno != 0 ? std::strerror(errno) : "out of memory"));
    }
    try {
        gzbuffer(out, kZlibBufferBytes);
        std::array<std::uint8_t, kMagicBytes + kIdxMaxDims * kDimBytes> header{};
        header[2] = static_cast<std::uint8_t>(array.dtype);
        header[3] = static_cast<std::uint8_t>(array.dims.size());
        for (std::size_t i = 0; i < array.dims.size(); ++i) {
            store_big_endian_u32(array.dims[i], header.data() + kMagicBytes + i * kDimBytes);
        }
        write_all(out, header.data(), kMagicBytes + array.dims.size() * kDimBytes, label);

        const std::size_t element = idx_type_size(array.dtype);
        std::vector<std::uint8_t> chunk;
        // A whole number of elements per chunk, so no element straddles a swap.
        const std::size_t chunk_bytes = kChunkBytes / 8 * 8;
        for (std::size_t offset = 0; offset < array.data.size(); offset += chunk_bytes) {
            const std::size_t n = std::min(chunk_bytes, array.data.size() - offset);
            chunk.assign(array.data.begin() + static_cast<std::ptrdiff_t>(offset),
                         array.data.begin() + static_cast<std::ptrdiff_t>(offset + n));
            swap_to_or_from_big_endian(chunk.data(), n, element);
            write_all(out, chunk.data(), n, label);
        }
    } catch (...) {
        gzclose_w(out);
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        throw;
    }
    const int closed = gzclose_w(out);
    std::error_code ec;
    if (closed != Z_OK) {
        std::filesystem::remove(temporary, ec);
        throw DataError(label + ": write failed when closing (zlib error " +
                        std::to_string(closed) + ")");
    }
    std::filesystem::rename(temporary, file, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        throw DataError(label + ": cannot rename " + temporary.string() + " into place: " +
                        ec.message());
    }
}

}  // namespace digitpipe::framework
