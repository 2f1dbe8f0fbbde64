// Unit tests of MNIST-style preprocessing (plugins/infer preprocess.hpp): the longer side
// becomes 20 px with the aspect ratio kept, the centre of mass lands within half a pixel of
// (14, 14), dark-on-light, light-on-dark, alpha and coloured drawings of one shape give one
// result, blank images give "no digit found", noise stays out of the crop, and a small case
// matches a 28x28 array worked out by hand. Shapes are drawn here with anti-aliasing.
#include "digitpipe/infer/preprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace digitpipe::infer {
namespace {

// One 8-bit level: the same drawing in two polarities or layouts may differ by rounding.
constexpr int kLevelTolerance = 1;
// Coloured ink is quantised to 8 bits per channel before its luminance is taken: a little more.
constexpr int kColourTolerance = 3;
// Whole-pixel centring leaves the centre of mass at most half a pixel from the target.
constexpr double kCentringTolerance = 0.5;
// Anti-aliasing: each pixel's coverage is the fraction of kSupersample^2 sample points inside.
constexpr int kSupersample = 4;

// Shapes drawn as coverage in [0, 1] on a width x height field, pixel (x, y) spanning
// [x, x + 1) x [y, y + 1).
class Canvas {
 public:
    Canvas(int width, int height)
        : width_(width), height_(height), coverage_(static_cast<std::size_t>(width) * height) {}

    int width() const { return width_; }
    int height() const { return height_; }
    float at(int x, int y) const { return coverage_[static_cast<std::size_t>(y) * width_ + x]; }

    // The axis-aligned rectangle [x0, x1) x [y0, y1).
    Canvas& rect(double x0, double y0, double x1, double y1) {
        return paint(x0, y0, x1, y1,
                     [=](double x, double y) { return x >= x0 && x < x1 && y >= y0 && y < y1; });
    }
    Canvas& disc(double cx, double cy, double r) {
        return paint(cx - r, cy - r, cx + r, cy + r,
                     [=](double x, double y) { return std::hypot(x - cx, y - cy) <= r; });
    }
    // A stroke of the given thickness with round ends, as a pen draws it.
    Canvas& line(double x0, double y0, double x1, double y1, double thickness) {
        const double r = thickness / 2;
        return paint(std::min(x0, x1) - r, std::min(y0, y1) - r, std::max(x0, x1) + r,
                     std::max(y0, y1) + r, [=](double x, double y) {
                         const double dx = x1 - x0, dy = y1 - y0;
                         const double t = std::clamp(
                             ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
                         return std::hypot(x - (x0 + t * dx), y - (y0 + t * dy)) <= r;
                     });
    }

 private:
    Canvas& paint(double x0, double y0, double x1, double y1,
                  const std::function<bool(double, double)>& inside) {
        const int left = std::max(0, static_cast<int>(std::floor(x0)));
        const int top = std::max(0, static_cast<int>(std::floor(y0)));
        const int right = std::min(width_, static_cast<int>(std::ceil(x1)) + 1);
        const int bottom = std::min(height_, static_cast<int>(std::ceil(y1)) + 1);
        for (int y = top; y < bottom; ++y) {
            for (int x = left; x < right; ++x) {
                int hits = 0;
                for (int sy = 0; sy < kSupersample; ++sy) {
                    for (int sx = 0; sx < kSupersample; ++sx) {
                        hits +=
                            inside(x + (sx + 0.5) / kSupersample, y + (sy + 0.5) / kSupersample);
                    }
                }
                float& c = coverage_[static_cast<std::size_t>(y) * width_ + x];
                c = std::max(c, static_cast<float>(hits) / (kSupersample * kSupersample));
            }
        }
        return *this;
    }

    int width_;
    int height_;
    std::vector<float> coverage_;
};

std::uint8_t level(float v) {
    return static_cast<std::uint8_t>(std::lround(v * 255.0F));
}

// Renders the canvas: each pixel is paper blended towards ink by its coverage, in `channels`
// samples (ink and paper given as RGBA; gray layouts use the first sample, alpha the last).
Image render(const Canvas& canvas, int channels, std::array<float, 4> ink,
             std::array<float, 4> paper) {
    Image image;
    image.width = canvas.width();
    image.height = canvas.height();
    image.channels = channels;
    image.samples.reserve(static_cast<std::size_t>(image.width) * image.height * channels);
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < image.width; ++x) {
            const float c = canvas.at(x, y);
            auto mix = [&](int i) { return level(paper[i] + c * (ink[i] - paper[i])); };
            if (channels <= 2) image.samples.push_back(mix(0));
            if (channels >= 3) {
                for (int i = 0; i < 3; ++i) image.samples.push_back(mix(i));
            }
            if (channels == 2 || channels == 4) image.samples.push_back(mix(3));
        }
    }
    return image;
}

constexpr std::array<float, 4> kBlack = {0, 0, 0, 1};
constexpr std::array<float, 4> kWhite = {1, 1, 1, 1};
constexpr std::array<float, 4> kTransparentBlack = {0, 0, 0, 0};

Image dark_on_light(const Canvas& canvas) {
    return render(canvas, 1, kBlack, kWhite);
}

// A digit-like shape well away from the image centre: a 7 with a heavy bar in the upper left
// of a 200x150 field.
Canvas make_seven() {
    Canvas canvas(200, 150);
    canvas.line(20, 15, 90, 15, 9).line(90, 15, 45, 110, 9).line(40, 60, 75, 60, 6);
    return canvas;
}

// Centre of mass of a 28x28 result, pixel centres at integer indices.
std::array<double, 2> centre_of_mass(const Preprocessed& p) {
    double mass = 0, mx = 0, my = 0;
    for (int y = 0; y < kMnistSide; ++y) {
        for (int x = 0; x < kMnistSide; ++x) {
            const double v = p.pixels[static_cast<std::size_t>(y * kMnistSide + x)];
            mass += v;
            mx += v * x;
            my += v * y;
        }
    }
    return {mx / mass, my / mass};
}

// Bounding box of the non-zero pixels of a 28x28 result.
InkBox result_box(const Preprocessed& p) {
    int x0 = kMnistSide, y0 = kMnistSide, x1 = -1, y1 = -1;
    for (int y = 0; y < kMnistSide; ++y) {
        for (int x = 0; x < kMnistSide; ++x) {
            if (p.pixels[static_cast<std::size_t>(y * kMnistSide + x)] == 0) continue;
            x0 = std::min(x0, x);
            y0 = std::min(y0, y);
            x1 = std::max(x1, x);
            y1 = std::max(y1, y);
        }
    }
    return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

int max_difference(const Preprocessed& a, const Preprocessed& b) {
    int worst = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
        worst = std::max(worst, std::abs(a.pixels[i] - b.pixels[i]));
    }
    return worst;
}

TEST(PreprocessTest, LongerSideBecomes20PixelsKeepingTheAspectRatio) {
    Canvas wide(300, 200);
    wide.rect(50, 50, 250, 150);  // 200x100
    const Preprocessed bar = preprocess_digit(dark_on_light(wide));
    ASSERT_TRUE(bar.found);
    EXPECT_EQ(bar.box.x, 50);
    EXPECT_EQ(bar.box.y, 50);
    EXPECT_EQ(bar.box.width, 200);
    EXPECT_EQ(bar.box.height, 100);
    const InkBox box = result_box(bar);
    EXPECT_EQ(box.width, 20);
    EXPECT_EQ(box.height, 10);
    for (int y = box.y; y < box.y + box.height; ++y) {
        for (int x = box.x; x < box.x + box.width; ++x) {
            EXPECT_EQ(bar.pixels[static_cast<std::size_t>(y * kMnistSide + x)], 255);
        }
    }

    Canvas tall(50, 150);
    tall.rect(20, 20, 30, 120);  // 10x100, a "1"
    const InkBox one = result_box(preprocess_digit(dark_on_light(tall)));
    EXPECT_EQ(one.width, 2);
    EXPECT_EQ(one.height, 20);
}

TEST(PreprocessTest, CentreOfMassLandsAt14) {
    Canvas ring(120, 90);
    ring.disc(100, 20, 12).line(100, 20, 100, 80, 6);  // a heavy head and a thin tail, top right
    Canvas corner(64, 64);
    corner.rect(0, 0, 30, 6).rect(0, 0, 6, 40);  // an L touching the top-left corner
    for (const Canvas& canvas : {make_seven(), ring, corner}) {
        const Preprocessed p = preprocess_digit(dark_on_light(canvas));
        ASSERT_TRUE(p.found);
        const auto [cx, cy] = centre_of_mass(p);
        EXPECT_NEAR(cx, kMnistCentreOfMass, kCentringTolerance);
        EXPECT_NEAR(cy, kMnistCentreOfMass, kCentringTolerance);
        const InkBox box = result_box(p);
        EXPECT_EQ(std::max(box.width, box.height), kDigitBox);
    }
}

TEST(PreprocessTest, DarkOnLightAndLightOnDarkGiveTheSameDigit) {
    const Canvas seven = make_seven();
    const Preprocessed paper = preprocess_digit(dark_on_light(seven));
    const Preprocessed chalk = preprocess_digit(render(seven, 1, kWhite, kBlack));
    ASSERT_TRUE(paper.found);
    ASSERT_TRUE(chalk.found);
    EXPECT_EQ(paper.source, InkSource::kDarkOnLight);
    EXPECT_EQ(chalk.source, InkSource::kLightOnDark);
    EXPECT_LE(max_difference(paper, chalk), kLevelTolerance);
    // Grey pencil on grey paper: the contrast is stretched to the same digit.
    const Preprocessed pencil =
        preprocess_digit(render(seven, 1, {0.45F, 0, 0, 1}, {0.8F, 0, 0, 1}));
    EXPECT_LE(max_difference(paper, pencil), kColourTolerance);
}

TEST(PreprocessTest, AlphaStrokesOnTransparencyAreInkWhateverTheirColour) {
    const Canvas seven = make_seven();
    const Preprocessed reference = preprocess_digit(dark_on_light(seven));
    // A canvas export: black strokes on transparent black. By luminance alone everything would
    // be black; the alpha channel says where the strokes are.
    const Preprocessed canvas_export =
        preprocess_digit(render(seven, 4, kBlack, kTransparentBlack));
    EXPECT_EQ(canvas_export.source, InkSource::kAlpha);
    EXPECT_LE(max_difference(reference, canvas_export), kLevelTolerance);
    // White or blue strokes on transparent white, and gray + alpha: the same digit.
    const Preprocessed white = preprocess_digit(render(seven, 4, kWhite, {1, 1, 1, 0}));
    EXPECT_LE(max_difference(reference, white), kLevelTolerance);
    const Preprocessed blue = preprocess_digit(render(seven, 4, {0, 0, 1, 1}, {1, 1, 1, 0}));
    EXPECT_LE(max_difference(reference, blue), kLevelTolerance);
    const Preprocessed gray_alpha = preprocess_digit(render(seven, 2, kBlack, kTransparentBlack));
    EXPECT_LE(max_difference(reference, gray_alpha), kLevelTolerance);
    // The same strokes composited on opaque white: an ordinary dark-on-light image.
    const Preprocessed flattened = preprocess_digit(render(seven, 4, kBlack, kWhite));
    EXPECT_EQ(flattened.source, InkSource::kDarkOnLight);
    EXPECT_LE(max_difference(reference, flattened), kLevelTolerance);
}

TEST(PreprocessTest, TransparentHoleInAnOpaqueImageIsBackground) {
    const Canvas seven = make_seven();
    const Preprocessed reference = preprocess_digit(render(seven, 4, kBlack, kWhite));
    Image holed = render(seven, 4, kBlack, kWhite);
    for (int y = 120; y < 140; ++y) {
        for (int x = 150; x < 190; ++x) {
            std::fill_n(&holed.samples[(static_cast<std::size_t>(y) * holed.width + x) * 4], 4, 0);
        }
    }
    const Preprocessed p = preprocess_digit(holed);
    EXPECT_EQ(p.box.width, reference.box.width);
    EXPECT_EQ(p.box.height, reference.box.height);
    EXPECT_LE(max_difference(reference, p), kLevelTolerance);
}

TEST(PreprocessTest, ColouredInkOnWhiteIsInk) {
    const Canvas seven = make_seven();
    const Preprocessed reference = preprocess_digit(dark_on_light(seven));
    const Preprocessed blue_pen = preprocess_digit(render(seven, 3, {0.1F, 0.2F, 0.8F, 1}, kWhite));
    EXPECT_EQ(blue_pen.source, InkSource::kDarkOnLight);
    EXPECT_LE(max_difference(reference, blue_pen), kColourTolerance);
}

TEST(PreprocessTest, BlankImagesHaveNoDigit) {
    std::vector<Image> blanks;
    for (const std::array<float, 4>& colour :
         {kWhite, kBlack, std::array<float, 4>{0.5F, 0.5F, 0.5F, 1}, kTransparentBlack}) {
        blanks.push_back(render(Canvas(40, 30), 4, colour, colour));
        blanks.push_back(render(Canvas(40, 30), 1, colour, colour));
    }
    // Paper with +-8 levels of grain: noise, not a digit.
    Image grain = dark_on_light(Canvas(64, 64));
    std::uint32_t state = 12345;
    for (auto& s : grain.samples) {
        state = state * 1664525U + 1013904223U;
        s = static_cast<std::uint8_t>(240 + static_cast<int>(state >> 28));
    }
    blanks.push_back(grain);
    for (const Image& image : blanks) {
        const Preprocessed p = preprocess_digit(image);
        EXPECT_FALSE(p.found);
        EXPECT_EQ(p.source, InkSource::kNone);
        EXPECT_TRUE(std::all_of(p.pixels.begin(), p.pixels.end(), [](auto v) { return v == 0; }));
        EXPECT_TRUE(std::all_of(p.input.begin(), p.input.end(), [](auto v) { return v == 0; }));
    }
}

TEST(PreprocessTest, GrainDoesNotWidenTheCrop) {
    Canvas canvas(100, 100);
    canvas.rect(30, 40, 70, 60);
    Image image = dark_on_light(canvas);
    std::uint32_t state = 777;
    for (auto& s : image.samples) {
        state = state * 1664525U + 1013904223U;
        const int grain = static_cast<int>(state >> 27) - 16;  // -16..15 levels
        s = static_cast<std::uint8_t>(std::clamp(s + grain, 0, 255));
    }
    const Preprocessed p = preprocess_digit(image);
    ASSERT_TRUE(p.found);
    EXPECT_EQ(p.box.x, 30);
    EXPECT_EQ(p.box.y, 40);
    EXPECT_EQ(p.box.width, 40);
    EXPECT_EQ(p.box.height, 20);
}

TEST(PreprocessTest, SinglePixelInkIsFound) {
    Canvas canvas(28, 28);
    canvas.rect(3, 5, 4, 6);
    const Preprocessed p = preprocess_digit(dark_on_light(canvas));
    ASSERT_TRUE(p.found);
    EXPECT_EQ(p.box.x, 3);
    EXPECT_EQ(p.box.y, 5);
    EXPECT_EQ(p.box.width, 1);
    EXPECT_EQ(p.box.height, 1);
    const InkBox box = result_box(p);  // a dot scaled up like any digit: a 20x20 block
    EXPECT_EQ(box.width, 20);
    EXPECT_EQ(box.height, 20);
    const auto [cx, cy] = centre_of_mass(p);
    EXPECT_NEAR(cx, kMnistCentreOfMass, kCentringTolerance);
    EXPECT_NEAR(cy, kMnistCentreOfMass, kCentringTolerance);
}

TEST(PreprocessTest, ThinStrokesOfALargeImageKeepFullStrength) {
    Canvas canvas(600, 600);
    canvas.line(40, 560, 560, 40, 3);  // 3 px wide over 520 px: about 0.15 coverage when scaled
    const Preprocessed p = preprocess_digit(dark_on_light(canvas));
    ASSERT_TRUE(p.found);
    EXPECT_EQ(*std::max_element(p.pixels.begin(), p.pixels.end()), 255);
}

// One character per level of the hand-computed case; '?' for any other level.
char symbol(std::uint8_t level) {
    switch (level) {
        case 0:
            return '.';
        case 85:
            return '+';
        case 142:
            return '*';
        case 255:
            return '#';
        default:
            return '?';
    }
}

// A 30x30 L (bands 5 px wide) in a 40x40 image, scaled by 2/3: each output pixel covers
// 1.5x1.5 source pixels, so the band edges fall mid-pixel: coverage 1/3 (85) along the edges,
// 5/9 (142) where they meet. In the 20x20 block the centre of mass is (5.73, 13.27), so the
// whole-pixel shift to 14 is (8, 1).
TEST(PreprocessTest, SmallCaseMatchesTheHandComputedArray) {
    Canvas canvas(40, 40);
    canvas.rect(5, 5, 10, 35).rect(5, 30, 35, 35);
    const Preprocessed p = preprocess_digit(dark_on_light(canvas));
    ASSERT_TRUE(p.found);
    std::vector<std::string> expected(kMnistSide, std::string(kMnistSide, '.'));
    for (int y = 1; y <= 16; ++y) {
        expected[static_cast<std::size_t>(y)] = "........###+................";
    }
    expected[17] = "........###*++++++++++++++++";
    for (int y = 18; y <= 20; ++y) {
        expected[static_cast<std::size_t>(y)] = "........####################";
    }
    std::vector<std::string> actual;
    for (int y = 0; y < kMnistSide; ++y) {
        std::string row;
        for (int x = 0; x < kMnistSide; ++x) {
            row += symbol(p.pixels[static_cast<std::size_t>(y * kMnistSide + x)]);
        }
        actual.push_back(row);
    }
    EXPECT_EQ(actual, expected);
}

TEST(PreprocessTest, InputIsPixelsOver255) {
    const Preprocessed p = preprocess_digit(dark_on_light(make_seven()));
    ASSERT_TRUE(p.found);
    for (std::size_t i = 0; i < p.pixels.size(); ++i) {
        EXPECT_EQ(p.input[i], p.pixels[i] / 255.0F);
    }
}

TEST(PreprocessTest, NoiseFloorAndContrastStretch) {
    // Background 200 (the border), ink 100: contrast 100 levels. A pixel 10 levels darker than
    // the paper (relative 0.1) is under the floor; one 50 darker (0.5) maps to (0.5-0.2)/0.8.
    Image image;
    image.width = 5;
    image.height = 5;
    image.channels = 1;
    image.samples.assign(25, 200);
    image.samples[6] = 100;
    image.samples[7] = 190;
    image.samples[8] = 150;
    image.samples[12] = 230;  // lighter than the paper: not ink
    const InkMap map = extract_ink(image);
    EXPECT_EQ(map.source, InkSource::kDarkOnLight);
    EXPECT_FLOAT_EQ(map.ink[6], 1.0F);
    EXPECT_FLOAT_EQ(map.ink[7], 0.0F);
    EXPECT_NEAR(map.ink[8], 0.375F, 1e-5F);
    EXPECT_FLOAT_EQ(map.ink[12], 0.0F);
    EXPECT_FLOAT_EQ(map.ink[0], 0.0F);
}

TEST(PreprocessTest, StrokeAlongTheBorderDoesNotFoolTheBackground) {
    Canvas canvas(60, 60);
    canvas.rect(0, 0, 8, 60).rect(0, 52, 40, 60);  // an L hugging two edges
    const Preprocessed p = preprocess_digit(dark_on_light(canvas));
    ASSERT_TRUE(p.found);
    EXPECT_EQ(p.source, InkSource::kDarkOnLight);
    EXPECT_EQ(p.box.width, 40);
    EXPECT_EQ(p.box.height, 60);
}

TEST(PreprocessTest, InvalidImageIsAContractViolation) {
    Image image;
    image.width = 2;
    image.height = 2;
    image.channels = 5;
    image.samples.assign(20, 0);
    EXPECT_THROW(preprocess_digit(image), std::invalid_argument);
    image.channels = 1;  // 4 samples expected, 20 held
    EXPECT_THROW(preprocess_digit(image), std::invalid_argument);
}

}  // namespace
}  // namespace digitpipe::infer
