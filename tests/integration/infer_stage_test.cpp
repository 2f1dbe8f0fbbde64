// The infer stage with the shipped model, driven through its host (no broker): MNIST test
// digits sent as PNG files are read right; a canvas-style drawing (black strokes on
// transparency, 280x280) too; a blank canvas is "no digit found"; bad bytes are refused by
// name; samples, model info, and a reload that fails keeps the old model serving.
#include <gtest/gtest.h>

#include "cluster.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/idx.hpp"
#include "digitpipe/infer/image.hpp"

namespace digitpipe::integration {
namespace {

using nlohmann::json;
const std::filesystem::path kSource = DIGITPIPE_SOURCE_DIR;

class InferStageTest : public ::testing::Test {
 protected:
    void SetUp() override {
        const auto images_file = kSource / "data/mnist/t10k-images-idx3-ubyte";
        if (!std::filesystem::exists(images_file)) {
            GTEST_FAIL() << "MNIST missing under data/: run deploy/setup.sh";
        }
        images = fw::read_idx(images_file);
        labels = fw::read_idx(kSource / "data/mnist/t10k-labels-idx1-ubyte");
        const auto file = dir.write("infer.yaml",
                                    "broker:\n  endpoint: inproc://unused\n"
                                    "stages:\n  infer: {plugin: infer}\n"
                                    "paths:\n  plugins: " +
                                        std::string(DIGITPIPE_PLUGIN_DIR) +
                                        "\n  data: " + (kSource / "data").string() +
                                        "\n  models: " + (kSource / "models").string() + "\n");
        deployment = fw::load_deployment(file);
        host = std::make_unique<fw::StageHost>(context, deployment, "infer",
                                               fw::StageHostOptions{{DIGITPIPE_PLUGIN_DIR}, false});
    }

    fw::Reply call(const std::string& verb, json header, std::vector<fw::Payload> payloads = {}) {
        fw::Request request;
        request.verb = verb;
        request.correlation_id = fw::make_correlation_id();
        request.header = std::move(header);
        request.payloads = std::move(payloads);
        return fw::decode_reply(host->handle(fw::encode_request(request)))->reply;
    }

    fw::Reply predict(const std::vector<std::uint8_t>& file) {
        return call("infer.predict", json::object(),
                    {{"image", "bytes", {}, std::string(file.begin(), file.end())}});
    }

    std::vector<std::uint8_t> mnist_png(std::size_t index) const {
        const auto* pixels = images.data.data() + index * 784;
        return infer::encode_png_gray({pixels, 784}, 28, 28);
    }

    ts::TempDir dir;
    fw::IdxArray images;
    fw::IdxArray labels;
    zmq::context_t context{1};
    fw::DeploymentConfig deployment;
    std::unique_ptr<fw::StageHost> host;
};

TEST_F(InferStageTest, ReadsMnistTestDigitsSentAsPng) {
    int correct = 0;
    const int n = 300;
    for (int i = 0; i < n; ++i) {
        const auto reply = predict(mnist_png(static_cast<std::size_t>(i)));
        ASSERT_TRUE(reply.status.is_ok()) << reply.status.message();
        ASSERT_TRUE(reply.header["found"].get<bool>()) << "test image " << i;
        ASSERT_EQ(reply.header["probabilities"].size(), 10u);
        if (reply.header["digit"] == labels.data[static_cast<std::size_t>(i)]) ++correct;
    }
    // Re-centring an already centred digit moves it by at most a pixel: nearly the model's
    // own 99.67% on these images.
    EXPECT_GE(correct, n * 98 / 100) << correct << " of " << n;
}

TEST_F(InferStageTest, ReadsACanvasDrawingAndSaysWhenThereIsNone) {
    // Test image 0 (a 7) drawn as a browser canvas exports it: 280x280 RGBA, black strokes,
    // everything else transparent.
    infer::Image canvas{280, 280, 4, std::vector<std::uint8_t>(280 * 280 * 4, 0)};
    for (int y = 0; y < 280; ++y) {
        for (int x = 0; x < 280; ++x) {
            canvas.samples[static_cast<std::size_t>((y * 280 + x) * 4 + 3)] =
                images.data[static_cast<std::size_t>((y / 10) * 28 + x / 10)];
        }
    }
    const auto drawn = predict(infer::encode_png(canvas));
    ASSERT_TRUE(drawn.status.is_ok()) << drawn.status.message();
    EXPECT_EQ(drawn.header["digit"], labels.data[0]);
    EXPECT_GT(drawn.header["confidence"].get<double>(), 0.9);
    ASSERT_EQ(drawn.payloads.size(), 1u);
    EXPECT_EQ(drawn.payloads[0].bytes.size(), 784u) << "the 28x28 the model saw";

    infer::Image blank{280, 280, 4, std::vector<std::uint8_t>(280 * 280 * 4, 0)};
    const auto none = predict(infer::encode_png(blank));
    ASSERT_TRUE(none.status.is_ok());
    EXPECT_FALSE(none.header["found"].get<bool>());
    EXPECT_FALSE(none.header.contains("digit")) << "never a guess";
}

TEST_F(InferStageTest, RefusesBadInputByName) {
    const std::string gif = "GIF89a....";
    const auto refused = predict({gif.begin(), gif.end()});
    EXPECT_EQ(refused.status.code(), fw::StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status.message().find("not a PNG or JPEG"), std::string::npos)
        << refused.status.message();
    auto truncated = mnist_png(0);
    truncated.resize(truncated.size() / 2);
    EXPECT_EQ(predict(truncated).status.code(), fw::StatusCode::kInvalidArgument);
    EXPECT_EQ(call("infer.predict", json::object()).status.code(),
              fw::StatusCode::kInvalidArgument);
    EXPECT_EQ(call("infer.sample", {{"n", 0}}).status.code(), fw::StatusCode::kInvalidArgument);
    EXPECT_EQ(call("infer.sample", {{"n", "7"}}).status.code(), fw::StatusCode::kInvalidArgument);
    EXPECT_EQ(call("infer.nope", json::object()).status.code(), fw::StatusCode::kUnimplemented);
    EXPECT_TRUE(predict(mnist_png(1)).status.is_ok()) << "still serving";
}

TEST_F(InferStageTest, SamplesAndModelInfo) {
    const auto samples = call("infer.sample", {{"n", 8}});
    ASSERT_TRUE(samples.status.is_ok()) << samples.status.message();
    ASSERT_EQ(samples.header["samples"].size(), 8u);
    ASSERT_EQ(samples.payloads.size(), 1u);
    EXPECT_EQ(samples.payloads[0].bytes.size(), 8u * 784u);
    for (const auto& s : samples.header["samples"]) {
        EXPECT_EQ(s["correct"].get<bool>(), s["label"] == s["predicted"]);
    }
    const auto info = call("infer.model_info", json::object());
    ASSERT_TRUE(info.status.is_ok());
    EXPECT_EQ(info.header["architecture"], "best");
    EXPECT_GT(info.header["parameters"].get<std::int64_t>(), 100000);
    EXPECT_DOUBLE_EQ(info.header["metrics"]["test_accuracy"].get<double>(), 0.9967);
    EXPECT_EQ(info.header["class_names"].size(), 10u);
}

TEST_F(InferStageTest, AFailedReloadKeepsTheOldModelServing) {
    const auto garbage = dir.write("broken.safetensors", "not a model at all");
    const auto failed = call("infer.reload", {{"model", garbage.string()}});
    EXPECT_EQ(failed.status.code(), fw::StatusCode::kFailedPrecondition);
    EXPECT_NE(failed.status.message().find("kept the current model"), std::string::npos);
    EXPECT_EQ(predict(mnist_png(0)).header["digit"], labels.data[0]);
    const auto reloaded = call("infer.reload", json::object());
    ASSERT_TRUE(reloaded.status.is_ok()) << reloaded.status.message();
    EXPECT_EQ(predict(mnist_png(0)).header["digit"], labels.data[0]);
}

}  // namespace
}  // namespace digitpipe::integration
