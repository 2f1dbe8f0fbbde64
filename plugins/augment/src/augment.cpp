// Seeded affine and elastic augmentation (see augment.hpp). The hot path is one pass per image:
// each output pixel maps to a source point (the elastic field, if any, then the inverse affine
// map) and reads it bilinearly from a float copy of the image bordered by one ring of zeros, so
// the four neighbours of any point that can contribute ink are always inside the buffer and the
// only per-pixel branch is "is this point near the image at all".
#include "digitpipe/augment/augment.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>
#include <vector>

#include "digitpipe/nn/random.hpp"

namespace digitpipe::augment {
namespace {

// Salt for mix_seed, so the augmentation's stream differs from the engine's (dropout, initial
// weights) when a run uses one seed for everything.
constexpr std::uint64_t kAugmentSalt = 0x6175676D656E74ULL;  // "augment"
// Philox counter words 0..7 (blocks 0 and 1) feed the affine draws; the elastic field starts
// after them, so enabling elastic never changes an image's affine transform.
constexpr std::uint32_t kElasticFirstBlock = 2;
constexpr int kAffineDraws = 6;
static_assert(kAffineDraws <= 4 * kElasticFirstBlock, "affine draws overlap the elastic field");
// 2^-24: maps the top 24 bits of a word to a float in [0, 1) exactly.
constexpr double kUnit = 1.0 / 16777216.0;
// Kernel half-width in sigmas, as scipy.ndimage.gaussian_filter's default truncate=4.0, which
// the common Python elastic-distortion code uses.
constexpr double kGaussianTruncate = 4.0;
constexpr double kMaxRotationDegrees = 180.0;
constexpr double kMaxShearDegrees = 80.0;
constexpr double kMaxElasticSigma = 64.0;
// One ring of zero pixels around the float copy of the source.
constexpr int kPad = 1;

// The Philox key and counter layout for one image: key from the seed (and the high half of the
// image index), counter = {block, image index low 32 bits, batch index low, batch index high}.
// Distinct (seed, batch, image, block) give distinct Philox inputs, so streams never overlap.
struct ImageStream {
    std::array<std::uint32_t, 2> key;
    std::uint32_t image_lo, batch_lo, batch_hi;

    ImageStream(std::uint64_t seed, std::uint64_t batch_index, std::uint64_t image_index) noexcept {
        const std::uint64_t k = nn::mix_seed(nn::mix_seed(seed, kAugmentSalt), image_index >> 32);
        key = {static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32)};
        image_lo = static_cast<std::uint32_t>(image_index);
        batch_lo = static_cast<std::uint32_t>(batch_index);
        batch_hi = static_cast<std::uint32_t>(batch_index >> 32);
    }

    std::array<std::uint32_t, 4> block(std::uint32_t index) const noexcept {
        return nn::philox4x32({index, image_lo, batch_lo, batch_hi}, key);
    }
};

// Uniform in [-range, range) from one 32-bit word.
double symmetric(std::uint32_t word, double range) noexcept {
    return range * (2.0 * static_cast<double>(word >> 8) * kUnit - 1.0);
}

double radians(double degrees) noexcept {
    return degrees * std::numbers::pi / 180.0;
}

// Reusable buffers for one augment_batch call: the padded float source, and the elastic
// field's kernel, reflection tables and planes (sized once; all images share the shape).
struct Workspace {
    int height, width, padded_width;
    std::vector<float> padded;
    int radius = 0;
    std::vector<float> kernel;              // 2 * radius + 1 taps, sum 1
    std::vector<int> reflect_x, reflect_y;  // index + radius -> reflected index in the image
    std::vector<float> row, smoothed, dx, dy;

    Workspace(int h, int w)
        : height(h),
          width(w),
          padded_width(w + 2 * kPad),
          padded(static_cast<std::size_t>(h + 2 * kPad) * (w + 2 * kPad), 0.0F) {}

    void prepare_elastic(double sigma) {
        radius = std::max(1, static_cast<int>(std::ceil(kGaussianTruncate * sigma)));
        kernel.resize(2 * radius + 1);
        double sum = 0.0;
        for (int j = -radius; j <= radius; ++j) {
            sum += std::exp(-0.5 * (j * j) / (sigma * sigma));
        }
        for (int j = -radius; j <= radius; ++j) {
            kernel[j + radius] =
                static_cast<float>(std::exp(-0.5 * (j * j) / (sigma * sigma)) / sum);
        }
        reflect_x = reflection_table(width, radius);
        reflect_y = reflection_table(height, radius);
        const std::size_t pixels = static_cast<std::size_t>(height) * width;
        row.resize(width + 2 * radius);
        smoothed.resize(pixels);
        dx.resize(pixels);
        dy.resize(pixels);
    }

    // scipy's "reflect" boundary (d c b a | a b c d | d c b a), valid for any radius, so a
    // large sigma on a small image still smooths rather than reading out of bounds.
    static std::vector<int> reflection_table(int n, int radius) {
        std::vector<int> table(n + 2 * radius);
        const int period = 2 * n;
        for (int i = -radius; i < n + radius; ++i) {
            int m = ((i % period) + period) % period;
            table[i + radius] = m < n ? m : period - 1 - m;
        }
        return table;
    }
};

// Copies a u8 image into the interior of the padded float buffer (the border stays 0).
void load_padded(const std::uint8_t* src, Workspace& ws) {
    for (int y = 0; y < ws.height; ++y) {
        const std::uint8_t* in = src + static_cast<std::size_t>(y) * ws.width;
        float* out = ws.padded.data() + static_cast<std::size_t>(y + kPad) * ws.padded_width + kPad;
        for (int x = 0; x < ws.width; ++x) out[x] = in[x];
    }
}

// Bilinear read at source point (sx, sy); 0 when the point is a pixel or more outside the image.
// In padded coordinates the point lies in (0, width + 1) x (0, height + 1), so truncation is
// floor and both neighbours exist. At an integer point the weights are exactly 0, so the
// identity map copies bytes exactly.
inline float sample(const float* padded, int padded_width, float u_end, float v_end, float sx,
                    float sy) {
    const float u = sx + static_cast<float>(kPad);
    const float v = sy + static_cast<float>(kPad);
    // Written negated so that NaN (never produced by valid parameters) reads as background.
    if (!(u > 0.0F && u < u_end && v > 0.0F && v < v_end)) return 0.0F;
    const int iu = static_cast<int>(u);
    const int iv = static_cast<int>(v);
    const float fu = u - static_cast<float>(iu);
    const float fv = v - static_cast<float>(iv);
    const float* p = padded + static_cast<std::ptrdiff_t>(iv) * padded_width + iu;
    const float top = p[0] + fu * (p[1] - p[0]);
    const float bottom = p[padded_width] + fu * (p[padded_width + 1] - p[padded_width]);
    return top + fv * (bottom - top);
}

// Convex combinations of bytes can land an ulp outside [0, 255]; clamp before rounding.
inline std::uint8_t to_byte(float value) {
    return static_cast<std::uint8_t>(std::clamp(value, 0.0F, 255.0F) + 0.5F);
}

// The affine-only pass (the common case): the source point is affine in x along a row.
void warp_padded(const Workspace& ws, std::uint8_t* dst, const InverseAffine& m) {
    const float u_end = static_cast<float>(ws.width + kPad);
    const float v_end = static_cast<float>(ws.height + kPad);
    for (int y = 0; y < ws.height; ++y) {
        const float fy = static_cast<float>(y);
        const float row_x = m.xy * fy + m.x0;
        const float row_y = m.yy * fy + m.y0;
        std::uint8_t* out = dst + static_cast<std::size_t>(y) * ws.width;
        for (int x = 0; x < ws.width; ++x) {
            // Computed from x, not accumulated, so error does not drift along the row.
            const float fx = static_cast<float>(x);
            out[x] = to_byte(sample(ws.padded.data(), ws.padded_width, u_end, v_end,
                                    m.xx * fx + row_x, m.yx * fx + row_y));
        }
    }
}

// The elastic pass: output pixel p reads the source at map(p + field(p)).
void warp_padded_elastic(const Workspace& ws, std::uint8_t* dst, const InverseAffine& m) {
    const float u_end = static_cast<float>(ws.width + kPad);
    const float v_end = static_cast<float>(ws.height + kPad);
    for (int y = 0; y < ws.height; ++y) {
        const std::size_t base = static_cast<std::size_t>(y) * ws.width;
        for (int x = 0; x < ws.width; ++x) {
            const float px = static_cast<float>(x) + ws.dx[base + x];
            const float py = static_cast<float>(y) + ws.dy[base + x];
            dst[base + x] =
                to_byte(sample(ws.padded.data(), ws.padded_width, u_end, v_end,
                               m.xx * px + m.xy * py + m.x0, m.yx * px + m.yy * py + m.y0));
        }
    }
}

// Smooths `field` (height x width) with the separable Gaussian and scales it by alpha, into
// `out`. Both passes run the taps in the outer loop over contiguous rows, so the inner loops
// vectorise without reassociating a sum, so the bits do not depend on the vector width. This
// is most of an elastic image's cost (about 60%, against 15% for its Philox draws).
void smooth_field(Workspace& ws, const float* field, float alpha, std::vector<float>& out) {
    const int width = ws.width;
    const int r = ws.radius;
    const int taps = 2 * r + 1;
    float* __restrict row = ws.row.data();
    for (int y = 0; y < ws.height; ++y) {
        const float* in = field + static_cast<std::size_t>(y) * width;
        for (int i = 0; i < width + 2 * r; ++i) row[i] = in[ws.reflect_x[i]];
        float* __restrict s = ws.smoothed.data() + static_cast<std::size_t>(y) * width;
        for (int x = 0; x < width; ++x) s[x] = 0.0F;
        for (int j = 0; j < taps; ++j) {
            const float k = ws.kernel[j];
            for (int x = 0; x < width; ++x) s[x] += k * row[j + x];
        }
    }
    for (int y = 0; y < ws.height; ++y) {
        float* __restrict o = out.data() + static_cast<std::size_t>(y) * width;
        for (int x = 0; x < width; ++x) o[x] = 0.0F;
        for (int j = 0; j < taps; ++j) {
            const float k = alpha * ws.kernel[j];
            const float* __restrict s =
                ws.smoothed.data() + static_cast<std::size_t>(ws.reflect_y[y + j]) * width;
            for (int x = 0; x < width; ++x) o[x] += k * s[x];
        }
    }
}

// Draws the image's raw field (uniform in [-1, 1) per pixel and component: dx of pixel i from
// word 2 i, dy from word 2 i + 1, counting from kElasticFirstBlock) and smooths it into ws.dx,
// ws.dy.
void generate_elastic_field(Workspace& ws, const ImageStream& stream, float alpha,
                            std::vector<float>& raw) {
    const std::size_t pixels = static_cast<std::size_t>(ws.height) * ws.width;
    raw.resize(2 * pixels);
    float* raw_dx = raw.data();
    float* raw_dy = raw.data() + pixels;
    constexpr float kUnitF = static_cast<float>(kUnit);
    for (std::size_t i = 0; i < pixels; i += 2) {
        const auto words = stream.block(kElasticFirstBlock + static_cast<std::uint32_t>(i / 2));
        raw_dx[i] = 2.0F * static_cast<float>(words[0] >> 8) * kUnitF - 1.0F;
        raw_dy[i] = 2.0F * static_cast<float>(words[1] >> 8) * kUnitF - 1.0F;
        if (i + 1 < pixels) {
            raw_dx[i + 1] = 2.0F * static_cast<float>(words[2] >> 8) * kUnitF - 1.0F;
            raw_dy[i + 1] = 2.0F * static_cast<float>(words[3] >> 8) * kUnitF - 1.0F;
        }
    }
    smooth_field(ws, raw_dx, alpha, ws.dx);
    smooth_field(ws, raw_dy, alpha, ws.dy);
}

void check_range(std::vector<std::string>& problems, const char* name, double value, double low,
                 double high, bool high_open) {
    const bool ok = value >= low && (high_open ? value < high : value <= high);
    if (!ok) {
        std::ostringstream message;
        message << "augment: " << name << " must be in [" << low << ", " << high
                << (high_open ? ")" : "]") << ", got " << value;
        problems.push_back(message.str());
    }
}

}  // namespace

std::vector<std::string> find_problems(const AugmentParams& params) {
    std::vector<std::string> problems;
    check_range(problems, "rotation_degrees", params.rotation_degrees, 0.0, kMaxRotationDegrees,
                /*high_open=*/false);
    check_range(problems, "shift_fraction_x", params.shift_fraction_x, 0.0, 1.0, false);
    check_range(problems, "shift_fraction_y", params.shift_fraction_y, 0.0, 1.0, false);
    check_range(problems, "zoom_fraction", params.zoom_fraction, 0.0, 1.0, /*high_open=*/true);
    check_range(problems, "shear_degrees", params.shear_degrees, 0.0, kMaxShearDegrees, false);
    if (params.elastic.enabled) {
        check_range(problems, "elastic.alpha", params.elastic.alpha, 0.0, HUGE_VAL, true);
        if (!(params.elastic.sigma > 0.0 && params.elastic.sigma <= kMaxElasticSigma)) {
            std::ostringstream message;
            message << "augment: elastic.sigma must be in (0, " << kMaxElasticSigma << "], got "
                    << params.elastic.sigma;
            problems.push_back(message.str());
        }
    }
    return problems;
}

InverseAffine compose_inverse_affine(const AffineSample& sample, int height, int width) noexcept {
    // Forward map: p_out = A (p_in - c) + c + t, with A = rotation * shear * zoom. In y-down
    // pixel coordinates a counter-clockwise turn on screen is [[cos, sin], [-sin, cos]].
    const double theta = radians(sample.rotation_degrees);
    const double c = std::cos(theta);
    const double s = std::sin(theta);
    const double k = std::tan(radians(sample.shear_degrees));
    // rotation * [[1, k], [0, 1]] * diag(zoom_x, zoom_y)
    const double a00 = c * sample.zoom_x;
    const double a01 = (c * k + s) * sample.zoom_y;
    const double a10 = -s * sample.zoom_x;
    const double a11 = (-s * k + c) * sample.zoom_y;
    const double det = a00 * a11 - a01 * a10;
    const double i00 = a11 / det;
    const double i01 = -a01 / det;
    const double i10 = -a10 / det;
    const double i11 = a00 / det;
    // p_in = A^-1 (p_out - c - t) + c; at the identity every term below is exact.
    const double cx = 0.5 * (width - 1);
    const double cy = 0.5 * (height - 1);
    const double qx = cx + sample.shift_x;
    const double qy = cy + sample.shift_y;
    InverseAffine m;
    m.xx = static_cast<float>(i00);
    m.xy = static_cast<float>(i01);
    m.x0 = static_cast<float>(cx - (i00 * qx + i01 * qy));
    m.yx = static_cast<float>(i10);
    m.yy = static_cast<float>(i11);
    m.y0 = static_cast<float>(cy - (i10 * qx + i11 * qy));
    return m;
}

AffineSample sample_affine(const AugmentParams& params, int height, int width, std::uint64_t seed,
                           std::uint64_t batch_index, std::uint64_t image_index) noexcept {
    const ImageStream stream(seed, batch_index, image_index);
    const auto first = stream.block(0);
    const auto second = stream.block(1);
    AffineSample sample;
    sample.rotation_degrees = symmetric(first[0], params.rotation_degrees);
    sample.shift_x = symmetric(first[1], params.shift_fraction_x * width);
    sample.shift_y = symmetric(first[2], params.shift_fraction_y * height);
    sample.zoom_x = 1.0 + symmetric(first[3], params.zoom_fraction);
    sample.zoom_y = 1.0 + symmetric(second[0], params.zoom_fraction);
    sample.shear_degrees = symmetric(second[1], params.shear_degrees);
    return sample;
}

void warp_affine(const std::uint8_t* src, std::uint8_t* dst, int height, int width,
                 const InverseAffine& map) {
    if (height <= 0 || width <= 0) return;
    Workspace ws(height, width);
    load_padded(src, ws);
    warp_padded(ws, dst, map);
}

void augment_batch(const std::uint8_t* src, std::uint8_t* dst, std::size_t count, int height,
                   int width, const AugmentParams& params, std::uint64_t seed,
                   std::uint64_t batch_index, std::uint64_t first_image_index) {
    if (count == 0 || height <= 0 || width <= 0) return;
    Workspace ws(height, width);
    std::vector<float> raw;
    const bool elastic = params.elastic.enabled;
    if (elastic) ws.prepare_elastic(params.elastic.sigma);
    const std::size_t pixels = static_cast<std::size_t>(height) * width;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t image_index = first_image_index + i;
        const InverseAffine map = compose_inverse_affine(
            sample_affine(params, height, width, seed, batch_index, image_index), height, width);
        load_padded(src + i * pixels, ws);
        if (elastic) {
            generate_elastic_field(ws, ImageStream(seed, batch_index, image_index),
                                   static_cast<float>(params.elastic.alpha), raw);
            warp_padded_elastic(ws, dst + i * pixels, map);
        } else {
            warp_padded(ws, dst + i * pixels, map);
        }
    }
}

}  // namespace digitpipe::augment
