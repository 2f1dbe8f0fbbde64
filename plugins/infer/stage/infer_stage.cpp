// The infer stage: reads digits. Requests that arrive together (the deployment's
// stages.infer.batch) share one forward pass; a model announced by a model.published event is
// loaded on the host's event thread and swapped in between requests, so no request fails or
// waits for the load; a model that fails to load leaves the old one serving.
//
// Verbs:
//   infer.predict     payload "image" (PNG or JPEG bytes, any size within the limits);
//                     replies {found, digit, label, confidence, probabilities[10], model} and
//                     payload "input" (u8 28x28, what the model saw). found = false (no
//                     digit, or an empty canvas) comes with a message and no digit.
//   infer.sample      header {n: 1..100}: n random test images; replies {samples: [{index,
//                     label, predicted, confidence, correct}]} and payload "images" (u8 n x
//                     28 x 28)
//   infer.model_info  the model's metadata: architecture, parameters, file size, sha256,
//                     metrics, evaluation (per class, confusion), curves, created
//   infer.reload      header {model: path (optional)}: loads the model again (or another one)
//                     and swaps it in; a model that fails to load leaves the old one serving
// Events: follows model.published {path, dataset, sha256} (models of the serving model's
//   dataset; a file whose sha256 differs from the event's is refused); publishes model.loaded
//   {sha256, model, run, path} after a swap and model.load_failed {path, error} when a model
//   could not be loaded.
// Params:
//   model: digitpipe-mnist.safetensors   # relative to paths.models
//   follow_published: true               # swap in models that training publishes
//   max_image_bytes: 8388608
//   max_image_side: 4096
//   max_image_pixels: 16777216
//   warm_batch_max: 1                    # make the primitives of batch sizes 1..N whenever a
//                                        # model loads (set it to stages.infer.batch.max_size):
//                                        # no request pays for making them, and the worker's
//                                        # memory does not grow as new batch sizes turn up
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <random>

#include "digitpipe/infer/image.hpp"
#include "digitpipe/infer/preprocess.hpp"
#include "digitpipe/nn/safetensors.hpp"
#include "digitpipe/stage.hpp"
#include "digitpipe/training/dataset.hpp"
#include "digitpipe/training/evaluation.hpp"

namespace digitpipe::infer {
namespace {

namespace fw = framework;
namespace tr = training;
using nlohmann::json;

constexpr int kMaxSamples = 100;

// A loaded model: the network (fp32, inference mode) and what its file says about it.
struct Model {
    std::filesystem::path file;
    std::unique_ptr<nn::Network> network;
    std::vector<std::string> class_names;
    json info;
};

json parse_or_null(const std::map<std::string, std::string>& metadata, const std::string& key) {
    const auto it = metadata.find(key);
    if (it == metadata.end()) return nullptr;
    return json::parse(it->second, nullptr, /*allow_exceptions=*/false);
}

// throws: nn::SafetensorsError, fw::ConfigError, std::invalid_argument naming the file.
Model load_model(const std::filesystem::path& file) {
    auto loaded = nn::load_network(file);
    const auto& spec = loaded.network->spec();
    if (spec.input != std::vector<std::int64_t>{1, kMnistSide, kMnistSide}) {
        throw std::invalid_argument(file.string() + ": the model takes " +
                                    nn::format_dims(spec.input) + " inputs, not 1x28x28");
    }
    Model model;
    model.file = file;
    model.network = std::move(loaded.network);
    const auto names = parse_or_null(loaded.metadata, "class_names");
    if (names.is_array()) {
        for (const auto& n : names)
            model.class_names.push_back(n.is_string() ? n.get<std::string>() : "?");
    }
    if (static_cast<std::int64_t>(model.class_names.size()) != model.network->output_size()) {
        model.class_names.clear();
        for (std::int64_t c = 0; c < model.network->output_size(); ++c) {
            model.class_names.push_back(std::to_string(c));
        }
    }
    const auto meta = [&](const char* key) {
        const auto it = loaded.metadata.find(key);
        return it == loaded.metadata.end() ? json(nullptr) : json(it->second);
    };
    model.info = {{"model", file.filename().string()},
                  {"sha256", loaded.file_sha256},
                  {"size_bytes", std::filesystem::file_size(file)},
                  {"architecture", spec.name},
                  {"parameters", model.network->parameter_count()},
                  {"trainable_parameters", model.network->parameter_count(true)},
                  {"class_names", model.class_names},
                  {"dataset", meta("dataset")},
                  {"run", meta("run")},
                  {"created", meta("created")},
                  {"metrics", parse_or_null(loaded.metadata, "metrics")},
                  {"evaluation", parse_or_null(loaded.metadata, "evaluation")},
                  {"curves", parse_or_null(loaded.metadata, "curves")}};
    return model;
}

// Runs a blank batch of every size 1..max_batch through the model, so the engine makes (and
// keeps) the primitives of each size now rather than on the first request of that size.
void warm_up(const Model& model, int max_batch) {
    std::vector<float> blank;
    for (int n = 1; n <= max_batch; ++n) {
        blank.assign(static_cast<std::size_t>(n) * kMnistPixels, 0.0F);
        model.network->predict(blank);
    }
}

fw::Reply error(fw::StatusCode code, std::string message) {
    return fw::Reply::error(fw::Status{code, std::move(message)});
}

class InferStage final : public fw::Stage {
 public:
    void configure(const fw::ConfigNode& params, fw::StageContext& context) override {
        context_ = &context;
        const auto model = params.get_or<std::string>("model", "digitpipe-mnist.safetensors");
        const auto bytes = params.get_or<std::int64_t>("max_image_bytes", 8 << 20);
        const auto side = params.get_or<std::int64_t>("max_image_side", 4096);
        const auto pixels = params.get_or<std::int64_t>("max_image_pixels", 1 << 24);
        params.check(bytes >= 1024 && bytes <= (std::int64_t{256} << 20), "max_image_bytes",
                     "must be in [1024, 268435456]");
        params.check(side >= 28 && side <= 65535, "max_image_side", "must be in [28, 65535]");
        params.check(pixels >= 784, "max_image_pixels", "must be >= 784");
        const bool follow_published = params.get_or<bool>("follow_published", true);
        const auto warm = params.get_or<int>("warm_batch_max", 1);
        params.check(warm >= 1 && warm <= 1024, "warm_batch_max", "must be in [1, 1024]");
        params.finish();
        warm_batch_max_ = std::clamp(warm, 1, 1024);
        limits_.max_bytes = static_cast<std::size_t>(bytes);
        limits_.max_width = limits_.max_height = static_cast<int>(side);
        limits_.max_pixels = static_cast<std::uint64_t>(pixels);
        models_dir_ = context.path("models");
        data_dir_ = context.path("data");
        // A worker without its model fails to start.
        model_ = std::make_shared<const Model>(load_model(resolve(model)));
        warm_up(*model_, warm_batch_max_);
        context.logger().info("model loaded",
                              {{"model", model_->file.string()},
                               {"sha256", model_->info["sha256"].get<std::string>()}});
        if (follow_published) {
            context.subscribe("model.published",
                              [this](std::string_view, const json& event) { follow(event); });
        }
    }

    fw::Reply process(const fw::Request& request) override {
        if (request.verb == "infer.predict") return std::move(predict_batch({&request, 1})[0]);
        if (request.verb == "infer.sample") return sample(request);
        if (request.verb == "infer.model_info") return fw::Reply::ok(current()->info);
        if (request.verb == "infer.reload") return reload(request);
        return error(fw::StatusCode::kUnimplemented,
                     "infer stage: unknown verb '" + request.verb +
                         "' (infer.predict, infer.sample, infer.model_info, infer.reload)");
    }

    // The predicts among `requests` share one forward pass; the rest go one by one.
    std::vector<fw::Reply> process_batch(std::span<const fw::Request> requests) override {
        std::vector<fw::Request> predicts;
        std::vector<std::size_t> slots;
        std::vector<fw::Reply> replies(requests.size());
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (requests[i].verb == "infer.predict") {
                predicts.push_back(requests[i]);
                slots.push_back(i);
            } else {
                replies[i] = process(requests[i]);
            }
        }
        auto predicted = predict_batch(predicts);
        for (std::size_t i = 0; i < slots.size(); ++i) replies[slots[i]] = std::move(predicted[i]);
        return replies;
    }

    fw::Health health() const override {
        const auto model = current();
        return {fw::HealthState::kReady,
                "model " + model->info["model"].get<std::string>() + " " +
                    model->info["sha256"].get<std::string>().substr(0, 12)};
    }

    void collect_metrics(fw::MetricSink& sink) const override {
        sink.counter("infer_predictions_total", static_cast<double>(predictions_),
                     "Images read (digit found or not)");
        sink.counter("infer_no_digit_total", static_cast<double>(no_digit_),
                     "Images with no digit found");
        sink.counter("infer_bad_images_total", static_cast<double>(bad_images_),
                     "Uploads refused as not a readable image");
        sink.counter("infer_model_loads_total", static_cast<double>(loads_.load()),
                     "Models loaded");
        sink.counter("infer_model_load_failures_total", static_cast<double>(load_failures_.load()),
                     "Models that failed to load (the old one kept serving)");
    }

 private:
    std::filesystem::path resolve(const std::string& model) const {
        const std::filesystem::path path(model);
        return path.is_absolute() ? path : models_dir_ / path;
    }

    // The serving model; the pointer keeps it alive for whoever holds it across a swap.
    std::shared_ptr<const Model> current() const {
        const std::lock_guard lock(model_mutex_);
        return model_;
    }

    // Swaps `model` in (any thread). Requests already running finish on the old one.
    void swap_in(std::shared_ptr<const Model> model) {
        {
            const std::lock_guard lock(model_mutex_);
            model_ = model;
        }
        ++loads_;
        context_->logger().info("model swapped in",
                                {{"model", model->file.string()},
                                 {"sha256", model->info["sha256"].get<std::string>()}});
        context_->publish("model.loaded", {{"sha256", model->info["sha256"]},
                                           {"model", model->info["model"]},
                                           {"run", model->info["run"]},
                                           {"path", model->file.string()}});
    }

    // On the host's event thread: loads a published model and swaps it in, if it reads the
    // serving model's dataset (a Fashion-MNIST model must not start answering digit drawings).
    void follow(const json& event) {
        const auto path = event.value("path", std::string());
        const auto dataset = event.value("dataset", std::string());
        const auto serving = current()->info["dataset"];
        if (serving.is_string() && !dataset.empty() && dataset != serving.get<std::string>()) {
            context_->logger().info("published model ignored: another dataset",
                                    {{"path", path}, {"dataset", dataset}});
            return;
        }
        try {
            if (path.empty()) throw std::invalid_argument("model.published carries no path");
            auto model = std::make_shared<const Model>(load_model(path));
            // The event records the digest of the file its publisher checked; a file swapped
            // or damaged since then must not serve, even when it still parses as a model.
            const auto expected = event.value("sha256", std::string());
            const auto actual = model->info["sha256"].get<std::string>();
            if (!expected.empty() && expected != actual) {
                throw std::invalid_argument(path + ": sha256 mismatch: model.published records " +
                                            expected + ", the file hashes to " + actual +
                                            " (file changed or damaged after publishing)");
            }
            // The primitives now, so the first requests after the swap are not slow.
            warm_up(*model, warm_batch_max_);
            swap_in(std::move(model));
        } catch (const std::exception& e) {
            ++load_failures_;
            context_->logger().warn("published model not loaded; the old one keeps serving",
                                    {{"path", path}, {"error", e.what()}});
            context_->publish("model.load_failed", {{"path", path}, {"error", e.what()}});
        }
    }

    // Decodes and preprocesses each request's image on its own (a bad one fails alone), then
    // runs one forward pass for every image that holds a digit.
    std::vector<fw::Reply> predict_batch(std::span<const fw::Request> requests) {
        const auto model = current();
        std::vector<fw::Reply> replies(requests.size());
        std::vector<std::size_t> found;  // requests with a digit, in batch order
        std::vector<float> inputs;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            const auto* payload = requests[i].find_payload("image");
            if (payload == nullptr) {
                replies[i] = error(fw::StatusCode::kInvalidArgument,
                                   "infer.predict: payload 'image' (PNG or JPEG bytes) is missing");
                continue;
            }
            Preprocessed input;
            try {
                const auto image =
                    decode_image({reinterpret_cast<const std::uint8_t*>(payload->bytes.data()),
                                  payload->bytes.size()},
                                 limits_);
                input = preprocess_digit(image);
            } catch (const ImageError& e) {
                ++bad_images_;
                replies[i] = fw::Reply::error(fw::invalid_argument(e.what()), {{"field", "image"}});
                continue;
            }
            ++predictions_;
            replies[i] = fw::Reply::ok({{"found", input.found}, {"model", model->info["sha256"]}});
            replies[i].payloads.push_back({"input",
                                           "u8",
                                           {kMnistSide, kMnistSide},
                                           std::string(input.pixels.begin(), input.pixels.end())});
            if (!input.found) {
                ++no_digit_;
                replies[i].header["message"] = "no digit found: the image is blank or uniform";
                continue;
            }
            found.push_back(i);
            inputs.insert(inputs.end(), input.input.begin(), input.input.end());
        }
        if (found.empty()) return replies;
        const auto logits = model->network->predict(inputs);
        const auto classes = static_cast<std::size_t>(model->network->output_size());
        for (std::size_t k = 0; k < found.size(); ++k) {
            const auto probabilities = softmax(logits.subspan(k * classes, classes));
            const auto best = static_cast<std::size_t>(
                std::max_element(probabilities.begin(), probabilities.end()) -
                probabilities.begin());
            auto& header = replies[found[k]].header;
            header["digit"] = best;
            header["label"] = model->class_names[best];
            header["confidence"] = probabilities[best];
            header["probabilities"] = probabilities;
        }
        return replies;
    }

    static std::vector<double> softmax(std::span<const float> logits) {
        const float top = *std::max_element(logits.begin(), logits.end());
        std::vector<double> p(logits.size());
        double sum = 0.0;
        for (std::size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(logits[i] - top);
        for (auto& v : p) v /= sum;
        return p;
    }

    fw::Reply sample(const fw::Request& request) {
        const auto& n_field = request.header.contains("n") ? request.header["n"] : json(12);
        if (!n_field.is_number_integer() || n_field.get<int>() < 1 ||
            n_field.get<int>() > kMaxSamples) {
            return error(
                fw::StatusCode::kInvalidArgument,
                "infer.sample: n must be an integer in [1, " + std::to_string(kMaxSamples) + "]");
        }
        const auto n = n_field.get<std::int64_t>();
        const auto model = current();
        const auto dataset = model->info["dataset"].is_string()
                                 ? model->info["dataset"].get<std::string>()
                                 : std::string("mnist");
        if (!test_set_ || test_set_->name != dataset) {  // the model may have changed
            test_set_.reset();
            try {
                test_set_ = std::make_unique<tr::Dataset>(
                    tr::load_dataset(data_dir_, dataset, tr::Split::kTest));
            } catch (const std::exception& e) {
                return error(fw::StatusCode::kFailedPrecondition,
                             std::string("infer.sample: ") + e.what());
            }
        }
        std::uniform_int_distribution<std::int64_t> pick(0, test_set_->count - 1);
        std::vector<std::int64_t> indices(static_cast<std::size_t>(n));
        for (auto& i : indices) i = pick(random_);
        std::vector<float> images(indices.size() * static_cast<std::size_t>(kMnistPixels));
        std::vector<std::int32_t> labels(indices.size());
        tr::gather_batch(*test_set_, indices, images, labels);
        const auto logits = model->network->predict(images);
        json samples = json::array();
        std::string bytes;
        const auto classes = static_cast<std::size_t>(model->network->output_size());
        for (std::size_t i = 0; i < indices.size(); ++i) {
            const auto p = softmax(logits.subspan(i * classes, classes));
            const auto best =
                static_cast<std::int32_t>(std::max_element(p.begin(), p.end()) - p.begin());
            samples.push_back({{"index", indices[i]},
                               {"label", labels[i]},
                               {"predicted", best},
                               {"confidence", p[static_cast<std::size_t>(best)]},
                               {"correct", best == labels[i]}});
            const auto image = test_set_->image(indices[i]);
            bytes.append(image.begin(), image.end());
        }
        fw::Reply reply = fw::Reply::ok({{"samples", samples}, {"model", model->info["sha256"]}});
        reply.payloads.push_back({"images", "u8", {n, kMnistSide, kMnistSide}, std::move(bytes)});
        return reply;
    }

    fw::Reply reload(const fw::Request& request) {
        std::filesystem::path file = current()->file;
        if (request.header.contains("model")) {
            if (!request.header["model"].is_string()) {
                return error(fw::StatusCode::kInvalidArgument,
                             "infer.reload: model must be a path");
            }
            file = resolve(request.header["model"].get<std::string>());
        }
        std::shared_ptr<const Model> model;
        try {
            model = std::make_shared<const Model>(load_model(file));
            warm_up(*model, warm_batch_max_);
        } catch (const std::exception& e) {
            ++load_failures_;
            return error(fw::StatusCode::kFailedPrecondition,
                         std::string("infer.reload: kept the current model: ") + e.what());
        }
        swap_in(model);
        return fw::Reply::ok(model->info);
    }

    fw::StageContext* context_ = nullptr;
    int warm_batch_max_ = 1;
    DecodeLimits limits_;
    std::filesystem::path models_dir_;
    std::filesystem::path data_dir_;
    mutable std::mutex model_mutex_;         // guards model_ (swapped by the event thread)
    std::shared_ptr<const Model> model_;     // never null after configure()
    std::unique_ptr<tr::Dataset> test_set_;  // the model's test set, loaded by infer.sample
    std::mt19937_64 random_{std::random_device{}()};
    std::uint64_t predictions_ = 0;
    std::uint64_t no_digit_ = 0;
    std::uint64_t bad_images_ = 0;
    std::atomic<std::uint64_t> loads_{1};
    std::atomic<std::uint64_t> load_failures_{0};
};

}  // namespace
}  // namespace digitpipe::infer

DIGITPIPE_DECLARE_STAGE(digitpipe::infer::InferStage, "infer")
