// Unit tests of image decoding and encoding (plugins/infer image.hpp): PNG round trips in every
// channel layout, palette and 16-bit PNGs made byte by byte, gray and RGB JPEGs, EXIF
// orientation, and refusals: empty, unknown, oversized, truncated and corrupt input, headers
// claiming huge dimensions, and a few thousand mutated files, each either decoded or refused
// with an ImageError, never a crash. Every input is generated here.
#include "digitpipe/infer/image.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

// jpeglib.h uses FILE and size_t without including their headers.
#include <cstdio>
#include <cstdlib>

#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "digitpipe/infer/preprocess.hpp"

namespace digitpipe::infer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Bytes = std::vector<std::uint8_t>;

// JPEG is lossy: a flat area comes back within a few levels at quality 95.
constexpr int kJpegFlatTolerance = 3;
constexpr int kJpegQuality = 95;

Image make_image(int width, int height, int channels) {
    Image image;
    image.width = width;
    image.height = height;
    image.channels = channels;
    image.samples.assign(static_cast<std::size_t>(width) * height * channels, 0);
    return image;
}

// Deterministic pseudo-random bytes (xorshift32).
class Noise {
 public:
    explicit Noise(std::uint32_t seed) : state_(seed | 1U) {}
    std::uint32_t next() {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return state_;
    }

 private:
    std::uint32_t state_;
};

Image make_noise_image(int width, int height, int channels, std::uint32_t seed) {
    Image image = make_image(width, height, channels);
    Noise noise(seed);
    for (auto& s : image.samples) s = static_cast<std::uint8_t>(noise.next() >> 24);
    return image;
}

// Encodes a gray, RGB or CMYK image as a baseline JPEG with libjpeg; `app1`, when given, is written
// as an APP1 marker (an EXIF block).
Bytes encode_jpeg(const Image& image, int quality, const Bytes& app1 = {}) {
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr err{};
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(image.width);
    cinfo.image_height = static_cast<JDIMENSION>(image.height);
    cinfo.input_components = image.channels;
    // Four channels are CMYK; libjpeg then writes an Adobe marker, as Photoshop does.
    cinfo.in_color_space = image.channels == 1   ? JCS_GRAYSCALE
                           : image.channels == 4 ? JCS_CMYK
                                                 : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, /*force_baseline=*/TRUE);
    jpeg_start_compress(&cinfo, /*write_all_tables=*/TRUE);
    if (!app1.empty()) {
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, app1.data(), static_cast<unsigned>(app1.size()));
    }
    const std::size_t row_bytes = static_cast<std::size_t>(image.width) * image.channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        // libjpeg's API is not const-correct; it only reads the row.
        auto* row = const_cast<JSAMPLE*>(&image.samples[cinfo.next_scanline * row_bytes]);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    Bytes jpeg(buffer, buffer + size);
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    return jpeg;
}

void append_be32(Bytes& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<std::uint8_t>(v >> shift));
    }
}

// One PNG chunk: length, type, data, CRC-32 of type and data.
void append_chunk(Bytes& out, const char* type, const Bytes& data) {
    append_be32(out, static_cast<std::uint32_t>(data.size()));
    const std::size_t type_at = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    append_be32(out, static_cast<std::uint32_t>(
                         crc32(0L, &out[type_at], static_cast<uInt>(out.size() - type_at))));
}

Bytes ihdr(std::uint32_t width, std::uint32_t height, int bit_depth, int color_type) {
    Bytes data;
    append_be32(data, width);
    append_be32(data, height);
    data.insert(data.end(), {static_cast<std::uint8_t>(bit_depth),
                             static_cast<std::uint8_t>(color_type), /*compression=*/0,
                             /*filter=*/0, /*interlace=*/0});
    return data;
}

// A PNG made byte by byte: IHDR, the extra chunks, one IDAT holding `rows` (each row already
// starting with its filter byte) deflated, IEND.
Bytes make_png(std::uint32_t width, std::uint32_t height, int bit_depth, int color_type,
               const Bytes& rows,
               const std::vector<std::pair<const char*, Bytes>>& extra_chunks = {}) {
    Bytes png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    append_chunk(png, "IHDR", ihdr(width, height, bit_depth, color_type));
    for (const auto& [type, data] : extra_chunks) append_chunk(png, type, data);
    uLongf size = compressBound(static_cast<uLong>(rows.size()));
    Bytes deflated(size);
    EXPECT_EQ(compress(deflated.data(), &size, rows.data(), static_cast<uLong>(rows.size())), Z_OK);
    deflated.resize(size);
    append_chunk(png, "IDAT", deflated);
    append_chunk(png, "IEND", {});
    return png;
}

// An EXIF APP1 payload holding only the Orientation tag, in either byte order.
Bytes make_exif(int orientation, bool little_endian) {
    Bytes exif = {'E', 'x', 'i', 'f', 0, 0};
    auto u16 = [&](std::uint32_t v) {
        if (little_endian) {
            exif.insert(exif.end(),
                        {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)});
        } else {
            exif.insert(exif.end(),
                        {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)});
        }
    };
    auto u32 = [&](std::uint32_t v) {
        if (little_endian) {
            u16(v & 0xFFFF);
            u16(v >> 16);
        } else {
            u16(v >> 16);
            u16(v & 0xFFFF);
        }
    };
    const std::uint8_t order = little_endian ? 'I' : 'M';
    exif.insert(exif.end(), {order, order});
    u16(42);
    u32(8);       // IFD0 right after the 8-byte TIFF header
    u16(1);       // one entry
    u16(0x0112);  // Orientation
    u16(3);       // SHORT
    u32(1);       // count
    u16(static_cast<std::uint32_t>(orientation));
    u16(0);  // padding of the 4-byte value field
    u32(0);  // no next IFD
    return exif;
}

int sample(const Image& image, int x, int y, int channel = 0) {
    const std::size_t pixel = static_cast<std::size_t>(y) * image.width + x;
    return image.samples[pixel * image.channels + channel];
}

// Decodes, expecting an ImageError, and returns its message ("" and a test failure otherwise).
std::string decode_error(const Bytes& bytes, const DecodeLimits& limits = {}) {
    try {
        decode_image(bytes, limits);
    } catch (const ImageError& e) {
        return e.what();
    }
    ADD_FAILURE() << "decoded without error";
    return "";
}

TEST(ImageTest, GrayPngRoundTrips) {
    Image gray = make_noise_image(7, 5, 1, /*seed=*/1);
    const Image decoded = decode_image(encode_png_gray(gray.samples, 7, 5));
    EXPECT_EQ(decoded.width, 7);
    EXPECT_EQ(decoded.height, 5);
    EXPECT_EQ(decoded.channels, 1);
    EXPECT_EQ(decoded.samples, gray.samples);
}

TEST(ImageTest, PngRoundTripsInEveryChannelLayout) {
    for (int channels = 1; channels <= 4; ++channels) {
        SCOPED_TRACE(channels);
        const Image image = make_noise_image(9, 4, channels, /*seed=*/channels);
        const Image decoded = decode_image(encode_png(image));
        EXPECT_EQ(decoded.width, 9);
        EXPECT_EQ(decoded.height, 4);
        EXPECT_EQ(decoded.channels, channels);
        EXPECT_EQ(decoded.samples, image.samples);  // alpha straight, not premultiplied
    }
}

TEST(ImageTest, PalettePngIsExpanded) {
    const Bytes palette = {255, 0, 0, /**/ 0, 0, 255};  // 0 red, 1 blue
    const Bytes rows = {0, 0, 1, /**/ 0, 1, 0};         // 2x2, filter byte 0 per row
    const Image rgb = decode_image(make_png(2, 2, 8, /*color_type=*/3, rows, {{"PLTE", palette}}));
    ASSERT_EQ(rgb.channels, 3);
    EXPECT_EQ(rgb.samples, (Bytes{255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0}));

    // tRNS gives palette entry 0 alpha 0: the image gains an alpha channel.
    const Image rgba = decode_image(
        make_png(2, 2, 8, /*color_type=*/3, rows, {{"PLTE", palette}, {"tRNS", Bytes{0}}}));
    ASSERT_EQ(rgba.channels, 4);
    EXPECT_EQ(sample(rgba, 0, 0, 3), 0);
    EXPECT_EQ(sample(rgba, 1, 0, 3), 255);
    EXPECT_EQ(sample(rgba, 1, 0, 2), 255);
}

TEST(ImageTest, SixteenBitPngIsReducedTo8BitAsSrgb) {
    // 16-bit gray, no gAMA: libpng's simplified API would take it as linear light and turn
    // 0x8080 into 186; it is sRGB-encoded like any 8-bit file, so 128.
    const Bytes rows = {0, 0x00, 0x00, 0x40, 0x00, 0x80, 0x80, 0xFF, 0xFF};
    const Image image = decode_image(make_png(4, 1, 16, /*color_type=*/0, rows));
    ASSERT_EQ(image.channels, 1);
    ASSERT_EQ(image.samples.size(), 4U);
    EXPECT_EQ(image.samples[0], 0);
    EXPECT_NEAR(image.samples[1], 64, 1);
    EXPECT_NEAR(image.samples[2], 128, 1);
    EXPECT_EQ(image.samples[3], 255);
}

TEST(ImageTest, LowBitDepthGrayIsScaledTo8Bits) {
    const Bytes rows = {0, 0b0110'0000};  // 1-bit gray: 0 1 1 0
    const Image image = decode_image(make_png(4, 1, 1, /*color_type=*/0, rows));
    EXPECT_EQ(image.samples, (Bytes{0, 255, 255, 0}));
}

TEST(ImageTest, GrayAndRgbJpegDecode) {
    Image gray = make_image(24, 16, 1);
    std::fill(gray.samples.begin(), gray.samples.end(), 200);
    const Image g = decode_image(encode_jpeg(gray, kJpegQuality));
    EXPECT_EQ(g.width, 24);
    EXPECT_EQ(g.height, 16);
    EXPECT_EQ(g.channels, 1);
    EXPECT_NEAR(sample(g, 12, 8), 200, kJpegFlatTolerance);

    Image rgb = make_image(24, 16, 3);
    for (std::size_t i = 0; i < rgb.samples.size(); i += 3) rgb.samples[i] = 220;  // red
    const Image c = decode_image(encode_jpeg(rgb, kJpegQuality));
    EXPECT_EQ(c.channels, 3);
    EXPECT_NEAR(sample(c, 12, 8, 0), 220, kJpegFlatTolerance);
    EXPECT_NEAR(sample(c, 12, 8, 1), 0, kJpegFlatTolerance);
    EXPECT_NEAR(sample(c, 12, 8, 2), 0, kJpegFlatTolerance);
}

TEST(ImageTest, CmykJpegBecomesRgb) {
    // Adobe CMYK is stored inverted (255 = no ink): red is C 0, M 255, Y 255, K 0, stored as
    // 255, 0, 0, 255.
    Image cmyk = make_image(16, 16, 4);
    for (std::size_t i = 0; i < cmyk.samples.size(); i += 4) {
        cmyk.samples[i] = 255;
        cmyk.samples[i + 3] = 255;
    }
    const Image rgb = decode_image(encode_jpeg(cmyk, kJpegQuality));
    ASSERT_EQ(rgb.channels, 3);
    EXPECT_NEAR(sample(rgb, 8, 8, 0), 255, kJpegFlatTolerance);
    EXPECT_NEAR(sample(rgb, 8, 8, 1), 0, kJpegFlatTolerance);
    EXPECT_NEAR(sample(rgb, 8, 8, 2), 0, kJpegFlatTolerance);
}

TEST(ImageTest, ExifOrientationIsApplied) {
    // 32x16, left half black, right half white, as stored.
    Image stored = make_image(32, 16, 1);
    for (int y = 0; y < 16; ++y) {
        for (int x = 16; x < 32; ++x) stored.samples[static_cast<std::size_t>(y) * 32 + x] = 255;
    }
    struct Case {
        int orientation;
        bool little_endian;
        int width, height;
        // Where the stored left (black) half ends up: probe points inside it and outside it.
        int black_x, black_y, white_x, white_y;
    };
    const Case cases[] = {
        {1, true, 32, 16, 4, 8, 28, 8},   // as stored
        {3, false, 32, 16, 28, 8, 4, 8},  // rotated 180: black on the right
        {6, true, 16, 32, 8, 4, 8, 28},   // rotated 90 clockwise: left edge to the top
        {8, false, 16, 32, 8, 28, 8, 4},  // rotated 90 counter-clockwise: left edge to the bottom
        {2, true, 32, 16, 28, 8, 4, 8},   // mirrored
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.orientation);
        const Image image = decode_image(
            encode_jpeg(stored, kJpegQuality, make_exif(c.orientation, c.little_endian)));
        ASSERT_EQ(image.width, c.width);
        ASSERT_EQ(image.height, c.height);
        EXPECT_LT(sample(image, c.black_x, c.black_y), 20);
        EXPECT_GT(sample(image, c.white_x, c.white_y), 235);
    }
    // A malformed EXIF block is ignored, not fatal.
    Bytes broken = make_exif(6, true);
    broken[6] = 'X';  // not "II" or "MM"
    EXPECT_EQ(decode_image(encode_jpeg(stored, kJpegQuality, broken)).width, 32);
}

TEST(ImageTest, EmptyInputIsRefused) {
    EXPECT_EQ(decode_error({}), "empty image: 0 bytes");
}

TEST(ImageTest, NonImageBytesAreRefusedNamingTheirFirstBytes) {
    EXPECT_EQ(decode_error({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}),
              "not a PNG or JPEG image (first bytes 47 49 46 38)");
    EXPECT_EQ(decode_error({'<', 's', 'v', 'g', ' '}),
              "not a PNG or JPEG image (first bytes 3C 73 76 67)");
    EXPECT_EQ(decode_error({0x42}), "not a PNG or JPEG image (first bytes 42)");
}

TEST(ImageTest, InputOverTheByteLimitIsRefused) {
    const Bytes png = encode_png(make_noise_image(16, 16, 1, /*seed=*/3));
    DecodeLimits limits;
    limits.max_bytes = 100;
    EXPECT_EQ(decode_error(png, limits),
              "image is " + std::to_string(png.size()) + " bytes, larger than the 100-byte limit");
}

TEST(ImageTest, TruncatedPngIsRefused) {
    const Bytes png = encode_png(make_noise_image(64, 64, 1, /*seed=*/4));
    // size - 13 cuts into the last IDAT's CRC (IEND is the last 12 bytes).
    for (const std::size_t keep :
         {png.size() - 13, png.size() / 2, std::size_t{40}, std::size_t{20}, std::size_t{5}}) {
        SCOPED_TRACE(keep);
        EXPECT_THAT(decode_error(Bytes(png.begin(), png.begin() + static_cast<long>(keep))),
                    HasSubstr("truncated PNG"));
    }
}

TEST(ImageTest, TruncatedJpegIsRefused) {
    const Bytes jpeg = encode_jpeg(make_noise_image(64, 64, 3, /*seed=*/5), kJpegQuality);
    for (const std::size_t keep :
         {jpeg.size() - 2, jpeg.size() / 2, std::size_t{100}, std::size_t{2}}) {
        SCOPED_TRACE(keep);
        EXPECT_THAT(decode_error(Bytes(jpeg.begin(), jpeg.begin() + static_cast<long>(keep))),
                    HasSubstr("truncated JPEG"));
    }
}

TEST(ImageTest, HugePngHeaderIsRefusedBeforeAllocation) {
    // A valid IHDR (correct CRC) claiming 100000x100000 RGBA: 40 GB if anyone allocated it.
    const Bytes huge = make_png(100000, 100000, 8, /*color_type=*/6, Bytes{0, 0, 0, 0, 0});
    EXPECT_EQ(decode_error(huge), "PNG is 100000x100000, larger than the 4096x4096 limit");
    // The same header with nothing after it: still a size refusal, not a truncation.
    EXPECT_EQ(decode_error(Bytes(huge.begin(), huge.begin() + 33)),
              "PNG is 100000x100000, larger than the 4096x4096 limit");
}

TEST(ImageTest, PixelAndDimensionLimitsAreEnforced) {
    DecodeLimits limits;
    limits.max_pixels = 1000;
    EXPECT_EQ(decode_error(encode_png(make_image(40, 40, 1)), limits),
              "PNG is 40x40 = 1600 pixels, more than the 1000-pixel limit");
    DecodeLimits small;
    small.max_width = 32;
    small.max_height = 32;
    EXPECT_EQ(decode_error(encode_jpeg(make_image(64, 48, 1), kJpegQuality), small),
              "JPEG is 64x48, larger than the 32x32 limit");
    // EXIF rotation swaps the axes before the check: 16 wide, 40 tall as shown.
    small.max_height = 40;
    EXPECT_NO_THROW(
        decode_image(encode_jpeg(make_image(40, 16, 1), kJpegQuality, make_exif(6, true)), small));
}

TEST(ImageTest, CorruptPngIsRefused) {
    Bytes png = encode_png(make_noise_image(16, 16, 1, /*seed=*/6));
    png[17] ^= 0x01;  // a width byte: the IHDR CRC no longer matches
    EXPECT_THAT(decode_error(png), AllOf(HasSubstr("invalid PNG"), HasSubstr("CRC")));
}

TEST(ImageTest, CorruptJpegIsRefused) {
    Bytes jpeg = encode_jpeg(make_noise_image(16, 16, 1, /*seed=*/7), kJpegQuality);
    // The first DHT's 16 code counts: all 255 claims 4080 codes, more than any table holds.
    const Bytes dht_marker = {0xFF, 0xC4};
    const auto dht = std::search(jpeg.begin(), jpeg.end(), dht_marker.begin(), dht_marker.end());
    ASSERT_NE(dht, jpeg.end());
    std::fill(dht + 5, dht + 21, 0xFF);
    EXPECT_THAT(decode_error(jpeg), AllOf(HasSubstr("invalid JPEG"), HasSubstr("Huffman")));
}

// Random damage to valid files: every result is an image satisfying the invariant or an
// ImageError; anything else (a crash, another exception, a sanitizer report) fails.
TEST(ImageTest, DamagedFilesAreDecodedOrRefusedNeverCrash) {
    const std::vector<Bytes> originals = {
        encode_png(make_noise_image(24, 20, 4, /*seed=*/8)),
        encode_png_gray(make_noise_image(24, 20, 1, /*seed=*/9).samples, 24, 20),
        encode_jpeg(make_noise_image(24, 20, 3, /*seed=*/10), kJpegQuality),
        encode_jpeg(make_noise_image(24, 20, 1, /*seed=*/11), 50),
    };
    Noise noise(/*seed=*/12);
    int decoded = 0, refused = 0;
    for (const Bytes& original : originals) {
        for (int trial = 0; trial < 400; ++trial) {
            Bytes damaged = original;
            const int flips = 1 + static_cast<int>(noise.next() % 4);
            for (int f = 0; f < flips; ++f) {
                damaged[noise.next() % damaged.size()] = static_cast<std::uint8_t>(noise.next());
            }
            if (trial % 4 == 0) damaged.resize(1 + noise.next() % damaged.size());
            try {
                const Image image = decode_image(damaged);
                ASSERT_GT(image.width, 0);
                ASSERT_GT(image.height, 0);
                ASSERT_EQ(image.samples.size(),
                          static_cast<std::size_t>(image.width) * image.height * image.channels);
                ++decoded;
            } catch (const ImageError&) {
                ++refused;
            }
        }
    }
    EXPECT_GT(refused, 0);
    EXPECT_EQ(decoded + refused, 1600);
}

TEST(ImageTest, EncodePngGrayRejectsAMismatchedBuffer) {
    const Bytes five(5, 0);
    EXPECT_THROW(encode_png_gray(five, 2, 3), ImageError);
    EXPECT_THROW(encode_png_gray(five, 0, 5), ImageError);
}

// The end-to-end path an upload takes: a drawing saved as JPEG must give the model nearly the
// same 28x28 as the same drawing saved as PNG (compression ringing stays under the noise floor).
TEST(ImageTest, JpegDrawingPreprocessesLikePng) {
    Image drawing = make_image(120, 120, 1);
    std::fill(drawing.samples.begin(), drawing.samples.end(), 250);
    auto ink = [&](int x, int y) { drawing.samples[static_cast<std::size_t>(y) * 120 + x] = 20; };
    for (int y = 20; y < 32; ++y) {
        for (int x = 30; x < 90; ++x) ink(x, y);  // the bar of a 7
    }
    for (int y = 32; y < 100; ++y) {
        const int x = 88 - (y - 32) / 2;  // its stem, leaning left
        for (int dx = -6; dx < 6; ++dx) ink(x + dx, y);
    }
    const Preprocessed from_png = preprocess_digit(decode_image(encode_png(drawing)));
    const Preprocessed from_jpeg = preprocess_digit(decode_image(encode_jpeg(drawing, 85)));
    ASSERT_TRUE(from_png.found);
    ASSERT_TRUE(from_jpeg.found);
    int worst = 0;
    double total = 0.0;
    for (int i = 0; i < kMnistPixels; ++i) {
        const int d = std::abs(from_png.pixels[static_cast<std::size_t>(i)] -
                               from_jpeg.pixels[static_cast<std::size_t>(i)]);
        worst = std::max(worst, d);
        total += d;
    }
    EXPECT_LE(total / kMnistPixels, 4.0);
    EXPECT_LE(worst, 64);
}

}  // namespace
}  // namespace digitpipe::infer
