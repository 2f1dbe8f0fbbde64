// Weight files: a network's weights survive a safetensors round trip bit for bit, corrupt or
// mismatched files are refused with the file and the problem named, and Python reads them.
#include "digitpipe/nn/safetensors.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/spec_yaml.hpp"
#include "nn_test_util.hpp"
#include "support/process.hpp"

namespace digitpipe::nn {
namespace {

using test_support::TempDir;
using testing::random_values;
using testing::randomise_parameters;

// Every kind of layer with parameters, small enough to build in milliseconds.
NetworkSpec small_spec(std::int64_t classes = 3) {
    NetworkSpec spec;
    spec.name = "small";
    spec.input = {1, 6, 6};
    spec.layers = {{"", Conv2dSpec{.filters = 4}},
                   {"", BatchNormSpec{}},
                   {"", ReluSpec{}},
                   {"", MaxPoolSpec{}},
                   {"", FlattenSpec{}},
                   {"", DenseSpec{.units = classes}}};
    return spec;
}

std::vector<std::byte> read_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

void write_bytes(const std::filesystem::path& file, const std::vector<std::byte>& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

// A file with a hand-written header, for the malformed cases a correct writer cannot make.
std::vector<std::byte> craft(const std::string& header, std::size_t data_bytes) {
    std::vector<std::byte> bytes(8 + header.size() + data_bytes, std::byte{0});
    const std::uint64_t length = header.size();
    std::memcpy(bytes.data(), &length, 8);
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    return bytes;
}

template <class F>
void expect_error(F&& f, std::initializer_list<std::string> fragments) {
    try {
        f();
        ADD_FAILURE() << "accepted";
    } catch (const SafetensorsError& e) {
        const std::string message = e.what();
        for (const std::string& fragment : fragments) {
            EXPECT_NE(message.find(fragment), std::string::npos)
                << "'" << fragment << "' not in: " << message;
        }
    }
}

void expect_parse_error(const std::vector<std::byte>& bytes,
                        std::initializer_list<std::string> fragments) {
    expect_error([&] { parse_safetensors(bytes, "crafted.safetensors"); }, fragments);
}

// A network with non-default values everywhere, running statistics included (one training
// step moves them off their 0 / 1 start).
Network trained_small_network() {
    Network net(small_spec(), {.seed = 7});
    randomise_parameters(net, 11);
    const std::vector<float> src = random_values(8 * 36, 3);
    const std::vector<std::int32_t> labels{0, 1, 2, 0, 1, 2, 0, 1};
    net.train_step(src, labels);
    return net;
}

TEST(SafetensorsTest, NetworkRoundTripGivesIdenticalPredictions) {
    TempDir dir;
    const auto file = dir.path() / "small.safetensors";
    Network original = trained_small_network();
    save_network(file, original, {{"experiment", "quick.yaml text"}, {"metrics", "{\"acc\":1}"}});

    Network fresh(small_spec(), {.seed = 99});
    const auto metadata = load_network_weights(file, fresh);
    EXPECT_EQ(metadata.at("experiment"), "quick.yaml text");
    EXPECT_EQ(metadata.at("metrics"), "{\"acc\":1}");
    EXPECT_EQ(metadata.at(std::string(kDataSha256Key)).size(), 64U);
    EXPECT_EQ(parse_network_spec(framework::ConfigNode::parse(
                  metadata.at(std::string(kArchitectureKey)), "architecture")),
              original.spec());

    for (std::size_t i = 0; i < original.parameters().size(); ++i) {
        EXPECT_EQ(fresh.parameters()[i].value, original.parameters()[i].value)
            << original.parameters()[i].name;
    }
    const std::vector<float> src = random_values(5 * 36, 21);
    const std::span<const float> a = original.predict(src);
    const std::vector<float> expected(a.begin(), a.end());
    const std::span<const float> b = fresh.predict(src);
    EXPECT_EQ(std::vector<float>(b.begin(), b.end()), expected);
    // The write was atomic: no temporary left beside the file.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                            std::filesystem::directory_iterator()),
              1);
}

TEST(SafetensorsTest, KeepsDtypesShapesAndMetadata) {
    TempDir dir;
    const auto file = dir.path() / "mixed.safetensors";
    const std::vector<float> values{1.5F, -2.0F, 3.25F, 0.0F, 5.0F, 6.0F};
    Tensor ids{"ids", DType::kI64, {2}, std::vector<std::byte>(16, std::byte{7})};
    Tensor empty{"empty", DType::kU8, {0, 3}, {}};
    save_safetensors(file, {make_f32_tensor("w", {2, 3}, values), ids, empty}, {{"k", "v"}});
    const SafetensorsFile loaded = load_safetensors(file);
    ASSERT_EQ(loaded.tensors.size(), 3U);
    EXPECT_EQ(tensor_f32_values(*loaded.find("w")), values);
    EXPECT_EQ(loaded.find("w")->shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(loaded.find("ids")->dtype, DType::kI64);
    EXPECT_EQ(loaded.find("ids")->data, ids.data);
    EXPECT_EQ(loaded.find("empty")->shape, (std::vector<std::int64_t>{0, 3}));
    EXPECT_EQ(loaded.metadata.at("k"), "v");
    // Data starts 8-byte aligned, as Python's writer leaves it.
    const std::vector<std::byte> bytes = read_bytes(file);
    std::uint64_t header = 0;
    std::memcpy(&header, bytes.data(), 8);
    EXPECT_EQ(header % 8, 0U);
}

TEST(SafetensorsTest, RefusesToWriteInconsistentTensors) {
    TempDir dir;
    const auto file = dir.path() / "bad.safetensors";
    expect_error(
        [&] {
            save_safetensors(file, {Tensor{"t", DType::kF32, {3}, {}}}, {});
        },
        {"bad.safetensors", "tensor 't'", "[3]", "0 data bytes"});
    const std::vector<float> one{1.0F};
    expect_error(
        [&] {
            save_safetensors(file, {make_f32_tensor("t", {1}, one), make_f32_tensor("t", {1}, one)},
                             {});
        },
        {"used twice"});
    EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(SafetensorsTest, RefusesTruncatedFiles) {
    TempDir dir;
    const auto file = dir.path() / "cut.safetensors";
    save_network(file, trained_small_network());
    std::vector<std::byte> bytes = read_bytes(file);
    bytes.resize(bytes.size() - 10);
    write_bytes(file, bytes);
    expect_error([&] { load_safetensors(file); },
                 {file.string(), "run past the end of the data", "truncated"});
    bytes.resize(5);
    write_bytes(file, bytes);
    expect_error([&] { load_safetensors(file); }, {file.string(), "truncated: 5 bytes"});
    expect_error([&] { load_safetensors(dir.path() / "absent.safetensors"); },
                 {"absent.safetensors", "cannot open"});
}

TEST(SafetensorsTest, RefusesHeaderLengthBeyondTheFile) {
    std::vector<std::byte> bytes =
        craft(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1);
    const std::uint64_t huge = 1'000'000;
    std::memcpy(bytes.data(), &huge, 8);
    expect_parse_error(bytes, {"crafted.safetensors", "header length 1000000 exceeds the file"});
}

TEST(SafetensorsTest, RefusesMalformedHeaders) {
    expect_parse_error(craft(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]})", 1),
                       {"crafted.safetensors", "not valid JSON"});
    expect_parse_error(craft(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", 1),
                       {"tensor 'a'", "unknown dtype 'Q7'"});
    expect_parse_error(craft(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                       {"tensor 'a'", "shape [3] of F32 needs 12 bytes", "hold 8"});
    expect_parse_error(craft(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                       {"tensor 'a'", "non-negative"});
    expect_parse_error(
        craft(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}})", 1),
        {"tensor 'a'", "unknown key 'extra'"});
    expect_parse_error(craft(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("__metadata__":{"n":3}})",
                             1),
                       {"__metadata__ 'n' is not a string"});
    expect_parse_error(craft(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 5),
                       {"3 bytes after the last tensor", "trailing garbage"});
}

TEST(SafetensorsTest, RefusesOverlappingAndGappedOffsets) {
    expect_parse_error(craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             12),
                       {"tensor 'b'", "data_offsets [4, 12] overlap tensor 'a'", "ends at 8"});
    expect_parse_error(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                             12),
                       {"tensor 'b'", "leave a gap after tensor 'a'"});
}

TEST(SafetensorsTest, RefusesAFlippedDataByte) {
    TempDir dir;
    const auto file = dir.path() / "flipped.safetensors";
    save_network(file, trained_small_network());
    std::vector<std::byte> bytes = read_bytes(file);
    bytes[bytes.size() - 3] ^= std::byte{0x10};
    write_bytes(file, bytes);
    Network net(small_spec(), {});
    const std::vector<float> before = net.parameters().back().value;
    expect_error([&] { load_network_weights(file, net); },
                 {file.string(), "data checksum mismatch", "corrupt"});
    EXPECT_EQ(net.parameters().back().value, before);  // nothing half-loaded
}

TEST(SafetensorsTest, RefusesWeightsOfAnotherNetwork) {
    TempDir dir;
    const auto file = dir.path() / "three.safetensors";
    save_network(file, trained_small_network());

    Network four(small_spec(4), {});
    const std::vector<float> before = four.parameters().back().value;
    expect_error([&] { load_network_weights(file, four); },
                 {file.string(), "tensor 'dense_5.weights' has shape [3, 36]",
                  "the network expects [4, 36]", "tensor 'dense_5.bias' has shape [3]"});
    EXPECT_EQ(four.parameters().back().value, before);

    NetworkSpec renamed = small_spec();
    renamed.layers[0].name = "stem";
    Network other(renamed, {});
    expect_error([&] { load_network_weights(file, other); },
                 {"missing tensor 'stem.weights' (shape [4, 1, 3, 3])",
                  "extra tensor 'conv2d_0.weights' (shape [4, 1, 3, 3])"});
}

// Python's view of the file: tests/numeric/read_safetensors.py (standard library, plus numpy
// when installed) must read the same names, shapes, values and metadata.
TEST(SafetensorsTest, PythonReadsTheFile) {
    if (std::system("python3 -c '' > /dev/null 2>&1") != 0) {
        GTEST_SKIP() << "python3 not installed";
    }
    TempDir dir;
    const auto file = dir.path() / "py.safetensors";
    Network net = trained_small_network();
    save_network(file, net, {{"note", "from C++"}});
    const auto script = std::filesystem::path(__FILE__).parent_path() / "read_safetensors.py";
    const std::string command = "python3 '" + script.string() + "' '" + file.string() + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> chunk{};
    while (std::size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe.get())) {
        output.append(chunk.data(), n);
    }
    ASSERT_EQ(::pclose(pipe.release()), 0) << output;
    const nlohmann::json seen = nlohmann::json::parse(output);
    std::cout << "read by python with " << seen["reader"].get<std::string>() << "\n";
    EXPECT_EQ(seen["metadata"]["note"], "from C++");
    ASSERT_EQ(seen["tensors"].size(), net.parameters().size());
    for (const Parameter& p : net.parameters()) {
        const nlohmann::json& t = seen["tensors"][p.name];
        EXPECT_EQ(t["dtype"], "F32") << p.name;
        EXPECT_EQ(t["shape"].get<std::vector<std::int64_t>>(), p.dims) << p.name;
        // Python floats are doubles; every float converts to one exactly and back.
        std::vector<float> values;
        for (double v : t["values"].get<std::vector<double>>()) {
            values.push_back(static_cast<float>(v));
        }
        EXPECT_EQ(values, p.value) << p.name;
    }
}

}  // namespace
}  // namespace digitpipe::nn
