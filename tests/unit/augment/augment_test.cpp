// Unit tests of digitpipe_augment (plugins/augment): exact identities (zero parameters, zero
// elastic strength, integer shifts), a 90-degree turn against index arithmetic, determinism per
// (seed, batch index) independent of how a batch is split, ink and range bounds for seed A's
// default ranges, and the parameter checks. No test looks at time.
#include "digitpipe/augment/augment.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace digitpipe::augment {
namespace {

using ::testing::HasSubstr;

// Largest per-pixel difference allowed where float rounding of sin/cos may tip a bilinear
// sample by a fraction of a level (90-degree turn: cos(pi / 2) is 6e-17, not 0).
constexpr int kInterpolationTolerance = 1;
// Seed A's small transforms change total ink through zoom (at most 1.1^2 = 1.21 or 0.9^2 =
// 0.81) and bilinear smoothing; a batch's mean ratio stays well inside this band.
constexpr double kInkRatioLow = 0.8;
constexpr double kInkRatioHigh = 1.25;

struct Shape {
    int height;
    int width;
};

std::size_t pixels(Shape shape) {
    return static_cast<std::size_t>(shape.height) * shape.width;
}

// Deterministic pseudo-random bytes (every level, no structure a warp could preserve by luck).
std::vector<std::uint8_t> make_noise(std::size_t n, std::uint32_t salt) {
    std::vector<std::uint8_t> bytes(n);
    std::uint32_t state = 2463534242U ^ salt;
    for (auto& b : bytes) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        b = static_cast<std::uint8_t>(state >> 24);
    }
    return bytes;
}

// `count` images of a filled disc of radius r around the centre, with a few levels of shading,
// well inside the frame so seed A's shifts and zooms keep it in view.
std::vector<std::uint8_t> make_discs(std::size_t count, Shape shape, double r) {
    std::vector<std::uint8_t> images(count * pixels(shape), 0);
    const double cx = 0.5 * (shape.width - 1);
    const double cy = 0.5 * (shape.height - 1);
    for (std::size_t i = 0; i < count; ++i) {
        for (int y = 0; y < shape.height; ++y) {
            for (int x = 0; x < shape.width; ++x) {
                const double d = std::hypot(x - cx, y - cy);
                if (d <= r) {
                    images[i * pixels(shape) + y * shape.width + x] =
                        static_cast<std::uint8_t>(255 - 10 * ((x + y + static_cast<int>(i)) % 8));
                }
            }
        }
    }
    return images;
}

AugmentParams zero_params() {
    AugmentParams params;
    params.rotation_degrees = 0.0;
    params.shift_fraction_x = 0.0;
    params.shift_fraction_y = 0.0;
    params.zoom_fraction = 0.0;
    params.shear_degrees = 0.0;
    params.elastic.enabled = false;
    return params;
}

double total_ink(const std::vector<std::uint8_t>& bytes) {
    return std::accumulate(bytes.begin(), bytes.end(), 0.0);
}

class AugmentShapeTest : public ::testing::TestWithParam<Shape> {};

TEST_P(AugmentShapeTest, ZeroParamsGiveTheExactInput) {
    const Shape shape = GetParam();
    constexpr std::size_t kCount = 5;
    const auto src = make_noise(kCount * pixels(shape), 1);
    std::vector<std::uint8_t> dst(src.size(), 7);
    augment_batch(src.data(), dst.data(), kCount, shape.height, shape.width, zero_params(),
                  /*seed=*/42, /*batch_index=*/3);
    EXPECT_EQ(dst, src);
}

TEST_P(AugmentShapeTest, ElasticWithZeroAlphaIsTheIdentity) {
    const Shape shape = GetParam();
    constexpr std::size_t kCount = 3;
    const auto src = make_noise(kCount * pixels(shape), 2);
    std::vector<std::uint8_t> dst(src.size(), 7);
    AugmentParams params = zero_params();
    params.elastic = {/*enabled=*/true, /*alpha=*/0.0, /*sigma=*/4.0};
    ASSERT_THAT(find_problems(params), ::testing::IsEmpty());
    augment_batch(src.data(), dst.data(), kCount, shape.height, shape.width, params, 9, 0);
    EXPECT_EQ(dst, src);
}

TEST_P(AugmentShapeTest, IntegerShiftMovesThePatternExactly) {
    const Shape shape = GetParam();
    const auto src = make_noise(pixels(shape), 3);
    constexpr int kShiftX = 3;
    constexpr int kShiftY = -2;
    AffineSample sample;
    sample.shift_x = kShiftX;
    sample.shift_y = kShiftY;
    std::vector<std::uint8_t> dst(src.size(), 7);
    warp_affine(src.data(), dst.data(), shape.height, shape.width,
                compose_inverse_affine(sample, shape.height, shape.width));
    for (int y = 0; y < shape.height; ++y) {
        for (int x = 0; x < shape.width; ++x) {
            const int sx = x - kShiftX;
            const int sy = y - kShiftY;
            const bool inside = sx >= 0 && sx < shape.width && sy >= 0 && sy < shape.height;
            const int expected = inside ? src[sy * shape.width + sx] : 0;
            ASSERT_EQ(dst[y * shape.width + x], expected) << "at x=" << x << " y=" << y;
        }
    }
}

TEST_P(AugmentShapeTest, FractionalShiftsInterpolateBilinearly) {
    const Shape shape = GetParam();
    const auto src = make_noise(pixels(shape), 5);
    // Half and quarter pixels: every weight and partial sum is exact in float, so the result
    // must equal the double-precision bilinear reference, rounded half up, exactly.
    AffineSample sample;
    sample.shift_x = 0.5;
    sample.shift_y = 0.25;
    std::vector<std::uint8_t> dst(src.size());
    warp_affine(src.data(), dst.data(), shape.height, shape.width,
                compose_inverse_affine(sample, shape.height, shape.width));
    auto at = [&](int x, int y) -> double {
        const bool inside = x >= 0 && x < shape.width && y >= 0 && y < shape.height;
        return inside ? src[y * shape.width + x] : 0.0;
    };
    for (int y = 0; y < shape.height; ++y) {
        for (int x = 0; x < shape.width; ++x) {
            // Output (x, y) reads the source at (x - 0.5, y - 0.25).
            const double top = 0.5 * at(x - 1, y - 1) + 0.5 * at(x, y - 1);
            const double bottom = 0.5 * at(x - 1, y) + 0.5 * at(x, y);
            const int expected = static_cast<int>(std::floor(0.25 * top + 0.75 * bottom + 0.5));
            ASSERT_EQ(dst[y * shape.width + x], expected) << "at x=" << x << " y=" << y;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, AugmentShapeTest,
                         ::testing::Values(Shape{28, 28}, Shape{17, 31}, Shape{1, 1}),
                         [](const auto& info) {
                             return std::to_string(info.param.height) + "x" +
                                    std::to_string(info.param.width);
                         });

TEST(AugmentTest, RotationBy90DegreesTurnsContentCounterClockwise) {
    constexpr int kSize = 28;
    const auto src = make_noise(kSize * kSize, 4);
    AffineSample sample;
    sample.rotation_degrees = 90.0;
    std::vector<std::uint8_t> dst(src.size());
    warp_affine(src.data(), dst.data(), kSize, kSize, compose_inverse_affine(sample, kSize, kSize));
    // Counter-clockwise on screen about the centre: the right edge becomes the top row, so
    // output (x, y) shows source column (size - 1 - y) of row x.
    for (int y = 0; y < kSize; ++y) {
        for (int x = 0; x < kSize; ++x) {
            const int expected = src[x * kSize + (kSize - 1 - y)];
            ASSERT_NEAR(dst[y * kSize + x], expected, kInterpolationTolerance)
                << "at x=" << x << " y=" << y;
        }
    }
}

TEST(AugmentTest, RotationParamsAllowingQuarterTurnsStayInRange) {
    AugmentParams params = zero_params();
    params.rotation_degrees = 90.0;
    ASSERT_THAT(find_problems(params), ::testing::IsEmpty());
    double largest = 0.0;
    for (std::uint64_t i = 0; i < 500; ++i) {
        const AffineSample sample = sample_affine(params, 28, 28, 5, 0, i);
        EXPECT_LE(std::abs(sample.rotation_degrees), 90.0);
        EXPECT_EQ(sample.shift_x, 0.0);
        EXPECT_EQ(sample.zoom_x, 1.0);
        largest = std::max(largest, std::abs(sample.rotation_degrees));
    }
    // 500 uniform draws on [-90, 90] all below 80 degrees would be a broken stream.
    EXPECT_GT(largest, 80.0);
}

TEST(AugmentTest, SamplesCoverSeedADefaultRanges) {
    const AugmentParams params;
    for (std::uint64_t i = 0; i < 200; ++i) {
        const AffineSample s = sample_affine(params, 28, 28, 11, 2, i);
        EXPECT_LE(std::abs(s.rotation_degrees), 10.0);
        EXPECT_LE(std::abs(s.shift_x), 2.8);
        EXPECT_LE(std::abs(s.shift_y), 2.8);
        EXPECT_LE(std::abs(s.zoom_x - 1.0), 0.1);
        EXPECT_LE(std::abs(s.zoom_y - 1.0), 0.1);
        EXPECT_LE(std::abs(s.shear_degrees), kDefaultShearDegrees);
    }
}

TEST(AugmentTest, IsDeterministicPerSeedAndBatchAndDiffersAcrossThem) {
    constexpr Shape kShape{28, 28};
    constexpr std::size_t kCount = 16;
    const auto src = make_discs(kCount, kShape, 8.0);
    AugmentParams params;
    params.elastic.enabled = true;
    auto run = [&](std::uint64_t seed, std::uint64_t batch) {
        std::vector<std::uint8_t> dst(src.size());
        augment_batch(src.data(), dst.data(), kCount, kShape.height, kShape.width, params, seed,
                      batch);
        return dst;
    };
    const auto first = run(1, 0);
    EXPECT_EQ(run(1, 0), first);
    EXPECT_NE(run(2, 0), first);
    EXPECT_NE(run(1, 1), first);
    EXPECT_NE(first, src);
}

TEST(AugmentTest, SplittingABatchGivesTheSameBytesAsOneCall) {
    constexpr Shape kShape{28, 28};
    constexpr std::size_t kCount = 10;
    constexpr std::size_t kSplit = 4;
    const auto src = make_discs(kCount, kShape, 7.0);
    AugmentParams params;
    params.elastic.enabled = true;
    std::vector<std::uint8_t> whole(src.size());
    augment_batch(src.data(), whole.data(), kCount, kShape.height, kShape.width, params, 77, 5);
    // As two threads (or two workers) would compute it: images [0, 4) and [4, 10).
    std::vector<std::uint8_t> parts(src.size());
    augment_batch(src.data(), parts.data(), kSplit, kShape.height, kShape.width, params, 77, 5);
    augment_batch(src.data() + kSplit * pixels(kShape), parts.data() + kSplit * pixels(kShape),
                  kCount - kSplit, kShape.height, kShape.width, params, 77, 5,
                  /*first_image_index=*/kSplit);
    EXPECT_EQ(parts, whole);
}

TEST(AugmentTest, ImagesInABatchGetDifferentTransforms) {
    constexpr Shape kShape{28, 28};
    constexpr std::size_t kCount = 2;
    // The same picture twice: different outputs prove the image index reaches the stream.
    auto src = make_discs(1, kShape, 8.0);
    src.insert(src.end(), src.begin(), src.end());
    std::vector<std::uint8_t> dst(src.size());
    augment_batch(src.data(), dst.data(), kCount, kShape.height, kShape.width, AugmentParams{}, 3,
                  0);
    EXPECT_FALSE(
        std::equal(dst.begin(), dst.begin() + pixels(kShape), dst.begin() + pixels(kShape)));
}

TEST(AugmentTest, ElasticDoesNotChangeTheAffineDraws) {
    AugmentParams plain;
    AugmentParams elastic;
    elastic.elastic.enabled = true;
    const AffineSample a = sample_affine(plain, 28, 28, 8, 1, 6);
    const AffineSample b = sample_affine(elastic, 28, 28, 8, 1, 6);
    EXPECT_EQ(a.rotation_degrees, b.rotation_degrees);
    EXPECT_EQ(a.shift_x, b.shift_x);
    EXPECT_EQ(a.zoom_y, b.zoom_y);
    EXPECT_EQ(a.shear_degrees, b.shear_degrees);
}

class AugmentBoundsTest : public ::testing::TestWithParam<bool> {};

TEST_P(AugmentBoundsTest, SmallTransformsRoughlyPreserveInk) {
    constexpr Shape kShape{28, 28};
    constexpr std::size_t kCount = 64;
    const auto src = make_discs(kCount, kShape, 6.0);
    AugmentParams params;
    params.elastic.enabled = GetParam();
    std::vector<std::uint8_t> dst(src.size());
    augment_batch(src.data(), dst.data(), kCount, kShape.height, kShape.width, params, 21, 4);
    const double ratio = total_ink(dst) / total_ink(src);
    EXPECT_GT(ratio, kInkRatioLow);
    EXPECT_LT(ratio, kInkRatioHigh);
    // Nothing appears far from the disc (radius 6, moved by at most ~3 px shift, 10% zoom and a
    // few px of elastic displacement): the corners stay background.
    for (std::size_t i = 0; i < kCount; ++i) {
        const std::uint8_t* image = dst.data() + i * pixels(kShape);
        EXPECT_EQ(image[0], 0);
        EXPECT_EQ(image[kShape.width - 1], 0);
        EXPECT_EQ(image[pixels(kShape) - 1], 0);
    }
}

TEST_P(AugmentBoundsTest, SaturatedInkStaysSaturatedAndBlankStaysBlank) {
    constexpr Shape kShape{28, 28};
    constexpr std::size_t kCount = 32;
    AugmentParams params;
    params.elastic.enabled = GetParam();
    // An all-255 image: a sum that overflowed 255 would wrap to a dark pixel in the middle.
    const std::vector<std::uint8_t> full(kCount * pixels(kShape), 255);
    std::vector<std::uint8_t> dst(full.size());
    augment_batch(full.data(), dst.data(), kCount, kShape.height, kShape.width, params, 6, 0);
    for (std::size_t i = 0; i < kCount; ++i) {
        const std::uint8_t* image = dst.data() + i * pixels(kShape);
        // The middle 4x4 pixels read from well inside the source under any draw.
        for (int y = 12; y < 16; ++y) {
            for (int x = 12; x < 16; ++x) ASSERT_EQ(image[y * kShape.width + x], 255);
        }
    }
    const std::vector<std::uint8_t> blank(full.size(), 0);
    augment_batch(blank.data(), dst.data(), kCount, kShape.height, kShape.width, params, 6, 0);
    EXPECT_EQ(dst, blank);
}

INSTANTIATE_TEST_SUITE_P(AffineAndElastic, AugmentBoundsTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Elastic" : "AffineOnly"; });

TEST(AugmentParamsTest, DefaultsAreSeedAsRangesAndValid) {
    const AugmentParams params;
    EXPECT_EQ(params.rotation_degrees, 10.0);
    EXPECT_EQ(params.shift_fraction_x, 0.1);
    EXPECT_EQ(params.shift_fraction_y, 0.1);
    EXPECT_EQ(params.zoom_fraction, 0.1);
    EXPECT_NEAR(params.shear_degrees, 5.7296, 1e-4);
    EXPECT_FALSE(params.elastic.enabled);
    EXPECT_THAT(find_problems(params), ::testing::IsEmpty());
    AugmentParams elastic;
    elastic.elastic.enabled = true;
    EXPECT_THAT(find_problems(elastic), ::testing::IsEmpty());
}

TEST(AugmentParamsTest, ReportsEveryInvalidValueWithNameAndValue) {
    AugmentParams params;
    params.rotation_degrees = -5.0;
    params.shift_fraction_x = std::nan("");
    params.shift_fraction_y = 1.5;
    params.zoom_fraction = 1.0;
    params.shear_degrees = 90.0;
    params.elastic = {/*enabled=*/true, /*alpha=*/-1.0, /*sigma=*/0.0};
    const auto problems = find_problems(params);
    ASSERT_EQ(problems.size(), 7U) << ::testing::PrintToString(problems);
    EXPECT_THAT(problems[0], HasSubstr("rotation_degrees must be in [0, 180], got -5"));
    EXPECT_THAT(problems[1], HasSubstr("shift_fraction_x"));
    EXPECT_THAT(problems[1], HasSubstr("nan"));
    EXPECT_THAT(problems[2], HasSubstr("shift_fraction_y must be in [0, 1], got 1.5"));
    EXPECT_THAT(problems[3], HasSubstr("zoom_fraction must be in [0, 1), got 1"));
    EXPECT_THAT(problems[4], HasSubstr("shear_degrees must be in [0, 80], got 90"));
    EXPECT_THAT(problems[5], HasSubstr("elastic.alpha"));
    EXPECT_THAT(problems[6], HasSubstr("elastic.sigma must be in (0, 64], got 0"));
}

TEST(AugmentParamsTest, IgnoresElasticValuesWhileElasticIsOff) {
    AugmentParams params;
    params.elastic = {/*enabled=*/false, /*alpha=*/-1.0, /*sigma=*/0.0};
    EXPECT_THAT(find_problems(params), ::testing::IsEmpty());
}

}  // namespace
}  // namespace digitpipe::augment
