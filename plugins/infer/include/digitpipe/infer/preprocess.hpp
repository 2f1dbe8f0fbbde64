// MNIST-style preprocessing for the infer stage: any decoded image (a canvas drawing, a scan, a
// photo of paper) becomes the 28x28 input the model was trained on, made the way MNIST was made
// (LeCun et al.): the digit's ink is size-normalised so its longer side is 20 px (aspect ratio
// kept, anti-aliased), then translated by whole pixels so its centre of mass sits at the centre
// of the 28x28 field. Every drawing and upload takes this one path (STYLE.md section 10).
//
// Measured on MNIST's test set (3,000 images): the bounding box's longer side is 20 px in every
// image; the intensity-weighted centre of mass, with pixel centres at integer indices 0..27,
// averages (14.01, 13.99) with a standard deviation of 0.29 px in each axis, which is exactly the
// spread a whole-pixel shift leaves (uniform in +-0.5 px: sd 0.289); and every image's
// brightest pixel is 254 or 255. Hence the target 14.0, the integer shift and the rescaling of
// the strongest pixel to 255 below.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "digitpipe/infer/image.hpp"

namespace digitpipe::infer {

inline constexpr int kMnistSide = 28;                         // the model's input is 28x28
inline constexpr int kMnistPixels = kMnistSide * kMnistSide;  // 784
inline constexpr int kDigitBox = 20;                          // the ink's longer side, px
// Where the centre of mass goes, in both axes, with pixel (i, j)'s centre at (i, j): MNIST's
// own convention as measured (see the file comment). In "pixel edges" coordinates, where the
// field spans [0, 28), this is 14.5; the geometric centre would be 13.5 here.
inline constexpr double kMnistCentreOfMass = 14.0;
static_assert(kDigitBox < kMnistSide, "the digit box must fit in the field");

// Ink is the difference from the background, scaled so the strongest ink is 1. These bound
// what counts as ink:
// - below kMinContrast (as a fraction of full scale: about 25 of 255 levels) the strongest
//   difference from the background is sensor or compression noise or a faint smudge, and the
//   image holds no digit (a uniform image, an empty canvas);
// - below kNoiseFloor of the strongest ink a pixel is background noise (paper texture, JPEG
//   ringing, a soft shadow) and counts as none; above it, ink is rescaled continuously from
//   0 so anti-aliased edges keep their shape.
inline constexpr float kMinContrast = 0.1F;
inline constexpr float kNoiseFloor = 0.2F;

// How the ink was told from the background.
enum class InkSource {
    kNone,         // no ink: nothing differs enough from the background
    kAlpha,        // transparent background: ink = opacity, whatever the colour
    kDarkOnLight,  // opaque, light background (paper, a white canvas): ink = darkness
    kLightOnDark,  // opaque, dark background (MNIST itself, a chalkboard): ink = lightness
};

// Per-pixel ink of a whole image, in [0, 1], 0 background. Value type.
// Invariant: ink.size() == width * height; all zero when source is kNone.
struct InkMap {
    int width = 0;
    int height = 0;
    InkSource source = InkSource::kNone;
    std::vector<float> ink;  // row-major
};

// Finds the ink in `image`:
// - Transparency. With an alpha channel whose border is mostly transparent (median border alpha
//   below one half) the background is "nothing": ink = alpha, and colour is ignored. A
//   transparent pixel's colour means nothing (canvas exports store transparent black, so black
//   strokes compared by colour would vanish into it), and an opaque stroke on nothing is ink
//   whether it is black, white or blue. With a mostly opaque border, each pixel is composited
//   over the background's luminance (a transparent hole reads as background) and the opaque
//   rules below apply.
// - Opaque. Luminance (Rec. 601 weights on the 8-bit samples, as PIL's "L" conversion, which
//   produced most MNIST-style data). The background level B is the median luminance of the
//   border (the outer ring, 1 + min(width, height) / 64 pixels thick): the background dominates
//   the border even when a stroke touches it. B >= 0.5 means dark ink on a light background
//   (paper, most uploads), ink = B - L; otherwise light ink on dark (MNIST-like), ink = L - B;
//   negative differences are background.
// - Then: if the strongest ink is below kMinContrast there is none (source kNone); otherwise
//   ink is divided by the strongest ink (contrast stretch: a grey pencil on grey paper becomes
//   as strong as a black marker, as every MNIST digit is) and the noise floor is removed
//   (values below kNoiseFloor become 0, the rest map linearly onto (0, 1]).
// Limits: meant for drawings, scans and evenly lit photos; uneven lighting and specks away from
// the digit are not corrected (a speck far from the digit widens the crop).
// requires: image satisfies the Image invariant (image.hpp), else std::invalid_argument.
// Thread-safety: pure function. Cost: O(width x height), one float per pixel.
InkMap extract_ink(const Image& image);

// The ink's bounding box in source pixels (what preprocess_digit crops to).
struct InkBox {
    int x = 0;
    int y = 0;
    int width = 0;
    int height = 0;
};

// The model's input for one image. Value type.
// Invariant: when !found every array is zero; when found, pixels[i] = round(255 x ink) and
// input[i] == pixels[i] / 255.0F exactly: the model gets precisely what the dashboard shows, on
// the same u8 grid as the MNIST bytes it was trained on (pixel / 255).
struct Preprocessed {
    bool found = false;  // false: "no digit found" (blank or uniform image); never a guess
    InkSource source = InkSource::kNone;
    InkBox box;                                       // valid when found
    std::array<std::uint8_t, kMnistPixels> pixels{};  // row-major, 0 background, 255 ink
    std::array<float, kMnistPixels> input{};          // row-major, [0, 1], ink high
};

// Turns any image into what MNIST looks like:
// 1. extract_ink (transparency, polarity, background removal, noise floor; see above);
// 2. no ink: found = false;
// 3. crop to the ink's bounding box;
// 4. scale so the longer side is kDigitBox px, the shorter round(side x scale) >= 1 px, so the
//    aspect ratio is kept to within half a pixel: area averaging (an exact box filter) when
//    shrinking, so thin strokes fade rather than alias; bilinear with edge clamping when
//    enlarging (a tiny drawing); then the strongest pixel is scaled to 1, so thin strokes of a
//    large image, thinned by averaging, come back to full strength (MNIST's maximum is 254-255);
// 5. place in the 28x28 field shifted by whole pixels so the centre of mass is the nearest
//    point to (kMnistCentreOfMass, kMnistCentreOfMass), i.e. within 0.5 px in each axis; the
//    shift is clamped so nothing is cut off (only possible for a very lopsided shape). A
//    fractional shift would resample, and so blur, the digit a second time.
// requires: image satisfies the Image invariant (image.hpp), else std::invalid_argument.
// Thread-safety: pure function.
Preprocessed preprocess_digit(const Image& image);

}  // namespace digitpipe::infer
