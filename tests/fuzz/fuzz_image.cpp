// Fuzzes what a user uploads: bytes decoded as PNG or JPEG with the infer stage's default
// limits (DecodeLimits{}, the same values as the stage's max_image_* defaults), then
// preprocessed to the model's 28x28 input, as infer.predict does.
// Properties: only ImageError escapes decode_image; a decoded image satisfies the Image
// invariant and the limits; the 28x28 result satisfies the Preprocessed invariant; a small
// decoded image survives a PNG round trip unchanged (encode_png is lossless).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "digitpipe/infer/image.hpp"
#include "digitpipe/infer/preprocess.hpp"
#include "fuzz_common.hpp"

namespace {

namespace infer = digitpipe::infer;

// Above this many pixels the PNG round trip is skipped: it only slows the fuzzer down.
constexpr std::size_t kMaxRoundTripPixels = 64 * 64;

void check_preprocessed(const infer::Preprocessed& result, const infer::Image& image) {
    if (!result.found) {
        DIGITPIPE_FUZZ_CHECK(std::all_of(result.pixels.begin(), result.pixels.end(),
                                         [](std::uint8_t p) { return p == 0; }));
        DIGITPIPE_FUZZ_CHECK(std::all_of(result.input.begin(), result.input.end(),
                                         [](float v) { return v == 0.0F; }));
        return;
    }
    DIGITPIPE_FUZZ_CHECK(result.source != infer::InkSource::kNone);
    DIGITPIPE_FUZZ_CHECK(result.box.x >= 0 && result.box.y >= 0 && result.box.width >= 1 &&
                         result.box.height >= 1);
    DIGITPIPE_FUZZ_CHECK(result.box.x + result.box.width <= image.width);
    DIGITPIPE_FUZZ_CHECK(result.box.y + result.box.height <= image.height);
    // The strongest pixel is scaled to full ink (see preprocess.hpp).
    DIGITPIPE_FUZZ_CHECK(*std::max_element(result.pixels.begin(), result.pixels.end()) == 255);
    for (std::size_t i = 0; i < result.pixels.size(); ++i) {
        DIGITPIPE_FUZZ_CHECK(result.input[i] == result.pixels[i] / 255.0F);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const infer::DecodeLimits limits;
    infer::Image image;
    try {
        image = infer::decode_image(std::span<const std::uint8_t>(data, size), limits);
    } catch (const infer::ImageError& error) {
        DIGITPIPE_FUZZ_CHECK(error.what()[0] != '\0');
        return 0;
    }
    DIGITPIPE_FUZZ_CHECK(image.width > 0 && image.height > 0);
    DIGITPIPE_FUZZ_CHECK(image.width <= limits.max_width && image.height <= limits.max_height);
    DIGITPIPE_FUZZ_CHECK(static_cast<std::uint64_t>(image.width) * image.height <=
                         limits.max_pixels);
    DIGITPIPE_FUZZ_CHECK(image.channels >= 1 && image.channels <= 4);
    DIGITPIPE_FUZZ_CHECK(image.samples.size() ==
                         static_cast<std::size_t>(image.width) * image.height * image.channels);

    check_preprocessed(infer::preprocess_digit(image), image);

    if (static_cast<std::size_t>(image.width) * image.height <= kMaxRoundTripPixels) {
        const auto png = infer::encode_png(image);
        const infer::Image again = infer::decode_image(png, limits);
        DIGITPIPE_FUZZ_CHECK(again.width == image.width && again.height == image.height);
        DIGITPIPE_FUZZ_CHECK(again.channels == image.channels);
        DIGITPIPE_FUZZ_CHECK(again.samples == image.samples);
    }
    return 0;
}
