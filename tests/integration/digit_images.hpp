// MNIST test digits as the integration tests send them: the 28x28 original as PNG, or drawn
// 10x larger (280x280, as the dashboard's canvas sends it) as PNG. One place, so every test
// sends the same kind of image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "digitpipe/idx.hpp"
#include "digitpipe/infer/image.hpp"

namespace digitpipe::integration {

// `images` is an MNIST images file (N x 28 x 28, u8). requires: index < N.
inline std::string mnist_png(const framework::IdxArray& images, std::size_t index) {
    const auto png = infer::encode_png_gray({images.data.data() + index * 784, 784}, 28, 28);
    return {png.begin(), png.end()};
}

// The same digit scaled 10x by pixel repetition, as a 280x280 PNG.
inline std::string canvas_png(const framework::IdxArray& images, std::size_t index) {
    std::vector<std::uint8_t> big(280 * 280);
    const auto* pixels = images.data.data() + index * 784;
    for (int y = 0; y < 280; ++y) {
        for (int x = 0; x < 280; ++x) {
            big[static_cast<std::size_t>(y * 280 + x)] =
                pixels[static_cast<std::size_t>((y / 10) * 28 + x / 10)];
        }
    }
    const auto png = infer::encode_png_gray(big, 280, 280);
    return {png.begin(), png.end()};
}

}  // namespace digitpipe::integration
