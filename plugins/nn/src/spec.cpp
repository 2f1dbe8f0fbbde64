// Shape inference for network specs: walks the layers once, computing each dst shape and
// refusing, with the layer's index, name and shapes, anything oneDNN could not build.
#include "digitpipe/nn/spec.hpp"

#include <set>
#include <sstream>
#include <type_traits>

namespace digitpipe::nn {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// Output size of a window sliding over `in` with explicit padding (oneDNN's formula).
std::int64_t window_out(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                        std::int64_t pad_l, std::int64_t pad_r) {
    return (in + pad_l + pad_r - kernel) / stride + 1;
}

}  // namespace

std::string layer_kind(const LayerParams& params) {
    return std::visit(Overloaded{
                          [](const Conv2dSpec&) { return std::string("conv2d"); },
                          [](const BatchNormSpec&) { return std::string("batch_norm"); },
                          [](const ReluSpec&) { return std::string("relu"); },
                          [](const MaxPoolSpec&) { return std::string("max_pool"); },
                          [](const DropoutSpec&) { return std::string("dropout"); },
                          [](const GlobalAvgPoolSpec&) { return std::string("global_avg_pool"); },
                          [](const FlattenSpec&) { return std::string("flatten"); },
                          [](const DenseSpec&) { return std::string("dense"); },
                      },
                      params);
}

std::string layer_name(const NetworkSpec& spec, std::size_t index) {
    const LayerSpec& layer = spec.layers.at(index);
    if (!layer.name.empty()) {
        return layer.name;
    }
    return layer_kind(layer.params) + "_" + std::to_string(index);
}

std::string format_dims(const std::vector<std::int64_t>& dims) {
    std::string out;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (i > 0) {
            out += 'x';
        }
        out += std::to_string(dims[i]);
    }
    return out.empty() ? "(scalar)" : out;
}

std::vector<std::vector<std::int64_t>> infer_shapes(const NetworkSpec& spec, std::int64_t batch) {
    const std::string where = "network '" + spec.name + "'";
    if (batch <= 0) {
        throw SpecError(where + ": batch must be > 0, got " + std::to_string(batch));
    }
    if (spec.input.size() != 3 || spec.input[0] <= 0 || spec.input[1] <= 0 || spec.input[2] <= 0) {
        throw SpecError(where + ": input must be C x H x W with positive sizes, got " +
                        format_dims(spec.input));
    }
    if (spec.layers.empty()) {
        throw SpecError(where + ": has no layers");
    }
    std::vector<std::vector<std::int64_t>> shapes;
    shapes.push_back({batch, spec.input[0], spec.input[1], spec.input[2]});
    std::set<std::string> names;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        const std::vector<std::int64_t>& src = shapes.back();
        const std::string name = layer_name(spec, i);
        const std::string kind = layer_kind(spec.layers[i].params);
        const std::string prefix = "layer " + std::to_string(i) + " '" + name + "' (" + kind +
                                   "): src is " + format_dims(src) + "; ";
        if (!names.insert(name).second) {
            throw SpecError("layer " + std::to_string(i) + " '" + name + "': duplicate layer name");
        }
        auto need_4d = [&] {
            if (src.size() != 4) {
                throw SpecError(prefix + kind + " needs a 4-D src N x C x H x W");
            }
        };
        auto need = [&](bool ok, const std::string& what) {
            if (!ok) {
                throw SpecError(prefix + what);
            }
        };
        std::vector<std::int64_t> dst = std::visit(
            Overloaded{
                [&](const Conv2dSpec& p) -> std::vector<std::int64_t> {
                    need_4d();
                    need(p.filters > 0, "filters must be > 0, got " + std::to_string(p.filters));
                    need(p.kernel_size > 0,
                         "kernel_size must be > 0, got " + std::to_string(p.kernel_size));
                    need(p.stride > 0, "stride must be > 0, got " + std::to_string(p.stride));
                    need(p.padding >= 0 || p.padding == kPaddingSame,
                         "padding must be >= 0 or 'same', got " + std::to_string(p.padding));
                    std::vector<std::int64_t> out{src[0], p.filters, 0, 0};
                    for (int d = 0; d < 2; ++d) {
                        const std::int64_t in = src[2 + d];
                        out[2 + d] =
                            p.padding == kPaddingSame
                                ? (in + p.stride - 1) / p.stride
                                : window_out(in, p.kernel_size, p.stride, p.padding, p.padding);
                    }
                    need(out[2] > 0 && out[3] > 0, "a " + std::to_string(p.kernel_size) + "x" +
                                                       std::to_string(p.kernel_size) +
                                                       " kernel does not fit (dst would be " +
                                                       format_dims(out) + ")");
                    return out;
                },
                [&](const BatchNormSpec& p) -> std::vector<std::int64_t> {
                    need(src.size() == 4 || src.size() == 2, kind + " needs a 2-D or 4-D src");
                    need(p.epsilon > 0.0F, "epsilon must be > 0");
                    need(p.momentum >= 0.0F && p.momentum < 1.0F, "momentum must be in [0, 1)");
                    return src;
                },
                [&](const ReluSpec&) { return src; },
                [&](const MaxPoolSpec& p) -> std::vector<std::int64_t> {
                    need_4d();
                    need(p.pool_size > 0,
                         "pool_size must be > 0, got " + std::to_string(p.pool_size));
                    need(p.stride >= 0, "stride must be >= 0, got " + std::to_string(p.stride));
                    const std::int64_t stride = p.stride == 0 ? p.pool_size : p.stride;
                    need(src[2] >= p.pool_size && src[3] >= p.pool_size,
                         "a " + std::to_string(p.pool_size) + "x" + std::to_string(p.pool_size) +
                             " pool does not fit in " + std::to_string(src[2]) + "x" +
                             std::to_string(src[3]));
                    return {src[0], src[1], window_out(src[2], p.pool_size, stride, 0, 0),
                            window_out(src[3], p.pool_size, stride, 0, 0)};
                },
                [&](const DropoutSpec& p) -> std::vector<std::int64_t> {
                    need(p.rate >= 0.0F && p.rate < 1.0F,
                         "rate must be in [0, 1), got " + std::to_string(p.rate));
                    return src;
                },
                [&](const GlobalAvgPoolSpec&) -> std::vector<std::int64_t> {
                    need_4d();
                    return {src[0], src[1], 1, 1};
                },
                [&](const FlattenSpec&) -> std::vector<std::int64_t> {
                    std::int64_t features = 1;
                    for (std::size_t d = 1; d < src.size(); ++d) {
                        features *= src[d];
                    }
                    return {src[0], features};
                },
                [&](const DenseSpec& p) -> std::vector<std::int64_t> {
                    need(p.units > 0, "units must be > 0, got " + std::to_string(p.units));
                    need(src.size() == 2 || (src.size() == 4 && src[2] == 1 && src[3] == 1),
                         "dense needs N x K or N x K x 1 x 1 (add a flatten or global_avg_pool "
                         "layer before it)");
                    return {src[0], p.units};
                },
            },
            spec.layers[i].params);
        shapes.push_back(std::move(dst));
    }
    return shapes;
}

}  // namespace digitpipe::nn
