// Image augmentation for the augment stage: each training image gets its own random affine
// transform (rotation, shift, zoom and shear, seed A's Keras ImageDataGenerator ranges by
// default) and, optionally, a Simard et al. (2003) elastic distortion, sampled bilinearly with
// background 0 outside the image. Every random number comes from a counter-based stream keyed
// by (seed, batch index, image index), so a batch is the same bytes whichever worker or thread
// computes it. Labels are not touched: the caller keeps them next to the images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

namespace digitpipe::augment {

// Seed A says only "shear transformations". Its recipe (rotation 10, shifts 0.1, zoom 0.1) is
// the common Keras MNIST one, which pairs them with shear_range=0.1, written when Keras read
// that value as radians; Keras 2.2+ reads degrees, which would make 0.1 a no-op. We keep the
// intended magnitude: 0.1 rad, about 5.73 degrees.
inline constexpr double kDefaultShearDegrees = 0.1 * 180.0 / std::numbers::pi;

// Simard et al. 2003 elastic distortion: a random field, uniform in [-1, 1] per pixel and
// component, smoothed by a Gaussian of standard deviation `sigma` pixels, then scaled by `alpha`
// pixels; the output pixel p samples the (affine-warped) image at p + field(p). The defaults are
// the paper's MNIST values.
struct ElasticParams {
    bool enabled = false;
    double alpha = 34.0;  // displacement scale, pixels
    double sigma = 4.0;   // Gaussian smoothing, pixels; the kernel is truncated at 4 sigma
};

// The ranges each image's transform is drawn from, uniformly and independently:
// rotation in [-rotation_degrees, +rotation_degrees] (positive turns content counter-clockwise
// on screen); shift in [-f, +f] x image width (x) or height (y); zoom factors, x and y drawn
// separately as Keras does, in [1 - zoom_fraction, 1 + zoom_fraction] (> 1 enlarges content);
// shear angle in [-shear_degrees, +shear_degrees]. All zero (and elastic off) is the identity.
// Check with find_problems before use; augment_batch assumes valid parameters.
struct AugmentParams {
    double rotation_degrees = 10.0;
    double shift_fraction_x = 0.1;
    double shift_fraction_y = 0.1;
    double zoom_fraction = 0.1;
    double shear_degrees = kDefaultShearDegrees;
    ElasticParams elastic;
};

// Every problem with `params`, one message each naming the field, the allowed range and the
// value found (empty when valid): rotation_degrees in [0, 180], shift fractions in [0, 1],
// zoom_fraction in [0, 1) (a factor must stay > 0), shear_degrees in [0, 80] (tan grows without
// bound towards 90), and, when elastic is enabled, alpha >= 0 and sigma in (0, 64]. NaN and
// infinities are problems.
// Thread-safety: pure function.
std::vector<std::string> find_problems(const AugmentParams& params);

// One image's transform in forward terms: where content moves. Shifts are in pixels.
struct AffineSample {
    double rotation_degrees = 0.0;
    double shift_x = 0.0;  // > 0 moves content right
    double shift_y = 0.0;  // > 0 moves content down (rows grow downwards)
    double zoom_x = 1.0;
    double zoom_y = 1.0;
    double shear_degrees = 0.0;  // > 0 leans the vertical axis counter-clockwise
};

// The inverse map of a transform, in pixel coordinates (x = column, y = row, pixel centres at
// integers): output pixel (x, y) samples the source at
// (xx * x + xy * y + x0, yx * x + yy * y + y0).
struct InverseAffine {
    float xx = 1.0F, xy = 0.0F, x0 = 0.0F;
    float yx = 0.0F, yy = 1.0F, y0 = 0.0F;
};

// Composes rotation, shear and zoom about the image centre ((width - 1) / 2, (height - 1) / 2),
// then the shift, and inverts the result so that warping can pull each output pixel from the
// source. The identity sample gives exactly the identity map.
// requires: zoom_x, zoom_y > 0; |shear_degrees| < 90; height, width > 0.
// Thread-safety: pure function.
InverseAffine compose_inverse_affine(const AffineSample& sample, int height, int width) noexcept;

// The transform augment_batch uses for image `image_index` of batch `batch_index`: a pure
// function of (params, height, width, seed, batch_index, image_index).
// requires: find_problems(params) is empty.
// Thread-safety: pure function.
AffineSample sample_affine(const AugmentParams& params, int height, int width, std::uint64_t seed,
                           std::uint64_t batch_index, std::uint64_t image_index) noexcept;

// Warps one height x width u8 image: dst(p) = bilinear sample of src at map(p), pixels outside
// the image counting as 0 (so edges fade over one pixel), rounded half up to [0, 255].
// requires: src and dst each hold height * width bytes and do not overlap; height, width > 0.
// Thread-safety: writes only dst.
void warp_affine(const std::uint8_t* src, std::uint8_t* dst, int height, int width,
                 const InverseAffine& map);

// Augments `count` row-major height x width u8 images from src into dst (same layout): image i
// gets sample_affine(params, height, width, seed, batch_index, first_image_index + i), then,
// when params.elastic.enabled, an elastic field drawn from the same key. The two are applied in
// one sampling pass (the field moves the point the affine map then sends to the source), so the
// image is interpolated once, not twice. first_image_index lets callers split one batch across
// threads or calls and still get the bytes of a single call.
// requires: find_problems(params) is empty; src and dst hold count * height * width bytes and do
// not overlap; height, width > 0.
// ensures: dst depends only on (src, params, seed, batch_index, first_image_index), never on
// threads or timing.
// Thread-safety: writes only dst; allocates a small per-call workspace.
void augment_batch(const std::uint8_t* src, std::uint8_t* dst, std::size_t count, int height,
                   int width, const AugmentParams& params, std::uint64_t seed,
                   std::uint64_t batch_index, std::uint64_t first_image_index = 0);

}  // namespace digitpipe::augment
