// Network specs from YAML: one pass over the document records every problem through ConfigNode
// (so a user sees all typos at once), then shape inference checks the structure.
#include "digitpipe/nn/spec_yaml.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace digitpipe::nn {
namespace {

using framework::ConfigNode;

constexpr std::array<std::pair<std::string_view, Init>, 3> kInits{{
    {"glorot_uniform", Init::kGlorotUniform},
    {"he_normal", Init::kHeNormal},
    {"he_uniform", Init::kHeUniform},
}};

constexpr std::string_view kLayerTypes =
    "conv2d, batch_norm, relu, max_pool, dropout, global_avg_pool, flatten, dense";

// Layer names become prefixes of parameter names in weight files ("conv_1.weights"), so they
// must not contain the separator or anything a shell or Python tool would trip over.
bool valid_layer_name(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// Reads an integer option; a present value below `minimum` is a problem. Absent: fallback.
std::int64_t read_int(const ConfigNode& layer, std::string_view key, std::int64_t fallback,
                      std::int64_t minimum, bool required = false) {
    if (required && !layer.has(key)) {
        layer.report("", "missing required key '" + std::string(key) + "'");
        return fallback;
    }
    const auto value = layer.get_or<std::int64_t>(key, fallback);
    if (!layer.check(value >= minimum, key,
                     "must be >= " + std::to_string(minimum) + ", got " + std::to_string(value))) {
        return fallback;
    }
    return value;
}

// Reads a float option in [low, high) (or (low, high) when exclusive_low).
float read_fraction(const ConfigNode& layer, std::string_view key, float fallback, double low,
                    double high, bool exclusive_low) {
    const double value = layer.get_or<double>(key, fallback);
    const bool ok = (exclusive_low ? value > low : value >= low) && value < high;
    const std::string range = std::string(exclusive_low ? "(" : "[") + std::to_string(low) + ", " +
                              std::to_string(high) + ")";
    if (!layer.check(ok, key, "must be in " + range + ", got " + std::to_string(value))) {
        return fallback;
    }
    return static_cast<float>(value);
}

Init read_init(const ConfigNode& layer) {
    const std::string text = layer.get_or<std::string>("init", "glorot_uniform");
    for (const auto& [name, init] : kInits) {
        if (text == name) {
            return init;
        }
    }
    layer.report("init",
                 "unknown init '" + text + "'; expected glorot_uniform, he_normal or he_uniform");
    return Init::kGlorotUniform;
}

// padding: "same", "valid" (0) or an integer >= 0.
std::int64_t read_padding(const ConfigNode& layer) {
    if (!layer.has("padding")) {
        return kPaddingSame;
    }
    const YAML::Node value = layer.yaml()["padding"];
    if (value.IsScalar() && value.Scalar() == "same") {
        return kPaddingSame;
    }
    if (value.IsScalar() && value.Scalar() == "valid") {
        return 0;
    }
    const auto padding = layer.get<std::int64_t>("padding");
    layer.check(padding >= 0, "padding",
                "must be 'same', 'valid' or an integer >= 0, got " + std::to_string(padding));
    return std::max<std::int64_t>(padding, 0);
}

// Parses one element of `layers`; nullopt when its type is missing or unknown (reported).
std::optional<LayerSpec> parse_layer(const ConfigNode& layer) {
    if (!layer.is_map()) {
        layer.report("", "a layer must be a map with a 'type' key, e.g. {type: relu}");
        return std::nullopt;
    }
    LayerSpec spec;
    spec.name = layer.get_or<std::string>("name", "");
    if (layer.has("name")) {
        layer.check(valid_layer_name(spec.name), "name",
                    "must be letters, digits, '_' or '-', got '" + spec.name + "'");
    }
    if (!layer.has("type")) {
        layer.report("", "missing required key 'type' (one of " + std::string(kLayerTypes) + ")");
        layer.mark_read("");  // its other keys cannot be judged without a type
        return std::nullopt;
    }
    const auto type = layer.get<std::string>("type");
    if (type == "conv2d") {
        Conv2dSpec p;
        p.filters = read_int(layer, "filters", 1, 1, true);
        p.kernel_size = read_int(layer, "kernel_size", p.kernel_size, 1);
        p.stride = read_int(layer, "stride", p.stride, 1);
        p.padding = read_padding(layer);
        p.use_bias = layer.get_or<bool>("use_bias", p.use_bias);
        p.init = read_init(layer);
        spec.params = p;
    } else if (type == "batch_norm") {
        BatchNormSpec p;
        p.momentum = read_fraction(layer, "momentum", p.momentum, 0.0, 1.0, false);
        p.epsilon = read_fraction(layer, "epsilon", p.epsilon, 0.0, 1.0, true);
        spec.params = p;
    } else if (type == "relu") {
        spec.params = ReluSpec{};
    } else if (type == "max_pool") {
        MaxPoolSpec p;
        p.pool_size = read_int(layer, "pool_size", p.pool_size, 1);
        p.stride = layer.has("stride") ? read_int(layer, "stride", 0, 1) : 0;
        spec.params = p;
    } else if (type == "dropout") {
        DropoutSpec p;
        p.rate = read_fraction(layer, "rate", p.rate, 0.0, 1.0, false);
        spec.params = p;
    } else if (type == "global_avg_pool") {
        spec.params = GlobalAvgPoolSpec{};
    } else if (type == "flatten") {
        spec.params = FlattenSpec{};
    } else if (type == "dense") {
        DenseSpec p;
        p.units = read_int(layer, "units", 1, 1, true);
        p.use_bias = layer.get_or<bool>("use_bias", p.use_bias);
        p.init = read_init(layer);
        spec.params = p;
    } else {
        layer.report("type", "unknown layer type '" + type + "'; expected one of " +
                                 std::string(kLayerTypes));
        layer.mark_read("");  // options of an unknown type are not separately unknown
        return std::nullopt;
    }
    return spec;
}

// infer_shapes() messages start "layer <index> " (spec.hpp); the index says which element
// of `layers` to point at. Anything else is about the network as a whole.
std::optional<std::size_t> layer_index_of(std::string_view message) {
    constexpr std::string_view kPrefix = "layer ";
    if (!message.starts_with(kPrefix)) {
        return std::nullopt;
    }
    std::size_t index = 0;
    const char* begin = message.data() + kPrefix.size();
    const auto [end, ec] = std::from_chars(begin, message.data() + message.size(), index);
    if (ec != std::errc{} || end == begin) {
        return std::nullopt;
    }
    return index;
}

std::string format_float(float value) {
    // Shortest text that reads back as the same float, so 0.99F is "0.99", not 0.9900000095.
    std::array<char, 32> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    std::string text(buffer.data(), result.ptr);
    if (text.find_first_of(".e") == std::string::npos) {
        text += ".0";  // keep it a float to a reader
    }
    return text;
}

std::string_view init_name(Init init) {
    for (const auto& [name, value] : kInits) {
        if (value == init) {
            return name;
        }
    }
    return "glorot_uniform";
}

}  // namespace

NetworkSpec parse_network_spec(const framework::ConfigNode& node) {
    NetworkSpec spec;
    spec.name = node.get<std::string>("name");
    const auto input = node.get<std::vector<int>>("input");
    if (node.check(input.size() == 3, "input",
                   "must be [C, H, W], got " + std::to_string(input.size()) + " values")) {
        bool positive = true;
        for (int d : input) {
            positive = positive && d > 0;
        }
        node.check(positive, "input", "sizes must be > 0");
    }
    spec.input.assign(input.begin(), input.end());

    const ConfigNode layers = node.child("layers");
    if (layers.is_sequence()) {
        const std::vector<ConfigNode> elements = layers.elements();
        node.check(!elements.empty(), "layers", "must list at least one layer");
        for (const ConfigNode& element : elements) {
            if (auto layer = parse_layer(element)) {
                spec.layers.push_back(std::move(*layer));
            }
        }
    } else if (node.has("layers")) {
        node.report("layers", "must be a sequence of layers");
    }
    node.finish();  // every value problem and unknown key, before shapes are worth checking

    try {
        infer_shapes(spec, 1);
    } catch (const SpecError& e) {
        const std::optional<std::size_t> index = layer_index_of(e.what());
        const std::vector<ConfigNode> elements = layers.elements();
        if (index && *index < elements.size()) {
            elements[*index].report("", e.what());
        } else {
            node.report("", e.what());
        }
        node.finish();
    }
    return spec;
}

NetworkSpec load_network_spec(const std::filesystem::path& file) {
    return parse_network_spec(framework::ConfigNode::load_file(file));
}

std::string format_network_spec_yaml(const NetworkSpec& spec) {
    std::string out = "name: " + spec.name + "\ninput: [";
    for (std::size_t i = 0; i < spec.input.size(); ++i) {
        out += (i > 0 ? ", " : "") + std::to_string(spec.input[i]);
    }
    out += "]\nlayers:\n";
    for (const LayerSpec& layer : spec.layers) {
        out += "  - {type: " + layer_kind(layer.params);
        if (!layer.name.empty()) {
            out += ", name: " + layer.name;
        }
        auto option = [&out](std::string_view key, const std::string& value) {
            out += ", ";
            out += key;
            out += ": " + value;
        };
        auto flag = [](bool value) { return std::string(value ? "true" : "false"); };
        std::visit(
            [&](const auto& p) {
                using T = std::decay_t<decltype(p)>;
                if constexpr (std::is_same_v<T, Conv2dSpec>) {
                    option("filters", std::to_string(p.filters));
                    option("kernel_size", std::to_string(p.kernel_size));
                    option("stride", std::to_string(p.stride));
                    option("padding",
                           p.padding == kPaddingSame ? "same" : std::to_string(p.padding));
                    option("use_bias", flag(p.use_bias));
                    option("init", std::string(init_name(p.init)));
                } else if constexpr (std::is_same_v<T, BatchNormSpec>) {
                    option("momentum", format_float(p.momentum));
                    option("epsilon", format_float(p.epsilon));
                } else if constexpr (std::is_same_v<T, MaxPoolSpec>) {
                    option("pool_size", std::to_string(p.pool_size));
                    if (p.stride != 0) {
                        option("stride", std::to_string(p.stride));
                    }
                } else if constexpr (std::is_same_v<T, DropoutSpec>) {
                    option("rate", format_float(p.rate));
                } else if constexpr (std::is_same_v<T, DenseSpec>) {
                    option("units", std::to_string(p.units));
                    option("use_bias", flag(p.use_bias));
                    option("init", std::string(init_name(p.init)));
                }
            },
            layer.params);
        out += "}\n";
    }
    return out;
}

}  // namespace digitpipe::nn
