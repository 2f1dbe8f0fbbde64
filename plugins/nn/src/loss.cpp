// Fused softmax cross-entropy (see loss.hpp): the loss the train stage minimises and the
// gradient that starts backpropagation.
#include "digitpipe/nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace digitpipe::nn {

StepResult softmax_cross_entropy(std::span<const float> logits,
                                 std::span<const std::int32_t> labels, std::int64_t classes,
                                 std::span<float> diff_logits) {
    if (classes <= 0 || logits.size() != labels.size() * static_cast<std::size_t>(classes)) {
        throw std::invalid_argument("softmax_cross_entropy: logits has " +
                                    std::to_string(logits.size()) + " values, expected labels (" +
                                    std::to_string(labels.size()) + ") x classes (" +
                                    std::to_string(classes) + ")");
    }
    if (!diff_logits.empty() && diff_logits.size() != logits.size()) {
        throw std::invalid_argument("softmax_cross_entropy: diff_logits has " +
                                    std::to_string(diff_logits.size()) + " values, expected " +
                                    std::to_string(logits.size()));
    }
    const auto k = static_cast<std::size_t>(classes);
    const std::size_t n = labels.size();
    const double inv_n = n == 0 ? 0.0 : 1.0 / static_cast<double>(n);
    double loss_sum = 0.0;
    std::int64_t correct = 0;
    for (std::size_t row = 0; row < n; ++row) {
        const std::int32_t label = labels[row];
        if (label < 0 || label >= classes) {
            throw std::invalid_argument("softmax_cross_entropy: label of row " +
                                        std::to_string(row) + " is " + std::to_string(label) +
                                        ", expected 0.." + std::to_string(classes - 1));
        }
        const float* z = logits.data() + row * k;
        const std::size_t argmax = static_cast<std::size_t>(std::max_element(z, z + k) - z);
        correct += argmax == static_cast<std::size_t>(label) ? 1 : 0;
        // Shifting by the max keeps exp() from overflowing; the sum is in double so a batch of
        // confident rows does not lose the small terms.
        const double z_max = z[argmax];
        double sum = 0.0;
        for (std::size_t c = 0; c < k; ++c) {
            sum += std::exp(static_cast<double>(z[c]) - z_max);
        }
        const double log_sum = std::log(sum);
        loss_sum += log_sum - (static_cast<double>(z[label]) - z_max);
        if (!diff_logits.empty()) {
            float* g = diff_logits.data() + row * k;
            for (std::size_t c = 0; c < k; ++c) {
                const double p = std::exp(static_cast<double>(z[c]) - z_max - log_sum);
                const double target = c == static_cast<std::size_t>(label) ? 1.0 : 0.0;
                g[c] = static_cast<float>((p - target) * inv_n);
            }
        }
    }
    return {static_cast<float>(loss_sum * inv_n), correct};
}

}  // namespace digitpipe::nn
