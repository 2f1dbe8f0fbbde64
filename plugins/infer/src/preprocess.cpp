// MNIST-style preprocessing (see preprocess.hpp): ink extraction, crop, anti-aliased scaling to
// a 20 px box, whole-pixel centring by centre of mass in 28x28.
#include "digitpipe/infer/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace digitpipe::infer {
namespace {

// Rec. 601 luma weights (PIL's "L" conversion).
constexpr float kLumaRed = 0.299F;
constexpr float kLumaGreen = 0.587F;
constexpr float kLumaBlue = 0.114F;
constexpr float kMaxSample = 255.0F;
// The border ring is 1 + min(width, height) / kBorderDivisor pixels thick: one pixel on a small
// canvas, a few on a photo, where the very edge may carry a scanner or crop artefact.
constexpr int kBorderDivisor = 64;
// A border whose median alpha is below this is "mostly transparent"; a pixel at or above it
// counts as opaque when measuring the background's luminance.
constexpr float kHalfOpaque = 0.5F;
// A background at least this light means dark ink on a light background.
constexpr float kLightBackground = 0.5F;
constexpr int kLevels = 256;  // histogram bins: one per 8-bit level

void check_image(const Image& image) {
    if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
        image.samples.size() !=
            static_cast<std::size_t>(image.width) * image.height * image.channels) {
        throw std::invalid_argument(
            "preprocess: not a valid image: " + std::to_string(image.width) + "x" +
            std::to_string(image.height) + "x" + std::to_string(image.channels) + " with " +
            std::to_string(image.samples.size()) + " samples");
    }
}

bool has_alpha(int channels) {
    return channels == 2 || channels == 4;
}

float luminance(const std::uint8_t* pixel, int channels) {
    if (channels < 3) return pixel[0] / kMaxSample;
    return (kLumaRed * pixel[0] + kLumaGreen * pixel[1] + kLumaBlue * pixel[2]) / kMaxSample;
}

float alpha(const std::uint8_t* pixel, int channels) {
    return has_alpha(channels) ? pixel[channels - 1] / kMaxSample : 1.0F;
}

// Median of values in [0, 1] at 8-bit resolution, from a histogram (O(1) memory; borders of
// large photos hold thousands of pixels).
class MedianHistogram {
 public:
    void add(float value) {
        ++counts_[static_cast<std::size_t>(std::clamp(std::lround(value * kMaxSample), 0L, 255L))];
        ++total_;
    }
    bool empty() const { return total_ == 0; }
    // The lower median.
    float median() const {
        std::size_t seen = 0;
        for (int level = 0; level < kLevels; ++level) {
            seen += counts_[static_cast<std::size_t>(level)];
            if (2 * seen >= total_) return static_cast<float>(level) / kMaxSample;
        }
        return 1.0F;
    }

 private:
    std::array<std::size_t, kLevels> counts_{};
    std::size_t total_ = 0;
};

// Calls visit(pixel index) for each pixel of the outer ring, each once.
template <typename Visit>
void for_each_border_pixel(int width, int height, Visit visit) {
    const int ring =
        std::min(1 + std::min(width, height) / kBorderDivisor, std::min(width, height));
    for (int y = 0; y < height; ++y) {
        const std::size_t row = static_cast<std::size_t>(y) * width;
        if (y < ring || y >= height - ring) {
            for (int x = 0; x < width; ++x) visit(row + x);
        } else {
            for (int x = 0; x < std::min(ring, width); ++x) visit(row + x);
            for (int x = std::max(ring, width - ring); x < width; ++x) visit(row + x);
        }
    }
}

// One output sample of a 1-D resampling: a weighted sum of source samples.
struct Tap {
    int index;
    float weight;
};

// The taps that resample `src` samples onto `dst`, for each output sample. Shrinking: the
// output sample i covers [i, i + 1) x src / dst of the source, and each source sample weighs its
// overlap (an exact box filter, so mass and coverage are kept). Enlarging: bilinear between the
// two nearest source centres, clamped at the ends (the crop's edge pixels are squares of ink).
std::vector<std::vector<Tap>> make_taps(int src, int dst) {
    std::vector<std::vector<Tap>> taps(static_cast<std::size_t>(dst));
    const double ratio = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
        auto& out = taps[static_cast<std::size_t>(i)];
        if (dst <= src) {
            const double begin = i * ratio;
            const double end = (i + 1) * ratio;
            const int last = std::min(src - 1, static_cast<int>(std::ceil(end)) - 1);
            for (int k = static_cast<int>(std::floor(begin)); k <= last; ++k) {
                const double overlap =
                    std::min(end, k + 1.0) - std::max(begin, static_cast<double>(k));
                if (overlap > 0.0) out.push_back({k, static_cast<float>(overlap / ratio)});
            }
        } else {
            const double centre = (i + 0.5) * ratio - 0.5;
            const double floor = std::floor(centre);
            const auto fraction = static_cast<float>(centre - floor);
            const int k = static_cast<int>(floor);
            out.push_back({std::clamp(k, 0, src - 1), 1.0F - fraction});
            out.push_back({std::clamp(k + 1, 0, src - 1), fraction});
        }
    }
    return taps;
}

InkBox find_ink_box(const InkMap& map) {
    int x0 = map.width, y0 = map.height, x1 = -1, y1 = -1;
    for (int y = 0; y < map.height; ++y) {
        const float* row = &map.ink[static_cast<std::size_t>(y) * map.width];
        for (int x = 0; x < map.width; ++x) {
            if (row[x] > 0.0F) {
                x0 = std::min(x0, x);
                x1 = std::max(x1, x);
                y0 = std::min(y0, y);
                y1 = y;
            }
        }
    }
    return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

}  // namespace

InkMap extract_ink(const Image& image) {
    check_image(image);
    const int channels = image.channels;
    const std::size_t count = static_cast<std::size_t>(image.width) * image.height;
    const std::uint8_t* samples = image.samples.data();
    auto pixel = [&](std::size_t i) { return samples + i * channels; };

    InkMap map;
    map.width = image.width;
    map.height = image.height;
    map.ink.assign(count, 0.0F);
    std::vector<float>& ink = map.ink;

    if (has_alpha(channels)) {
        MedianHistogram border_alpha;
        for_each_border_pixel(image.width, image.height,
                              [&](std::size_t i) { border_alpha.add(alpha(pixel(i), channels)); });
        if (border_alpha.median() < kHalfOpaque) {
            map.source = InkSource::kAlpha;
            for (std::size_t i = 0; i < count; ++i) ink[i] = alpha(pixel(i), channels);
        }
    }
    if (map.source != InkSource::kAlpha) {
        // The background is what the (opaque part of the) border shows.
        MedianHistogram border_luma;
        for_each_border_pixel(image.width, image.height, [&](std::size_t i) {
            if (alpha(pixel(i), channels) >= kHalfOpaque) {
                border_luma.add(luminance(pixel(i), channels));
            }
        });
        const float background = border_luma.empty() ? 1.0F : border_luma.median();
        const bool dark_on_light = background >= kLightBackground;
        map.source = dark_on_light ? InkSource::kDarkOnLight : InkSource::kLightOnDark;
        for (std::size_t i = 0; i < count; ++i) {
            const float a = alpha(pixel(i), channels);
            // Composited over the background, so a transparent hole reads as background.
            const float luma = a * luminance(pixel(i), channels) + (1.0F - a) * background;
            ink[i] = std::max(0.0F, dark_on_light ? background - luma : luma - background);
        }
    }

    const float contrast = *std::max_element(ink.begin(), ink.end());
    if (contrast < kMinContrast) {
        std::fill(ink.begin(), ink.end(), 0.0F);
        map.source = InkSource::kNone;
        return map;
    }
    for (float& v : ink) {
        const float relative = v / contrast;
        v = relative <= kNoiseFloor ? 0.0F : (relative - kNoiseFloor) / (1.0F - kNoiseFloor);
    }
    return map;
}

Preprocessed preprocess_digit(const Image& image) {
    const InkMap map = extract_ink(image);
    Preprocessed result;
    if (map.source == InkSource::kNone) return result;

    const InkBox box = find_ink_box(map);
    // The longer side becomes exactly kDigitBox; the shorter keeps the aspect ratio, rounded.
    const double scale = static_cast<double>(kDigitBox) / std::max(box.width, box.height);
    const int width = box.width >= box.height
                          ? kDigitBox
                          : std::max(1, static_cast<int>(std::lround(box.width * scale)));
    const int height = box.height >= box.width
                           ? kDigitBox
                           : std::max(1, static_cast<int>(std::lround(box.height * scale)));

    // Separable resampling: rows of the crop to `width` columns, then columns to `height` rows.
    const auto taps_x = make_taps(box.width, width);
    const auto taps_y = make_taps(box.height, height);
    std::vector<float> rows(static_cast<std::size_t>(box.height) * width);
    for (int y = 0; y < box.height; ++y) {
        const float* src = &map.ink[static_cast<std::size_t>(box.y + y) * map.width + box.x];
        for (int x = 0; x < width; ++x) {
            float sum = 0.0F;
            for (const Tap& tap : taps_x[static_cast<std::size_t>(x)]) {
                sum += tap.weight * src[tap.index];
            }
            rows[static_cast<std::size_t>(y) * width + x] = sum;
        }
    }
    std::vector<float> digit(static_cast<std::size_t>(height) * width);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            float sum = 0.0F;
            for (const Tap& tap : taps_y[static_cast<std::size_t>(y)]) {
                sum += tap.weight * rows[static_cast<std::size_t>(tap.index) * width + x];
            }
            digit[static_cast<std::size_t>(y) * width + x] = sum;
        }
    }

    // Strongest pixel to 1 (see the header); the centre of mass does not change with it.
    const float peak = *std::max_element(digit.begin(), digit.end());
    double mass = 0.0, moment_x = 0.0, moment_y = 0.0;
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            float& v = digit[static_cast<std::size_t>(y) * width + x];
            v /= peak;
            mass += v;
            moment_x += static_cast<double>(v) * x;
            moment_y += static_cast<double>(v) * y;
        }
    }
    const int offset_x = std::clamp(
        static_cast<int>(std::lround(kMnistCentreOfMass - moment_x / mass)), 0, kMnistSide - width);
    const int offset_y =
        std::clamp(static_cast<int>(std::lround(kMnistCentreOfMass - moment_y / mass)), 0,
                   kMnistSide - height);

    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const float v = std::clamp(digit[static_cast<std::size_t>(y) * width + x], 0.0F, 1.0F);
            const auto level = static_cast<std::uint8_t>(std::lround(v * kMaxSample));
            const std::size_t i =
                static_cast<std::size_t>(offset_y + y) * kMnistSide + (offset_x + x);
            result.pixels[i] = level;
            result.input[i] = level / kMaxSample;
        }
    }
    result.found = true;
    result.source = map.source;
    result.box = box;
    return result;
}

}  // namespace digitpipe::infer
