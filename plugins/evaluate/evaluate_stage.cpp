// The evaluate stage: scores a saved model on a dataset's test set.
//
// Verb evaluate, header {model: path (absolute, or relative to paths.models), dataset: mnist |
// fashion (default: the dataset the model was trained on), top_mistakes: 20}; replies with the
// evaluation (training/evaluation.hpp's JSON) plus {model, sha256, architecture, dataset,
// precision: fp32}. A model that is missing, truncated, corrupt or for other image sizes is
// refused with an error naming the file and the problem.
// Params: none.
#include "digitpipe/nn/safetensors.hpp"
#include "digitpipe/stage.hpp"
#include "digitpipe/training/evaluation.hpp"

namespace digitpipe::evaluate {
namespace {

namespace fw = framework;
namespace tr = training;

class EvaluateStage final : public fw::Stage {
 public:
    void configure(const fw::ConfigNode& params, fw::StageContext& context) override {
        params.finish();
        data_dir_ = context.path("data");
        models_dir_ = context.path("models");
    }

    fw::Reply process(const fw::Request& request) override {
        if (request.verb != "evaluate") {
            return fw::Reply::error(
                fw::Status{fw::StatusCode::kUnimplemented,
                           "evaluate stage: unknown verb '" + request.verb + "' (evaluate)"});
        }
        const auto& h = request.header;
        if (!h.contains("model") || !h["model"].is_string() ||
            h["model"].get<std::string>().empty()) {
            return fw::Reply::error(
                fw::invalid_argument("evaluate: header.model must be a model file path"));
        }
        std::filesystem::path file = h["model"].get<std::string>();
        if (file.is_relative()) file = models_dir_ / file;
        const auto top = h.value("top_mistakes", 20);
        if (top < 0 || top > 1000) {
            return fw::Reply::error(
                fw::invalid_argument("evaluate: top_mistakes must be in [0, 1000]"));
        }
        try {
            if (!std::filesystem::is_regular_file(file)) {
                return fw::Reply::error(fw::Status{fw::StatusCode::kNotFound,
                                                   "evaluate: no model file " + file.string()});
            }
            const auto loaded = nn::load_network(file);
            auto& network = *loaded.network;
            std::string dataset_name = h.value("dataset", std::string());
            if (dataset_name.empty()) {
                const auto trained_on = loaded.metadata.find("dataset");
                dataset_name = trained_on != loaded.metadata.end() ? trained_on->second : "mnist";
            }
            const auto dataset = tr::load_dataset(data_dir_, dataset_name, tr::Split::kTest);
            const auto evaluation =
                tr::evaluate(network, dataset, {}, 500, static_cast<std::size_t>(top));
            auto reply = tr::to_json(evaluation, dataset.class_names);
            reply["model"] = file.string();
            reply["sha256"] = loaded.file_sha256;
            reply["architecture"] = network.spec().name;
            reply["dataset"] = dataset.name;
            reply["precision"] = "fp32";
            ++evaluations_;
            return fw::Reply::ok(reply);
        } catch (const fw::ConfigError& e) {
            return fw::Reply::error(fw::invalid_argument(e.what()));
        } catch (const nn::SafetensorsError& e) {
            return fw::Reply::error(fw::invalid_argument(e.what()));
        } catch (const std::invalid_argument& e) {
            return fw::Reply::error(fw::invalid_argument(file.string() + ": " + e.what()));
        }
    }

    fw::Health health() const override { return {fw::HealthState::kReady, "ready"}; }
    void collect_metrics(fw::MetricSink& sink) const override {
        sink.counter("evaluations_total", static_cast<double>(evaluations_), "Models evaluated");
    }

 private:
    std::filesystem::path data_dir_;
    std::filesystem::path models_dir_;
    std::uint64_t evaluations_ = 0;
};

}  // namespace
}  // namespace digitpipe::evaluate

DIGITPIPE_DECLARE_STAGE(digitpipe::evaluate::EvaluateStage, "evaluate")
