// Evaluation of a network on a labelled image set: accuracy, mean loss, the confusion matrix,
// per-class precision, recall and F1, and the most confidently wrong examples. Used by the
// train stage after every epoch and by the evaluate stage.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/training/dataset.hpp"

namespace digitpipe::training {

struct ClassMetrics {
    double precision = 0.0;  // 0 when nothing was predicted as the class
    double recall = 0.0;     // 0 when the class has no example
    double f1 = 0.0;
    std::int64_t support = 0;  // examples whose label is the class
};

// One misclassified example.
struct Mistake {
    std::int64_t index = 0;  // in the dataset
    std::int32_t label = 0;
    std::int32_t predicted = 0;
    float confidence = 0.0F;  // softmax probability of `predicted`
};

struct Evaluation {
    std::int64_t count = 0;
    std::int64_t correct = 0;
    double accuracy = 0.0;
    double loss = 0.0;  // mean softmax cross-entropy
    // confusion[label][predicted]
    std::vector<std::vector<std::int64_t>> confusion;
    std::vector<ClassMetrics> per_class;
    std::vector<Mistake> most_confident_wrong;  // highest confidence first
};

// Copies images (u8) of `indices` into `dst` as floats in [0, 1] and their labels.
// requires: dst.size() == indices.size() * image_size, labels.size() == indices.size().
void gather_batch(const Dataset& dataset, std::span<const std::int64_t> indices,
                  std::span<float> dst, std::span<std::int32_t> labels);

// Runs `network` in inference mode over `indices` of `dataset` (all images when empty), in
// batches of at most `batch_size`, keeping the `top_mistakes` most confident mistakes.
// requires: the network's input is 1 x height x width of the dataset and its output has one
//           logit per class.
// throws: std::invalid_argument when the shapes disagree.
Evaluation evaluate(nn::Network& network, const Dataset& dataset,
                    std::span<const std::int64_t> indices = {}, std::int64_t batch_size = 500,
                    std::size_t top_mistakes = 20);

// Builds the metrics from a confusion matrix and the summed loss (for callers that count
// themselves). requires: confusion is square.
Evaluation summarize(std::vector<std::vector<std::int64_t>> confusion, double loss_sum);

// {"count", "correct", "accuracy", "loss", "confusion", "classes": [{"name", "precision",
// "recall", "f1", "support"}...], "most_confident_wrong": [{"index", "label", "predicted",
// "confidence"}...]}.
nlohmann::json to_json(const Evaluation& evaluation, const std::vector<std::string>& class_names);

}  // namespace digitpipe::training
