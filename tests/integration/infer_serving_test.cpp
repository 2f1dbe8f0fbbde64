// The infer stage serving through a real broker (inproc, one process): requests that arrive
// together share one batch; a model announced by a model.published event is swapped in while
// a client keeps predicting, with no request failing, and a model that cannot be loaded leaves
// the new one serving (model.load_failed). Waits are bounded; no test asserts on time.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "cluster.hpp"
#include "digit_images.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/idx.hpp"
#include "digitpipe/infer/image.hpp"
#include "digitpipe/mdp.hpp"
#include "digitpipe/nn/safetensors.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
const std::filesystem::path kSource = DIGITPIPE_SOURCE_DIR;
const std::filesystem::path kShippedModel = kSource / "models/digitpipe-mnist.safetensors";

// A copy of `from` whose metadata says it came from run `run`: the same weights, another
// file sha256, as a newly trained model would be.
void copy_model_as_run(const std::filesystem::path& from, const std::filesystem::path& to,
                       const std::string& run) {
    std::ifstream in(from, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint64_t header_size = 0;
    std::memcpy(&header_size, bytes.data(), 8);  // little-endian, as the host is
    auto header = json::parse(bytes.substr(8, header_size));
    header["__metadata__"]["run"] = run;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    const std::uint64_t new_size = text.size();
    std::ofstream out(to, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&new_size), 8);
    out << text << bytes.substr(8 + header_size);
}

class InferServingTest : public ::testing::Test {
 protected:
    void start(const std::string& batch_block) {
        const auto images_file = kSource / "data/mnist/t10k-images-idx3-ubyte";
        if (!std::filesystem::exists(images_file)) {
            GTEST_FAIL() << "MNIST missing under data/: run deploy/setup.sh";
        }
        images = fw::read_idx(images_file);
        labels = fw::read_idx(kSource / "data/mnist/t10k-labels-idx1-ubyte");
        const auto file = dir.write(
            "serve.yaml",
            "broker:\n  endpoint: inproc://broker\n  events_in: inproc://events-in\n"
            "  events_out: inproc://events-out\n  heartbeat_ms: 200\n"
            "stages:\n  infer: {plugin: infer, prefetch: 16, batch: " +
                batch_block + "}\npaths:\n  plugins: " + std::string(DIGITPIPE_PLUGIN_DIR) +
                "\n  data: " + (kSource / "data").string() +
                "\n  models: " + (kSource / "models").string() + "\n");
        deployment = fw::load_deployment(file);
        broker = std::make_unique<fw::Broker>(
            context, fw::make_broker_options(deployment.broker, /*verbose=*/false));
        broker_thread = std::thread([this] { broker->run(stop); });
        host = std::make_unique<fw::StageHost>(context, deployment, "infer",
                                               fw::StageHostOptions{{DIGITPIPE_PLUGIN_DIR}, false});
        host_thread = std::thread([this] { host->run(stop); });
        fw::Client client(context, {"inproc://broker"});
        ASSERT_TRUE(ts::wait_until(
            [&] {
                const auto up = client.service_available("digitpipe.infer");
                return up && *up;
            },
            30s, 20ms));
    }

    void TearDown() override {
        stop = true;
        if (host_thread.joinable()) host_thread.join();
        if (broker_thread.joinable()) broker_thread.join();
    }

    fw::Frames predict_body(std::size_t index) const {
        fw::Request request;
        request.verb = "infer.predict";
        request.correlation_id = fw::make_correlation_id();
        request.payloads.push_back({"image", "bytes", {}, mnist_png(images, index)});
        return fw::encode_request(request);
    }

    ts::TempDir dir;
    fw::IdxArray images;
    fw::IdxArray labels;
    zmq::context_t context{1};
    fw::DeploymentConfig deployment;
    std::atomic<bool> stop{false};
    std::unique_ptr<fw::Broker> broker;
    std::unique_ptr<fw::StageHost> host;
    std::thread broker_thread;
    std::thread host_thread;
};

TEST_F(InferServingTest, RequestsThatArriveTogetherShareOneBatch) {
    // A long gathering window: the eight requests are sent long before it closes, so the
    // batch fills (max_size) and goes at once.
    start("{max_size: 8, max_wait_ms: 1000}");
    fw::AsyncClient client(context, "inproc://broker");
    for (std::size_t i = 0; i < 8; ++i) {
        ASSERT_TRUE(client.send("digitpipe.infer", predict_body(i)).is_ok());
    }
    int correct = 0;
    for (int i = 0; i < 8; ++i) {
        const auto reply = client.receive(30s);
        ASSERT_TRUE(reply.has_value()) << "reply " << i;
        const auto decoded = fw::decode_reply(reply->second);
        ASSERT_TRUE(decoded) << decoded.status().message();
        ASSERT_TRUE(decoded->reply.status.is_ok()) << decoded->reply.status.message();
        ASSERT_EQ(decoded->reply.payloads.size(), 1u);  // each reply its own 28x28
        correct += decoded->reply.header["found"].get<bool>() ? 1 : 0;
    }
    EXPECT_EQ(correct, 8);
    // The worker's own account: one batch of eight.
    fw::Client sync(context, {"inproc://broker"});
    fw::Request metrics;
    metrics.verb = "metrics";
    metrics.correlation_id = fw::make_correlation_id();
    const auto body = sync.request("digitpipe.infer", fw::encode_request(metrics));
    ASSERT_TRUE(body) << body.status().message();
    const auto text = fw::decode_reply(*body)->reply.header["text"].get<std::string>();
    EXPECT_NE(text.find("digitpipe_worker_batch_size_count{stage=\"infer\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("digitpipe_worker_batch_size_sum{stage=\"infer\"} 8\n"), std::string::npos)
        << text;
}

TEST_F(InferServingTest, PublishedModelIsSwappedInUnderLoadWithoutAFailedRequest) {
    start("{max_size: 4, max_wait_ms: 1}");
    const auto old_sha = nn::file_sha256(kShippedModel);
    const auto next_model = dir.path() / "next.safetensors";
    copy_model_as_run(kShippedModel, next_model, "swap-test");
    const auto new_sha = nn::file_sha256(next_model);
    ASSERT_NE(old_sha, new_sha);

    // A client predicting without pause, counting failures and which model answered.
    std::atomic<bool> load_stop{false};
    std::atomic<int> replies{0}, failures{0}, old_after_new{0};
    std::atomic<bool> saw_new{false};
    std::string first_failure;
    std::thread load([&] {
        fw::Client client(context, {"inproc://broker", 10s, 1});
        for (std::size_t i = 0; !load_stop.load(); ++i) {
            const auto body = client.request("digitpipe.infer", predict_body(i % 100));
            const auto decoded =
                body ? fw::decode_reply(*body) : fw::Result<fw::DecodedReply>(body.status());
            if (!decoded || !decoded->reply.status.is_ok()) {
                if (failures++ == 0) {
                    first_failure =
                        decoded ? decoded->reply.status.message() : decoded.status().message();
                }
                continue;
            }
            ++replies;
            const auto model = decoded->reply.header["model"].get<std::string>();
            if (model == new_sha) saw_new = true;
            if (model == old_sha && saw_new) ++old_after_new;
        }
    });
    struct JoinOnExit {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~JoinOnExit() {
            stop = true;
            if (thread.joinable()) thread.join();
        }
    } join_on_exit{load_stop, load};

    fw::EventPublisher publisher(context, "inproc://events-in");
    fw::EventSubscriber events(context, "inproc://events-out", {"model."});
    // PUB/SUB joins late: announce until the worker says it loaded the model.
    const auto announce_until = [&](const json& published, const std::string& topic) {
        json seen;
        const bool arrived = ts::wait_until(
            [&] {
                publisher.publish("model.published", published.dump());
                while (auto event = events.receive(100ms)) {
                    if (event->topic == topic) {
                        seen = json::parse(event->json_text);
                        return true;
                    }
                }
                return false;
            },
            30s, 1ms);
        return arrived ? seen : json();
    };
    ASSERT_TRUE(ts::wait_until([&] { return replies.load() >= 20; }, 30s, 10ms));
    const auto loaded =
        announce_until({{"run", "swap-test"}, {"path", next_model.string()}, {"dataset", "mnist"}},
                       "model.loaded");
    ASSERT_FALSE(loaded.is_null()) << "no model.loaded event";
    EXPECT_EQ(loaded["sha256"], new_sha);
    EXPECT_EQ(loaded["run"], "swap-test");
    ASSERT_TRUE(ts::wait_until([&] { return saw_new.load(); }, 30s, 10ms));

    // A model that cannot be loaded: the new one keeps serving.
    const auto failed = announce_until({{"run", "broken"},
                                        {"path", (dir.path() / "missing.safetensors").string()},
                                        {"dataset", "mnist"}},
                                       "model.load_failed");
    ASSERT_FALSE(failed.is_null()) << "no model.load_failed event";
    EXPECT_NE(failed["error"].get<std::string>().find("missing.safetensors"), std::string::npos);
    const int before = replies.load();
    ASSERT_TRUE(ts::wait_until([&] { return replies.load() >= before + 20; }, 30s, 10ms));

    load_stop = true;
    load.join();
    EXPECT_EQ(failures.load(), 0) << first_failure;
    EXPECT_EQ(old_after_new.load(), 0) << "the old model answered after the swap";
    EXPECT_GE(replies.load(), 40);
}

}  // namespace
}  // namespace digitpipe::integration
