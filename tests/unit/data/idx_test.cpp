// Unit tests of the IDX reader/writer (framework/src/data/idx.cpp): round trips for every
// dtype, raw and gzip; agreement with the independent fixture encoder in tests/support (byte
// order included); and every kind of corrupt file rejected with a DataError that names the
// file and the problem. Fixtures are written to a fresh temporary folder per test.
#include "digitpipe/idx.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "support/idx_fixture.hpp"
#include "support/process.hpp"

namespace digitpipe::framework {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using test_support::make_idx_bytes;
using test_support::TempDir;
using test_support::write_bytes;

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Deterministic bytes that do not compress well (so a cut gzip file loses data).
std::vector<std::uint8_t> noise(std::size_t n, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::vector<std::uint8_t> out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(generator());
    return out;
}

IdxArray make_array(IdxType type, std::vector<std::uint32_t> dims, std::uint32_t seed = 1) {
    IdxArray a;
    a.dtype = type;
    a.dims = std::move(dims);
    a.data = noise(static_cast<std::size_t>(*a.element_count()) * idx_type_size(type), seed);
    return a;
}

// The DataError message from reading `file`; fails the test when nothing is thrown.
std::string read_error(const std::filesystem::path& file) {
    try {
        (void)read_idx(file);
    } catch (const DataError& e) {
        return e.what();
    }
    ADD_FAILURE() << "read_idx(" << file << ") did not throw";
    return {};
}

std::string error_for_bytes(const TempDir& dir, const std::string& bytes) {
    const auto file = dir.path() / "bad-idx";
    write_bytes(file, bytes);
    return read_error(file);
}

// ---- round trips ---------------------------------------------------------------------------

class IdxRoundTripTest : public ::testing::TestWithParam<std::tuple<IdxType, bool>> {};

TEST_P(IdxRoundTripTest, WriteThenReadGivesTheSameArray) {
    const auto [type, gzip] = GetParam();
    TempDir dir;
    const auto file = dir.path() / "array.idx";
    const IdxArray original = make_array(type, {3, 4, 5});
    write_idx(file, original, gzip);
    const std::string bytes = read_file(file);
    ASSERT_GE(bytes.size(), 2u);
    EXPECT_EQ(bytes.substr(0, 2) == "\x1f\x8b", gzip) << "gzip magic present iff gzip";
    EXPECT_EQ(read_idx(file), original);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, IdxRoundTripTest,
    ::testing::Combine(::testing::Values(IdxType::kU8, IdxType::kI8, IdxType::kI16,
                                         IdxType::kI32, IdxType::kF32, IdxType::kF64),
                       ::testing::Bool()),
    [](const auto& info) {
        return std::string(idx_type_name(std::get<0>(info.param))) +
               (std::get<1>(info.param) ? "Gzip" : "Raw");
    });

TEST(IdxTest, RoundTripsOneDimensionAndEmptyArrays) {
    TempDir dir;
    for (const auto& dims : std::vector<std::vector<std::uint32_t>>{{1}, {7}, {0}, {0, 28, 28}}) {
        const IdxArray original = make_array(IdxType::kI32, dims);
        write_idx(dir.path() / "a", original, /*gzip=*/false);
        EXPECT_EQ(read_idx(dir.path() / "a"), original) << original.describe();
    }
}

TEST(IdxTest, WriterMatchesIndependentEncoderByteForByte) {
    TempDir dir;
    IdxArray a;
    a.dtype = IdxType::kI16;
    a.dims = {2, 2};
    const std::int16_t values[] = {0x0102, -2, 300, 0x7fff};
    a.data.resize(sizeof values);
    std::memcpy(a.data.data(), values, sizeof values);
    write_idx(dir.path() / "a", a, /*gzip=*/false);
    const std::string expected = make_idx_bytes(test_support::kIdxI16, {2, 2},
                                                std::string("\x01\x02\xff\xfe\x01\x2c\x7f\xff", 8));
    EXPECT_EQ(read_file(dir.path() / "a"), expected);
}

TEST(IdxTest, ReadsBigEndianElementsIntoHostOrder) {
    TempDir dir;
    // 1.5f is 0x3fc00000; -1.0 (f64) is 0xbff0000000000000; 0x01020304 as i32.
    write_bytes(dir.path() / "f32", make_idx_bytes(test_support::kIdxF32, {1},
                                                   std::string("\x3f\xc0\x00\x00", 4)));
    write_bytes(dir.path() / "f64",
                make_idx_bytes(test_support::kIdxF64, {1},
                               std::string("\xbf\xf0\x00\x00\x00\x00\x00\x00", 8)));
    write_bytes(dir.path() / "i32", make_idx_bytes(test_support::kIdxI32, {1},
                                                   std::string("\x01\x02\x03\x04", 4)));
    float f = 0;
    double d = 0;
    std::int32_t i = 0;
    const IdxArray af = read_idx(dir.path() / "f32");
    const IdxArray ad = read_idx(dir.path() / "f64");
    const IdxArray ai = read_idx(dir.path() / "i32");
    ASSERT_EQ(af.data.size(), sizeof f);
    ASSERT_EQ(ad.data.size(), sizeof d);
    ASSERT_EQ(ai.data.size(), sizeof i);
    std::memcpy(&f, af.data.data(), sizeof f);
    std::memcpy(&d, ad.data.data(), sizeof d);
    std::memcpy(&i, ai.data.data(), sizeof i);
    EXPECT_EQ(f, 1.5f);
    EXPECT_EQ(d, -1.0);
    EXPECT_EQ(i, 0x01020304);
    EXPECT_EQ(af.dtype, IdxType::kF32);
}

TEST(IdxTest, ReadsFixtureImageSet) {
    TempDir dir;
    const auto set = test_support::write_idx_image_set(dir.path(), "train", 25);
    const IdxArray images = read_idx(set.images);
    const IdxArray labels = read_idx(set.labels);
    EXPECT_EQ(images.describe(), "25x28x28 u8");
    EXPECT_EQ(labels.describe(), "25 u8");
    EXPECT_EQ(images.data, set.pixels);
    EXPECT_EQ(labels.data, set.label_values);
    EXPECT_EQ(labels.data[13], 3);
}

TEST(IdxTest, ReadsGzipRegardlessOfName) {
    TempDir dir;
    const IdxArray original = make_array(IdxType::kU8, {10, 10});
    write_idx(dir.path() / "plain-name", original, /*gzip=*/true);
    write_idx(dir.path() / "raw.gz", original, /*gzip=*/false);
    EXPECT_EQ(read_idx(dir.path() / "plain-name"), original);
    EXPECT_EQ(read_idx(dir.path() / "raw.gz"), original);
}

TEST(IdxTest, ParsesBytesInMemory) {
    const std::string bytes = make_idx_bytes(test_support::kIdxU8, {3}, "abc");
    const std::span<const std::uint8_t> span(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                             bytes.size());
    const IdxArray a = parse_idx(span, "memory");
    EXPECT_EQ(a.describe(), "3 u8");
    EXPECT_EQ(a.data, (std::vector<std::uint8_t>{'a', 'b', 'c'}));
    try {
        (void)parse_idx(span.first(6), "upload.idx");
        ADD_FAILURE() << "no DataError";
    } catch (const DataError& e) {
        EXPECT_THAT(e.what(), HasSubstr("upload.idx: truncated header"));
    }
}

TEST(IdxTest, WriteReplacesAndLeavesNoTemporaryFiles) {
    TempDir dir;
    const auto file = dir.path() / "a";
    write_idx(file, make_array(IdxType::kU8, {100}, 1), /*gzip=*/true);
    const IdxArray second = make_array(IdxType::kU8, {5}, 2);
    write_idx(file, second, /*gzip=*/false);
    EXPECT_EQ(read_idx(file), second);
    const auto entries = std::distance(std::filesystem::directory_iterator(dir.path()),
                                       std::filesystem::directory_iterator());
    EXPECT_EQ(entries, 1);
}

// ---- corrupt files -------------------------------------------------------------------------

TEST(IdxTest, RejectsMissingFile) {
    TempDir dir;
    const auto file = dir.path() / "nope";
    EXPECT_THAT(read_error(file), AllOf(HasSubstr(file.string()), HasSubstr("cannot open")));
}

TEST(IdxTest, RejectsEmptyFileAndShortHeader) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, ""), HasSubstr("bad-idx: empty file"));
    EXPECT_THAT(error_for_bytes(dir, std::string("\0\0", 2)),
                HasSubstr("bad-idx: truncated header: expected at least 4 bytes, file has 2"));
}

TEST(IdxTest, RejectsBadMagic) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, std::string("\x01\x00\x08\x01\0\0\0\0", 8)),
                HasSubstr("bad-idx: not an IDX file: magic is 0x01 0x00 0x08 0x01, expected "
                          "0x00 0x00 <dtype> <ndims>"));
    EXPECT_THAT(error_for_bytes(dir, "PK\x03\x04 a zip file"), HasSubstr("not an IDX file"));
}

TEST(IdxTest, RejectsUnknownDtype) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(0x0A, {1}, "x")),
                HasSubstr("bad-idx: unknown IDX data type 0x0a (expected one of 0x08 u8, "
                          "0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)"));
}

TEST(IdxTest, RejectsZeroOrTooManyDimensions) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxU8, {}, "")),
                HasSubstr("bad-idx: header declares 0 dimensions, expected 1 to 8"));
    const std::vector<std::uint32_t> nine(9, 1);
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxU8, nine, "x")),
                HasSubstr("header declares 9 dimensions"));
}

TEST(IdxTest, RejectsTruncatedDimensions) {
    TempDir dir;
    std::string bytes = make_idx_bytes(test_support::kIdxU8, {2, 3, 4}, "");
    bytes.resize(4 + 4 * 2 + 1);
    EXPECT_THAT(error_for_bytes(dir, bytes),
                HasSubstr("truncated header: 3 dimensions need 12 bytes after the magic, file "
                          "has 9"));
}

TEST(IdxTest, RejectsTruncatedData) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxU8, {60000, 28, 28},
                                                    std::string(1000, '\0'))),
                HasSubstr("bad-idx: truncated data: expected 47040000 bytes of data after the "
                          "16-byte header (60000x28x28 u8), file has 1000"));
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxF64, {2}, "12345678")),
                HasSubstr("expected 16 bytes of data after the 8-byte header (2 f64), file has 8"));
}

TEST(IdxTest, RejectsTrailingGarbage) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxU8, {2}, "abc")),
                HasSubstr("bad-idx: trailing data after the 2 data bytes of 2 u8"));
}

TEST(IdxTest, RejectsOversizedAndOverflowingShapes) {
    TempDir dir;
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxU8, {65536, 65536}, "")),
                HasSubstr("bad-idx: 65536x65536 u8 is 4294967296 bytes of data, over the limit "
                          "of 2147483648 bytes"));
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxF64,
                                                    {0xffffffffu, 0xffffffffu}, "")),
                HasSubstr("4294967295x4294967295 f64 is more than 2^64 bytes"));
    const std::vector<std::uint32_t> huge(8, 0xffffffffu);
    EXPECT_THAT(error_for_bytes(dir, make_idx_bytes(test_support::kIdxU8, huge, "")),
                HasSubstr("overflows a 64-bit size"));
}

TEST(IdxTest, RejectsCorruptGzip) {
    TempDir dir;
    const auto good = dir.path() / "good.gz";
    write_idx(good, make_array(IdxType::kU8, {100, 100}), /*gzip=*/true);
    const std::string bytes = read_file(good);
    ASSERT_GT(bytes.size(), 1000u);

    // The CRC-32 of the data sits 8 bytes before the end: zlib must notice.
    std::string bad_crc = bytes;
    bad_crc[bad_crc.size() - 8] ^= 0x01;
    write_bytes(dir.path() / "crc.gz", bad_crc);
    EXPECT_THAT(read_error(dir.path() / "crc.gz"),
                AllOf(HasSubstr("crc.gz: corrupt gzip stream"), HasSubstr("check")));

    std::string bad_method = bytes;
    bad_method[2] = 0x07;  // only deflate (8) exists
    write_bytes(dir.path() / "method.gz", bad_method);
    EXPECT_THAT(read_error(dir.path() / "method.gz"), HasSubstr("method.gz: corrupt gzip stream"));

    write_bytes(dir.path() / "cut.gz", std::string_view(bytes).substr(0, bytes.size() / 2));
    EXPECT_THAT(read_error(dir.path() / "cut.gz"),
                HasSubstr("cut.gz: corrupt gzip stream: it ends early (truncated file)"));
}

TEST(IdxTest, ReadsADirectoryAsAnError) {
    TempDir dir;
    EXPECT_THAT(read_error(dir.path()), HasSubstr(dir.path().string()));
}

// ---- writer preconditions ------------------------------------------------------------------

TEST(IdxTest, WriteRejectsBrokenArraysAndCreatesNoFile) {
    TempDir dir;
    const auto file = dir.path() / "out";
    IdxArray no_dims = make_array(IdxType::kU8, {4});
    no_dims.dims.clear();
    EXPECT_THROW(write_idx(file, no_dims, false), DataError);

    IdxArray short_data = make_array(IdxType::kF32, {28, 28});
    short_data.data.pop_back();
    try {
        write_idx(file, short_data, /*gzip=*/false);
        ADD_FAILURE() << "no DataError";
    } catch (const DataError& e) {
        EXPECT_THAT(e.what(), HasSubstr("out: cannot write: 28x28 f32 needs 3136 bytes of data, "
                                        "the array has 3135"));
    }
    IdxArray bad_type = make_array(IdxType::kU8, {1});
    bad_type.dtype = static_cast<IdxType>(0x0A);
    EXPECT_THROW(write_idx(file, bad_type, false), DataError);
    EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(IdxTest, WriteIntoMissingFolderFails) {
    TempDir dir;
    const auto file = dir.path() / "missing" / "out";
    try {
        write_idx(file, make_array(IdxType::kU8, {1}), /*gzip=*/true);
        ADD_FAILURE() << "no DataError";
    } catch (const DataError& e) {
        EXPECT_THAT(e.what(), HasSubstr("cannot create"));
    }
}

TEST(IdxTest, TypeNamesAndSizes) {
    EXPECT_EQ(idx_type_size(IdxType::kF64), 8u);
    EXPECT_EQ(idx_type_size(IdxType::kI16), 2u);
    EXPECT_EQ(idx_type_name(IdxType::kI8), "i8");
    EXPECT_EQ(idx_type_from_code(0x0D), IdxType::kF32);
    EXPECT_EQ(idx_type_from_code(0x0A), std::nullopt);
}

}  // namespace
}  // namespace digitpipe::framework
