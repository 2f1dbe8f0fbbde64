// Softmax cross-entropy, the engine's training loss, fused with its gradient: for logits z and
// label y, loss = logsumexp(z) - z_y and d loss / d z = softmax(z) - onehot(y). Written by hand
// rather than with oneDNN's softmax: on N x 10 logits it is a few microseconds, and the fused
// form avoids log(softmax) underflow.
#pragma once

#include <cstdint>
#include <span>

#include "digitpipe/nn/network.hpp"

namespace digitpipe::nn {

// Mean softmax cross-entropy over a batch, and its gradient.
// requires: logits holds N x classes fp32 row-major, labels N values in [0, classes);
//           diff_logits is empty (no gradient) or has logits.size() values.
// ensures: diff_logits = (softmax(logits) - onehot(labels)) / N, the gradient of the mean.
// returns: the mean loss and the number of rows whose argmax equals the label.
// throws: std::invalid_argument naming the row for a label out of range, or on size mismatch.
// Thread-safety: pure function; writes only diff_logits.
StepResult softmax_cross_entropy(std::span<const float> logits,
                                 std::span<const std::int32_t> labels, std::int64_t classes,
                                 std::span<float> diff_logits);

}  // namespace digitpipe::nn
