// Fuzzes preprocessing alone, on raw images the decoders could produce, without the cost of
// encoding them (fuzz_image covers the decoders and the two together).
// Input: byte 0 picks the channels (1..4), bytes 1-2 the width and 3-4 the height (1..160
// each, little-endian modulo 160 plus 1), the rest are the samples (cycled when short, so any
// input gives a whole image). Properties: the Preprocessed invariant (see fuzz_image.cpp) and
// extract_ink's InkMap invariant.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "digitpipe/infer/preprocess.hpp"
#include "fuzz_common.hpp"

namespace {

namespace infer = digitpipe::infer;

constexpr std::size_t kHeaderBytes = 5;
constexpr int kMaxSide = 160;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < kHeaderBytes) return 0;
    infer::Image image;
    image.channels = 1 + data[0] % 4;
    image.width = 1 + (data[1] | (data[2] << 8)) % kMaxSide;
    image.height = 1 + (data[3] | (data[4] << 8)) % kMaxSide;
    const std::size_t count = static_cast<std::size_t>(image.width) * image.height * image.channels;
    image.samples.resize(count);
    const std::size_t available = size - kHeaderBytes;
    for (std::size_t i = 0; i < count; ++i) {
        image.samples[i] = available == 0 ? 0 : data[kHeaderBytes + i % available];
    }

    const infer::InkMap map = infer::extract_ink(image);
    DIGITPIPE_FUZZ_CHECK(map.width == image.width && map.height == image.height);
    DIGITPIPE_FUZZ_CHECK(map.ink.size() == static_cast<std::size_t>(image.width) * image.height);
    DIGITPIPE_FUZZ_CHECK(std::all_of(map.ink.begin(), map.ink.end(),
                                     [](float v) { return v >= 0.0F && v <= 1.0F; }));
    if (map.source == infer::InkSource::kNone) {
        DIGITPIPE_FUZZ_CHECK(
            std::all_of(map.ink.begin(), map.ink.end(), [](float v) { return v == 0.0F; }));
    }

    const infer::Preprocessed result = infer::preprocess_digit(image);
    DIGITPIPE_FUZZ_CHECK(result.found == (map.source != infer::InkSource::kNone));
    if (!result.found) {
        DIGITPIPE_FUZZ_CHECK(std::all_of(result.pixels.begin(), result.pixels.end(),
                                         [](std::uint8_t p) { return p == 0; }));
        return 0;
    }
    DIGITPIPE_FUZZ_CHECK(result.source == map.source);
    DIGITPIPE_FUZZ_CHECK(result.box.x >= 0 && result.box.y >= 0 && result.box.width >= 1 &&
                         result.box.height >= 1);
    DIGITPIPE_FUZZ_CHECK(result.box.x + result.box.width <= image.width);
    DIGITPIPE_FUZZ_CHECK(result.box.y + result.box.height <= image.height);
    DIGITPIPE_FUZZ_CHECK(*std::max_element(result.pixels.begin(), result.pixels.end()) == 255);
    for (std::size_t i = 0; i < result.pixels.size(); ++i) {
        DIGITPIPE_FUZZ_CHECK(result.input[i] == result.pixels[i] / 255.0F);
    }
    return 0;
}
