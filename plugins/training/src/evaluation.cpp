// Evaluation metrics (see evaluation.hpp).
#include "digitpipe/training/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "digitpipe/nn/loss.hpp"

namespace digitpipe::training {

void gather_batch(const Dataset& dataset, std::span<const std::int64_t> indices,
                  std::span<float> dst, std::span<std::int32_t> labels) {
    const auto size = static_cast<std::size_t>(dataset.image_size());
    for (std::size_t i = 0; i < indices.size(); ++i) {
        const auto image = dataset.image(indices[i]);
        float* out = dst.data() + i * size;
        for (std::size_t p = 0; p < size; ++p) out[p] = static_cast<float>(image[p]) / 255.0F;
        labels[i] = dataset.labels[static_cast<std::size_t>(indices[i])];
    }
}

Evaluation summarize(std::vector<std::vector<std::int64_t>> confusion, double loss_sum) {
    Evaluation e;
    const std::size_t classes = confusion.size();
    e.per_class.resize(classes);
    std::vector<std::int64_t> predicted(classes, 0);
    for (std::size_t label = 0; label < classes; ++label) {
        for (std::size_t p = 0; p < classes; ++p) {
            e.count += confusion[label][p];
            predicted[p] += confusion[label][p];
            e.per_class[label].support += confusion[label][p];
        }
        e.correct += confusion[label][label];
    }
    for (std::size_t c = 0; c < classes; ++c) {
        auto& m = e.per_class[c];
        const auto hits = static_cast<double>(confusion[c][c]);
        m.precision = predicted[c] > 0 ? hits / static_cast<double>(predicted[c]) : 0.0;
        m.recall = m.support > 0 ? hits / static_cast<double>(m.support) : 0.0;
        m.f1 = m.precision + m.recall > 0 ? 2.0 * m.precision * m.recall / (m.precision + m.recall)
                                          : 0.0;
    }
    e.accuracy = e.count > 0 ? static_cast<double>(e.correct) / static_cast<double>(e.count) : 0.0;
    e.loss = e.count > 0 ? loss_sum / static_cast<double>(e.count) : 0.0;
    e.confusion = std::move(confusion);
    return e;
}

Evaluation evaluate(nn::Network& network, const Dataset& dataset,
                    std::span<const std::int64_t> indices, std::int64_t batch_size,
                    std::size_t top_mistakes) {
    const auto classes = static_cast<std::int64_t>(dataset.class_names.size());
    if (network.input_size() != dataset.image_size() || network.output_size() != classes) {
        throw std::invalid_argument(
            "network '" + network.spec().name + "' takes " + std::to_string(network.input_size()) +
            " inputs and gives " + std::to_string(network.output_size()) + " outputs; dataset '" +
            dataset.name + "' has " + std::to_string(dataset.height) + "x" +
            std::to_string(dataset.width) + " images and " + std::to_string(classes) + " classes");
    }
    std::vector<std::int64_t> all;
    if (indices.empty()) {
        all.resize(static_cast<std::size_t>(dataset.count));
        for (std::int64_t i = 0; i < dataset.count; ++i) all[static_cast<std::size_t>(i)] = i;
        indices = all;
    }
    std::vector<std::vector<std::int64_t>> confusion(
        static_cast<std::size_t>(classes),
        std::vector<std::int64_t>(static_cast<std::size_t>(classes), 0));
    std::vector<Mistake> mistakes;
    double loss_sum = 0.0;
    std::vector<float> images;
    std::vector<std::int32_t> labels;
    for (std::size_t begin = 0; begin < indices.size();
         begin += static_cast<std::size_t>(batch_size)) {
        const auto n = std::min(indices.size() - begin, static_cast<std::size_t>(batch_size));
        images.resize(n * static_cast<std::size_t>(dataset.image_size()));
        labels.resize(n);
        gather_batch(dataset, indices.subspan(begin, n), images, labels);
        const auto logits = network.predict(images);
        const auto result = nn::softmax_cross_entropy(logits, labels, classes, {});
        loss_sum += static_cast<double>(result.loss) * static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) {
            const float* row = logits.data() + i * static_cast<std::size_t>(classes);
            const auto best = std::max_element(row, row + classes) - row;
            ++confusion[static_cast<std::size_t>(labels[i])][static_cast<std::size_t>(best)];
            if (best != labels[i]) {
                double sum = 0.0;
                for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] - row[best]);
                mistakes.push_back({indices[begin + i], labels[i], static_cast<std::int32_t>(best),
                                    static_cast<float>(1.0 / sum)});
            }
        }
    }
    Evaluation e = summarize(std::move(confusion), loss_sum);
    std::sort(mistakes.begin(), mistakes.end(), [](const Mistake& a, const Mistake& b) {
        return a.confidence != b.confidence ? a.confidence > b.confidence : a.index < b.index;
    });
    if (mistakes.size() > top_mistakes) mistakes.resize(top_mistakes);
    e.most_confident_wrong = std::move(mistakes);
    return e;
}

nlohmann::json to_json(const Evaluation& e, const std::vector<std::string>& class_names) {
    nlohmann::json classes = nlohmann::json::array();
    for (std::size_t c = 0; c < e.per_class.size(); ++c) {
        const auto& m = e.per_class[c];
        classes.push_back({{"name", c < class_names.size() ? class_names[c] : std::to_string(c)},
                           {"precision", m.precision},
                           {"recall", m.recall},
                           {"f1", m.f1},
                           {"support", m.support}});
    }
    nlohmann::json wrong = nlohmann::json::array();
    for (const auto& m : e.most_confident_wrong) {
        wrong.push_back({{"index", m.index},
                         {"label", m.label},
                         {"predicted", m.predicted},
                         {"confidence", m.confidence}});
    }
    return {{"count", e.count},
            {"correct", e.correct},
            {"accuracy", e.accuracy},
            {"loss", e.loss},
            {"confusion", e.confusion},
            {"classes", classes},
            {"most_confident_wrong", wrong}};
}

}  // namespace digitpipe::training
