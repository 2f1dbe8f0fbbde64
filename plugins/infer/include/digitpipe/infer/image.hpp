// Image decoding for the infer stage: a user's upload or canvas drawing arrives as the bytes of a
// PNG or JPEG file (never trusted: it comes from the network) and becomes 8-bit samples that
// preprocess.hpp turns into an MNIST-style 28x28 input. Also a PNG encoder for 8-bit images, so
// the dashboard can show "what the model saw" and tests can make inputs.
// PNG is read with libpng's simplified API and JPEG with libjpeg(-turbo); neither library's
// error handling ever jumps over a C++ destructor (see image.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

namespace digitpipe::infer {

// Input that is not an image we accept: empty, too large, not PNG or JPEG, truncated or corrupt.
// what() says exactly what was wrong, e.g. "not a PNG or JPEG image (first bytes 47 49 46 38)",
// "PNG is 10000x10000, larger than the 4096x4096 limit", "truncated PNG: read beyond end of
// data"; it is meant for the user (the gateway answers 400 with it).
class ImageError : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

// What decode_image accepts. Dimensions are checked from the file's header, before any pixel
// buffer is allocated, so a small file that claims to be huge costs nothing. The defaults admit
// any phone photo scaled for the web and every canvas the dashboard can draw.
// Invariant (caller's): every limit > 0.
struct DecodeLimits {
    std::size_t max_bytes = std::size_t{8} << 20;       // encoded size, 8 MiB
    int max_width = 4096;                               // pixels, after EXIF orientation
    int max_height = 4096;                              // pixels, after EXIF orientation
    std::uint64_t max_pixels = std::uint64_t{1} << 24;  // width x height, 16 Mi
};

// A decoded image: 8 bits per sample, rows top to bottom, samples of a pixel interleaved.
// channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. Alpha is straight (colour not premultiplied),
// 255 opaque. Value type.
// Invariant (as decode_image returns it): width, height > 0; channels in 1..4;
// samples.size() == width * height * channels.
struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;
    std::vector<std::uint8_t> samples;
};

// Decodes a PNG or JPEG file held in memory. The format comes from the magic bytes (PNG's
// 8-byte signature, JPEG's FF D8 FF), never from a name or a declared content type.
// PNG: palette expanded, 16-bit samples reduced to 8 (a 16-bit file without gamma information
// is taken as sRGB-encoded, as an 8-bit one is; libpng's default would take it as linear and
// brighten it), tRNS becomes an alpha channel, gamma (gAMA, sRGB, iCCP) is converted to sRGB.
// JPEG: gray stays gray, YCbCr and RGB become RGB, CMYK/YCCK become RGB; the EXIF orientation
// tag, when present, is applied, so a phone photo comes out upright as its viewer shows it.
// throws: ImageError naming the problem: zero bytes; more than limits.max_bytes; not PNG or
// JPEG; dimensions or pixel count over the limits; truncated data (JPEG's "premature end", which
// libjpeg itself only warns about and fills with grey); corrupt data; a progressive JPEG with an
// absurd number of scans (a CPU bomb).
// Thread-safety: pure function; safe to call from many threads at once.
Image decode_image(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

// Encodes an image as PNG (8-bit; gray, gray + alpha, RGB or RGBA by image.channels).
// requires: the Image invariant above.
// throws: ImageError when the invariant does not hold or libpng fails.
// Thread-safety: pure function.
std::vector<std::uint8_t> encode_png(const Image& image);

// Encodes a row-major width x height 8-bit gray image as PNG (the 28x28 "what the model saw",
// test inputs).
// requires: width, height > 0 and pixels.size() == width * height (else ImageError).
// Thread-safety: pure function.
std::vector<std::uint8_t> encode_png_gray(std::span<const std::uint8_t> pixels, int width,
                                          int height);

}  // namespace digitpipe::infer
