// Architectures as data: models/*.yaml parse into the specs the engine builds, and malformed
// specs are refused with the file position, key path, layer and shapes.
#include "digitpipe/nn/spec_yaml.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <string>

#include "digitpipe/config.hpp"
#include "digitpipe/nn/network.hpp"

namespace digitpipe::nn {
namespace {

// The checked-in models/ folder, found from this file so the test runs from any build dir.
const std::filesystem::path kModels =
    std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "models";

NetworkSpec parse_text(const std::string& text) {
    return parse_network_spec(framework::ConfigNode::parse(text, "bad.yaml"));
}

// The hand-built spec of bench/nn_throughput.cpp (seed A), repeated here so that a change to
// either side shows up.
NetworkSpec enhanced_by_hand() {
    NetworkSpec spec;
    spec.name = "enhanced";
    spec.input = {1, 28, 28};
    auto conv_block = [&](std::int64_t filters) {
        spec.layers.push_back({"", Conv2dSpec{.filters = filters}});
        spec.layers.push_back({"", BatchNormSpec{}});
        spec.layers.push_back({"", ReluSpec{}});
    };
    auto pool_drop = [&] {
        spec.layers.push_back({"", MaxPoolSpec{}});
        spec.layers.push_back({"", DropoutSpec{.rate = 0.25F}});
    };
    conv_block(32);
    conv_block(32);
    pool_drop();
    conv_block(64);
    conv_block(64);
    pool_drop();
    conv_block(128);
    pool_drop();
    spec.layers.push_back({"", GlobalAvgPoolSpec{}});
    spec.layers.push_back({"", DenseSpec{.units = 256}});
    spec.layers.push_back({"", ReluSpec{}});
    spec.layers.push_back({"", DropoutSpec{.rate = 0.5F}});
    spec.layers.push_back({"", DenseSpec{.units = 10}});
    return spec;
}

// Expects ConfigError whose message contains every fragment.
void expect_refused(const std::string& text, std::initializer_list<std::string> fragments) {
    try {
        parse_text(text);
        ADD_FAILURE() << "spec accepted:\n" << text;
    } catch (const framework::ConfigError& e) {
        const std::string message = e.what();
        for (const std::string& fragment : fragments) {
            EXPECT_NE(message.find(fragment), std::string::npos)
                << "'" << fragment << "' not in: " << message;
        }
    }
}

TEST(SpecYamlTest, EnhancedFileIsSeedA) {
    const NetworkSpec spec = load_network_spec(kModels / "enhanced.yaml");
    EXPECT_EQ(spec, enhanced_by_hand());
    const Network net(spec, {});
    EXPECT_EQ(net.parameter_count(), 175'722);  // Keras' summary, running statistics included
    EXPECT_EQ(net.parameter_count(true), 175'082);
}

TEST(SpecYamlTest, SimpleFileIsSeedB) {
    const NetworkSpec spec = load_network_spec(kModels / "simple.yaml");
    EXPECT_EQ(spec.name, "simple");
    const auto shapes = infer_shapes(spec, 2);
    EXPECT_EQ(shapes.back(), (std::vector<std::int64_t>{2, 10}));
    EXPECT_EQ(shapes[9], (std::vector<std::int64_t>{2, 576}));  // flatten of 64 x 3 x 3
    const Network net(spec, {});
    EXPECT_EQ(net.parameter_count(), 93'322);
}

TEST(SpecYamlTest, ReadsEveryOption) {
    const NetworkSpec spec = parse_text(R"(
name: all
input: [3, 16, 12]
layers:
  - {type: conv2d, name: stem, filters: 8, kernel_size: 5, stride: 2, padding: 1,
     use_bias: false, init: he_normal}
  - {type: batch_norm, momentum: 0.9, epsilon: 1.0e-5}
  - type: relu
  - {type: max_pool, pool_size: 3, stride: 1}
  - {type: conv2d, filters: 4, padding: valid, init: he_uniform}
  - {type: dropout, rate: 0.1}
  - {type: global_avg_pool}
  - {type: flatten}
  - {type: dense, units: 7, use_bias: false, init: he_normal}
  - {type: batch_norm}
)");
    EXPECT_EQ(spec.name, "all");
    EXPECT_EQ(spec.input, (std::vector<std::int64_t>{3, 16, 12}));
    ASSERT_EQ(spec.layers.size(), 10U);
    EXPECT_EQ(spec.layers[0].name, "stem");
    EXPECT_EQ(spec.layers[0].params, LayerParams(Conv2dSpec{.filters = 8,
                                                            .kernel_size = 5,
                                                            .stride = 2,
                                                            .padding = 1,
                                                            .use_bias = false,
                                                            .init = Init::kHeNormal}));
    EXPECT_EQ(spec.layers[1].params,
              LayerParams(BatchNormSpec{.momentum = 0.9F, .epsilon = 1e-5F}));
    EXPECT_EQ(spec.layers[2].params, LayerParams(ReluSpec{}));
    EXPECT_EQ(spec.layers[3].params, LayerParams(MaxPoolSpec{.pool_size = 3, .stride = 1}));
    EXPECT_EQ(spec.layers[4].params,
              LayerParams(Conv2dSpec{.filters = 4, .padding = 0, .init = Init::kHeUniform}));
    EXPECT_EQ(spec.layers[5].params, LayerParams(DropoutSpec{.rate = 0.1F}));
    EXPECT_EQ(spec.layers[6].params, LayerParams(GlobalAvgPoolSpec{}));
    EXPECT_EQ(spec.layers[7].params, LayerParams(FlattenSpec{}));
    EXPECT_EQ(spec.layers[8].params,
              LayerParams(DenseSpec{.units = 7, .use_bias = false, .init = Init::kHeNormal}));
    EXPECT_EQ(spec.layers[9].params, LayerParams(BatchNormSpec{}));

    // What weight files record as the architecture reads back as the same spec.
    EXPECT_EQ(parse_text(format_network_spec_yaml(spec)), spec);
    const NetworkSpec enhanced = enhanced_by_hand();
    EXPECT_EQ(parse_text(format_network_spec_yaml(enhanced)), enhanced);
}

TEST(SpecYamlTest, RefusesUnknownLayerType) {
    expect_refused(R"(name: x
input: [1, 28, 28]
layers:
  - {type: conv2d, filters: 8}
  - {type: conv3d, filters: 8}
)",
                   {"bad.yaml:5:", "layers[1].type", "unknown layer type 'conv3d'", "conv2d"});
}

TEST(SpecYamlTest, RefusesUnknownOption) {
    expect_refused(R"(name: x
input: [1, 28, 28]
layers:
  - {type: conv2d, filters: 8}
  - {type: relu}
  - {type: conv2d, filtres: 8, filters: 4}
)",
                   {"bad.yaml:6:", "layers[2]: unknown key 'filtres'"});
}

TEST(SpecYamlTest, RefusesBadValuesAndReportsThemAll) {
    expect_refused(
        R"(name: x
input: [1, 28, 28]
layers:
  - {type: conv2d, filters: 8}
  - {type: relu}
  - {type: dropout, rate: 1.5}
  - {type: conv2d, filters: -32, padding: full}
  - {type: conv2d, kernel_size: 3}
  - {type: dense, units: 10, init: lecun}
)",
        {"bad.yaml:6:", "layers[2].rate", "got 1.5", "bad.yaml:7:", "layers[3].filters", "got -32",
         "layers[3].padding",  // 'full' is neither same, valid nor an integer
         "layers[4]", "missing required key 'filters'", "layers[5].init", "unknown init 'lecun'"});
}

TEST(SpecYamlTest, RefusesDenseBeforeFlattenNamingLayerAndShapes) {
    expect_refused(
        R"(name: x
input: [1, 28, 28]
layers:
  - {type: conv2d, filters: 8}
  - {type: relu}
  - {type: dense, units: 10}
)",
        {"bad.yaml:6:", "layers[2]", "layer 2 'dense_2' (dense)", "src is 1x8x28x28", "flatten"});
}

TEST(SpecYamlTest, RefusesMalformedDocument) {
    expect_refused("name: x\ninput: [1, 28]\nlayers: []\n",
                   {"bad.yaml:2:", "input", "must be [C, H, W]", "layers", "at least one layer"});
    expect_refused("input: [1, 28, 28]\nlayers:\n  - relu\n",
                   {"missing required key 'name'", "layers[0]", "must be a map"});
    expect_refused("name: x\ninput: [1, 28, 28]\nlayers:\n  - {type: relu, name: a.b}\n",
                   {"layers[0].name", "'a.b'"});
    expect_refused(R"(name: x
input: [1, 28, 28]
layers:
  - {type: relu, name: same}
  - {type: relu, name: same}
)",
                   {"layers[1]", "duplicate layer name"});
}

TEST(SpecYamlTest, NamesTheFileItCannotRead) {
    try {
        load_network_spec(kModels / "no_such_model.yaml");
        ADD_FAILURE() << "missing file accepted";
    } catch (const framework::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("no_such_model.yaml"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace digitpipe::nn
