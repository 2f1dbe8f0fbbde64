// Experiment parsing (see experiment.hpp).
#include "digitpipe/training/experiment.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <stdexcept>

#include "digitpipe/nn/spec_yaml.hpp"

namespace digitpipe::training {
namespace {

namespace fw = framework;

const std::vector<std::string> kOptimizers{"adam", "sgd"};
const std::vector<std::string> kSchedules{"constant", "step", "cosine", "one_cycle", "plateau"};

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

bool one_of(const std::string& value, const std::vector<std::string>& allowed) {
    return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// A float setting in [low, high] (inclusive unless the flags say otherwise).
float read_float(const fw::ConfigNode& node, std::string_view key, double fallback, double low,
                 double high, bool low_open = false) {
    const double value = node.get_or<double>(key, fallback);
    const bool ok =
        std::isfinite(value) && (low_open ? value > low : value >= low) && value <= high;
    node.check(ok, key,
               "must be in " + std::string(low_open ? "(" : "[") + std::to_string(low) + ", " +
                   std::to_string(high) + "], got " + std::to_string(value));
    return static_cast<float>(value);
}

std::int64_t read_count(const fw::ConfigNode& node, std::string_view key, std::int64_t fallback,
                        std::int64_t minimum) {
    const auto value = node.get_or<std::int64_t>(key, fallback);
    node.check(value >= minimum, key,
               "must be >= " + std::to_string(minimum) + ", got " + std::to_string(value));
    return value;
}

augment::AugmentParams read_augmentation(const fw::ConfigNode& node, bool& enabled) {
    augment::AugmentParams p;
    enabled = node.get_or<bool>("enabled", true);
    p.rotation_degrees = node.get_or<double>("rotation_degrees", p.rotation_degrees);
    p.shift_fraction_x = node.get_or<double>("shift_fraction_x", p.shift_fraction_x);
    p.shift_fraction_y = node.get_or<double>("shift_fraction_y", p.shift_fraction_y);
    p.zoom_fraction = node.get_or<double>("zoom_fraction", p.zoom_fraction);
    p.shear_degrees = node.get_or<double>("shear_degrees", p.shear_degrees);
    const auto elastic = node.child_or_empty("elastic");
    p.elastic.enabled = elastic.get_or<bool>("enabled", false);
    p.elastic.alpha = elastic.get_or<double>("alpha", p.elastic.alpha);
    p.elastic.sigma = elastic.get_or<double>("sigma", p.elastic.sigma);
    for (const auto& problem : augment::find_problems(p)) node.report("", problem);
    return p;
}

}  // namespace

Experiment parse_experiment(const fw::ConfigNode& root, const std::filesystem::path& models_dir) {
    Experiment e;
    e.name = root.get<std::string>("name");
    root.check(std::regex_match(e.name, std::regex("[A-Za-z0-9_.-]{1,64}")), "name",
               "must be 1-64 of A-Z a-z 0-9 _ . - (it names the run folder), got '" + e.name + "'");
    e.seed = root.get_or<std::uint64_t>("seed", 0);

    // The architecture: a models/ name or an inline spec.
    const YAML::Node& document = root.yaml();
    if (document.IsMap() && document["model"] && document["model"].IsMap()) {
        e.model = nn::parse_network_spec(root.child("model"));  // throws ConfigError itself
    } else if (root.has("model")) {
        e.model_name = root.get<std::string>("model");
        if (!std::regex_match(e.model_name, std::regex("[A-Za-z0-9_-]{1,64}"))) {
            root.report("model", "must name a file in " + models_dir.string() +
                                     " (A-Z a-z 0-9 _ -, no path), got '" + e.model_name + "'");
        } else {
            const auto file = models_dir / (e.model_name + ".yaml");
            if (!std::filesystem::exists(file)) {
                root.report("model", "no architecture '" + e.model_name + "': " + file.string() +
                                         " does not exist");
            } else {
                e.model = nn::load_network_spec(file);
            }
        }
    } else {
        root.report("model", "missing required key (a models/ name or an inline architecture)");
    }

    const auto data = root.child_or_empty("data");
    e.plan.dataset = data.get_or<std::string>("dataset", "mnist");
    data.check(one_of(e.plan.dataset, dataset_names()), "dataset",
               "must be one of " + join(dataset_names()) + ", got '" + e.plan.dataset + "'");
    e.plan.validation = read_count(data, "validation", 0, 0);
    e.plan.limit = read_count(data, "limit", 0, 0);
    e.plan.seed = e.seed;

    if (const auto aug = root.find("augmentation")) {
        e.augmentation = read_augmentation(*aug, e.augment);
    }

    const auto training = root.child_or_empty("training");
    e.epochs = read_count(training, "epochs", 1, 1);
    e.plan.batch_size = read_count(training, "batch_size", 128, 1);
    const auto precision = training.get_or<std::string>("precision", "fp32");
    training.check(precision == "fp32" || precision == "bf16", "precision",
                   "must be fp32 or bf16, got '" + precision + "'");
    e.precision = precision == "bf16" ? nn::Precision::kBf16 : nn::Precision::kFp32;

    const auto opt = root.child_or_empty("optimizer");
    auto& o = e.optimizer;
    o.type = opt.get_or<std::string>("type", o.type);
    opt.check(one_of(o.type, kOptimizers), "type",
              "must be one of " + join(kOptimizers) + ", got '" + o.type + "'");
    o.lr = read_float(opt, "lr", o.lr, 0.0, 10.0, true);
    o.weight_decay = read_float(opt, "weight_decay", o.weight_decay, 0.0, 1.0);
    if (o.type == "adam") {
        o.beta1 = read_float(opt, "beta1", o.beta1, 0.0, 0.999999);
        o.beta2 = read_float(opt, "beta2", o.beta2, 0.0, 0.999999);
        o.epsilon = read_float(opt, "epsilon", o.epsilon, 0.0, 1.0, true);
    } else {
        o.momentum = read_float(opt, "momentum", o.momentum, 0.0, 0.999999);
        o.nesterov = opt.get_or<bool>("nesterov", o.nesterov);
        opt.check(!o.nesterov || o.momentum > 0, "nesterov", "needs momentum > 0");
    }

    const auto sched = root.child_or_empty("schedule");
    auto& s = e.schedule;
    s.type = sched.get_or<std::string>("type", s.type);
    sched.check(one_of(s.type, kSchedules), "type",
                "must be one of " + join(kSchedules) + ", got '" + s.type + "'");
    if (s.type == "cosine") {
        s.warmup_epochs = sched.get_or<double>("warmup_epochs", 0.0);
        sched.check(s.warmup_epochs >= 0 && s.warmup_epochs <= static_cast<double>(e.epochs),
                    "warmup_epochs", "must be in [0, training.epochs]");
        s.min_lr = read_float(sched, "min_lr", 0.0, 0.0, o.lr);
    } else if (s.type == "step") {
        s.step_epochs = read_count(sched, "step_epochs", s.step_epochs, 1);
        s.gamma = read_float(sched, "gamma", s.gamma, 0.0, 1.0, true);
    } else if (s.type == "one_cycle") {
        s.pct_start = read_float(sched, "pct_start", s.pct_start, 0.0, 0.99, true);
        s.div_factor = read_float(sched, "div_factor", s.div_factor, 1.0, 1e6);
        s.final_div_factor = read_float(sched, "final_div_factor", s.final_div_factor, 1.0, 1e9);
    } else if (s.type == "plateau") {
        s.factor = read_float(sched, "factor", s.factor, 0.0, 0.999999, true);
        s.patience = read_count(sched, "patience", s.patience, 0);
        s.min_delta = sched.get_or<double>("min_delta", s.min_delta);
        s.cooldown = read_count(sched, "cooldown", s.cooldown, 0);
        s.min_lr = read_float(sched, "min_lr", 0.0, 0.0, o.lr);
    }

    const auto stop = root.child_or_empty("stopping");
    e.stopping.patience = read_count(stop, "patience", 0, 0);
    stop.check(e.stopping.patience == 0 || e.plan.validation > 0, "patience",
               "early stopping watches validation loss: set data.validation > 0");
    e.stopping.target_accuracy = read_float(stop, "target_accuracy", 0.0, 0.0, 1.0);

    root.finish();  // throws every problem at once, unknown keys included

    YAML::Node effective = YAML::Clone(root.yaml());
    effective["model"] = YAML::Load(nn::format_network_spec_yaml(e.model));
    YAML::Emitter out;
    out << effective;
    e.yaml = std::string(out.c_str()) + "\n";
    return e;
}

nlohmann::json to_json(const augment::AugmentParams& p) {
    return {
        {"rotation_degrees", p.rotation_degrees},
        {"shift_fraction_x", p.shift_fraction_x},
        {"shift_fraction_y", p.shift_fraction_y},
        {"zoom_fraction", p.zoom_fraction},
        {"shear_degrees", p.shear_degrees},
        {"elastic",
         {{"enabled", p.elastic.enabled}, {"alpha", p.elastic.alpha}, {"sigma", p.elastic.sigma}}}};
}

augment::AugmentParams augment_params_from_json(const nlohmann::json& json) {
    const auto number = [](const nlohmann::json& object, const char* key, const char* where) {
        if (!object.is_object() || !object.contains(key) || !object.at(key).is_number()) {
            throw std::invalid_argument(std::string(where) + key + ": expected a number");
        }
        return object.at(key).get<double>();
    };
    augment::AugmentParams p;
    p.rotation_degrees = number(json, "rotation_degrees", "augmentation.");
    p.shift_fraction_x = number(json, "shift_fraction_x", "augmentation.");
    p.shift_fraction_y = number(json, "shift_fraction_y", "augmentation.");
    p.zoom_fraction = number(json, "zoom_fraction", "augmentation.");
    p.shear_degrees = number(json, "shear_degrees", "augmentation.");
    if (!json.contains("elastic") || !json.at("elastic").is_object() ||
        !json.at("elastic").contains("enabled") || !json.at("elastic").at("enabled").is_boolean()) {
        throw std::invalid_argument("augmentation.elastic.enabled: expected a boolean");
    }
    const auto& elastic = json.at("elastic");
    p.elastic.enabled = elastic.at("enabled").get<bool>();
    p.elastic.alpha = number(elastic, "alpha", "augmentation.elastic.");
    p.elastic.sigma = number(elastic, "sigma", "augmentation.elastic.");
    const auto problems = augment::find_problems(p);
    if (!problems.empty()) throw std::invalid_argument("augmentation: " + problems.front());
    return p;
}

}  // namespace digitpipe::training
