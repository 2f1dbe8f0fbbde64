// The HTTP gateway against real processes on 127.0.0.1: a broker, an infer worker with the
// shipped model, a train worker, and digitpipe-gateway on port 0, talked to over raw HTTP/1.1.
// Every route of web/API.md: predict in its three body forms with a real MNIST digit, bad
// input of every kind answered 4xx JSON (and the gateway healthy after each), samples, model
// info, workers, readiness, metrics, long-polled events, static files and path traversal,
// training routes. A second suite runs gateways with no infer worker (503), with a worker too
// slow for the deadline (504), and stops one with SIGTERM.
#include <signal.h>

#include <array>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "cluster.hpp"
#include "digit_images.hpp"
#include "gateway_support.hpp"
#include "digitpipe/idx.hpp"
#include "digitpipe/infer/image.hpp"
#include "support/http_client.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ts::HttpResponse;
using namespace gateway_support;

constexpr std::size_t kBodyLimit = 1 << 20;  // gateway.max_body_bytes in these deployments

// ---- helpers ---------------------------------------------------------------------------------

std::string base64(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
    }
    if (i + 1 == bytes.size()) {
        const auto n = static_cast<unsigned char>(bytes[i]) << 16;
        out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
        out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63],
                           kAlphabet[(n >> 6) & 63], '='};
    }
    return out;
}

// A PNG whose header claims `width` x `height` (valid CRC), with no pixel data after it.
std::string png_claiming(std::uint32_t width, std::uint32_t height) {
    return png_with(width, height, "");
}

std::string multipart(const std::string& field, const std::string& bytes) {
    return "--XyZzY\r\nContent-Disposition: form-data; name=\"" + field +
           "\"; filename=\"digit.png\"\r\nContent-Type: image/png\r\n\r\n" + bytes +
           "\r\n--XyZzY--\r\n";
}
const ts::HttpHeaders kMultipartType{{"Content-Type", "multipart/form-data; boundary=XyZzY"}};
const ts::HttpHeaders kJsonType{{"Content-Type", "application/json"}};
const ts::HttpHeaders kPngType{{"Content-Type", "image/png"}};

// Waits until GET `target` answers `status`.
bool wait_for_status(const GatewayProcess& gateway, const std::string& target, int status,
                     std::chrono::milliseconds timeout = 30s) {
    return ts::wait_until(
        [&] {
            const auto r = gateway.get(target);
            return r && r->status == status;
        },
        timeout, 50ms);
}

// ---- the full deployment: broker, infer, train, gateway (shared by the suite) -------------

class GatewayTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        const auto images_file = kSource / "data/mnist/t10k-images-idx3-ubyte";
        if (!std::filesystem::exists(images_file)) return;  // SetUp fails each test
        dir = std::make_unique<ts::TempDir>();
        images = std::make_unique<fw::IdxArray>(fw::read_idx(images_file));
        labels = std::make_unique<fw::IdxArray>(
            fw::read_idx(kSource / "data/mnist/t10k-labels-idx1-ubyte"));
        std::filesystem::create_directories(dir->path() / "dist/assets");
        std::filesystem::create_directories(dir->path() / "runs");
        dir->write("dist/index.html", "<!doctype html><title>digitpipe</title>");
        dir->write("dist/assets/app-1.js", "console.log('digitpipe')");
        dir->write("secret.txt", "not for the web");
        config = dir->write(
            "deploy.yaml",
            kBrokerYaml +
                "stages:\n  infer: {plugin: infer}\n"
                "  train: {plugin: train, params: {augmentation: local}}\n" +
                paths_yaml(dir->path() / "runs") +
                "gateway:\n  listen: 127.0.0.1:0\n  dashboard: dist\n  max_body_bytes: " +
                std::to_string(kBodyLimit) + "\n  request_timeout_ms: 30000\n");
        broker = std::make_unique<BrokerProcess>(config);
        infer = start_worker(config, *broker, "infer");
        train = start_worker(config, *broker, "train");
        gateway = std::make_unique<GatewayProcess>(config, *broker);
        ready = wait_for_status(*gateway, "/readyz", 200, 60s);
    }

    static void TearDownTestSuite() {
        gateway.reset();
        train.reset();
        infer.reset();
        broker.reset();
        dir.reset();
    }

    void SetUp() override {
        ASSERT_TRUE(dir) << "MNIST missing under data/: run deploy/setup.sh";
        ASSERT_TRUE(ready) << "the gateway never became ready";
    }

    static std::string digit_png(std::size_t index) { return canvas_png(*images, index); }
    static int label(std::size_t index) { return labels->data[index]; }

    static void expect_prediction(const std::optional<HttpResponse>& response, int digit,
                                  const std::string& what) {
        ASSERT_TRUE(response) << what;
        ASSERT_EQ(response->status, 200) << what << ": " << response->body;
        const auto body = json_of(*response);
        EXPECT_EQ(body["found"], true) << what;
        EXPECT_EQ(body["digit"], digit) << what;
        EXPECT_EQ(body["label"], std::to_string(digit)) << what;
        EXPECT_GT(body["confidence"].get<double>(), 0.5) << what;
        ASSERT_EQ(body["probabilities"].size(), 10u) << what;
        double sum = 0;
        for (const auto& p : body["probabilities"]) sum += p.get<double>();
        EXPECT_NEAR(sum, 1.0, 1e-6) << what;
        ASSERT_EQ(body["input"].size(), 784u) << what;
        EXPECT_EQ(body["model"].get<std::string>().size(), 64u) << what;
        EXPECT_TRUE(body["latency_ms"].is_number()) << what;
    }

    static inline std::unique_ptr<ts::TempDir> dir;
    static inline std::unique_ptr<fw::IdxArray> images;
    static inline std::unique_ptr<fw::IdxArray> labels;
    static inline std::filesystem::path config;
    static inline std::unique_ptr<BrokerProcess> broker;
    static inline std::unique_ptr<ts::Process> infer;
    static inline std::unique_ptr<ts::Process> train;
    static inline std::unique_ptr<GatewayProcess> gateway;
    static inline bool ready = false;
};

TEST_F(GatewayTest, PredictsADigitSentInEachBodyForm) {
    const auto png = digit_png(0);
    const int digit = label(0);
    expect_prediction(gateway->post("/api/predict", png, kPngType), digit, "image/png");
    expect_prediction(gateway->post("/api/predict", multipart("file", png), kMultipartType), digit,
                      "multipart");
    expect_prediction(
        gateway->post("/api/predict",
                      json{{"image", "data:image/png;base64," + base64(png)}}.dump(), kJsonType),
        digit, "JSON data URL");
    expect_prediction(
        gateway->post("/api/predict", json{{"image", base64(digit_png(1))}}.dump(), kJsonType),
        label(1), "JSON bare base64");
}

TEST_F(GatewayTest, ABlankCanvasIsNoDigitNotAnError) {
    const std::vector<std::uint8_t> blank(280 * 280, 0);
    const auto png = infer::encode_png_gray(blank, 280, 280);
    const auto response =
        gateway->post("/api/predict", std::string(png.begin(), png.end()), kPngType);
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    const auto body = json_of(*response);
    EXPECT_EQ(body["found"], false);
    EXPECT_TRUE(body["digit"].is_null());
    EXPECT_TRUE(body["label"].is_null());
    EXPECT_TRUE(body["confidence"].is_null());
    EXPECT_TRUE(body["probabilities"].is_null());
    EXPECT_NE(body["message"].get<std::string>().find("no digit found"), std::string::npos);
    EXPECT_EQ(body["input"].size(), 784u);
}

TEST_F(GatewayTest, BadInputIsA4xxJsonErrorAndTheGatewayStaysHealthy) {
    auto truncated = digit_png(2);
    truncated.resize(truncated.size() / 2);
    struct Case {
        const char* what;
        std::string body;
        ts::HttpHeaders headers;
        int status;
        const char* code;
    };
    const std::vector<Case> cases{
        {"malformed JSON", "{\"image\": ", kJsonType, 400, "invalid_argument"},
        {"JSON array", "[1]", kJsonType, 400, "invalid_argument"},
        {"image not a string", R"({"image": 42})", kJsonType, 400, "invalid_argument"},
        {"image missing", R"({"picture": "x"})", kJsonType, 400, "invalid_argument"},
        {"bad base64", R"({"image": "data:image/png;base64,@@@@"})", kJsonType, 400,
         "invalid_argument"},
        {"gif data URL", R"({"image": "data:image/gif;base64,R0lGODlh"})", kJsonType, 400,
         "invalid_argument"},
        {"non-image bytes", "GIF89a not what we take", kPngType, 400, "invalid_argument"},
        {"truncated PNG", truncated, kPngType, 400, "invalid_argument"},
        {"PNG claiming 100000x100000", png_claiming(100000, 100000), kPngType, 400,
         "invalid_argument"},
        {"wrong multipart field", multipart("image", digit_png(0)), kMultipartType, 400,
         "invalid_argument"},
        {"multipart without boundary",
         multipart("file", "x"),
         {{"Content-Type", "multipart/form-data"}},
         400,
         "invalid_argument"},
        {"empty body", "", kPngType, 400, "invalid_argument"},
        {"text/plain", "hello", {{"Content-Type", "text/plain"}}, 415, "unsupported_media_type"},
        {"no content type", "hello", {}, 415, "unsupported_media_type"},
        {"over-size body", std::string(kBodyLimit + 1, 'x'), kPngType, 413, "payload_too_large"},
    };
    for (const auto& c : cases) {
        expect_error(gateway->post("/api/predict", c.body, c.headers), c.status, c.code, c.what);
        EXPECT_TRUE(gateway->healthy()) << "after " << c.what;
    }
    // A body far over the limit is refused from its headers and the rest discarded.
    expect_error(ts::http_raw(gateway->port,
                              "POST /api/predict HTTP/1.1\r\nContent-Type: image/png\r\n"
                              "Content-Length: " +
                                  std::to_string(8 * kBodyLimit) + "\r\n\r\n" +
                                  std::string(8 * kBodyLimit, 'x')),
                 413, "payload_too_large", "8x over the limit");
    expect_error(ts::http_raw(gateway->port, "BREW /pot HTTP/1.1\r\n\r\n"), 400, "invalid_argument",
                 "unknown method");
    EXPECT_TRUE(gateway->healthy()) << "after raw garbage";
    expect_prediction(gateway->post("/api/predict", digit_png(0), kPngType), label(0),
                      "still predicting");
}

TEST_F(GatewayTest, SamplesAndModelInfo) {
    const auto samples = gateway->get("/api/sample_predictions?n=5");
    ASSERT_TRUE(samples);
    ASSERT_EQ(samples->status, 200) << samples->body;
    const auto body = json_of(*samples);
    ASSERT_EQ(body["samples"].size(), 5u);
    for (const auto& s : body["samples"]) {
        EXPECT_EQ(s["image"].size(), 784u);
        EXPECT_EQ(s["correct"], s["label"] == s["predicted"]);
    }
    EXPECT_EQ(body["model"].get<std::string>().size(), 64u);
    EXPECT_EQ(json_of(*gateway->get("/api/sample_predictions"))["samples"].size(), 12u);
    for (const char* bad : {"n=0", "n=101", "n=abc", "n=", "n=2.5"}) {
        expect_error(gateway->get(std::string("/api/sample_predictions?") + bad), 400,
                     "invalid_argument", bad);
    }

    const auto info = gateway->get("/api/model_info");
    ASSERT_TRUE(info);
    ASSERT_EQ(info->status, 200) << info->body;
    const auto model = json_of(*info);
    EXPECT_EQ(model["sha256"].get<std::string>().size(), 64u);
    ASSERT_EQ(model["evaluation"]["confusion"].size(), 10u);
    for (const auto& row : model["evaluation"]["confusion"]) EXPECT_EQ(row.size(), 10u);
}

TEST_F(GatewayTest, WorkersReadinessHealthAndMetrics) {
    const auto workers = gateway->get("/api/workers");
    ASSERT_TRUE(workers);
    ASSERT_EQ(workers->status, 200);
    const auto body = json_of(*workers);
    bool seen = false;
    for (const auto& s : body["services"]) {
        if (s["name"] != "digitpipe.infer") continue;
        seen = true;
        EXPECT_EQ(s["workers"], 1);
        EXPECT_EQ(s["state"], "ready");
        EXPECT_NE(s["detail"].get<std::string>().find("model"), std::string::npos);
    }
    EXPECT_TRUE(seen) << workers->body;
    EXPECT_TRUE(body["updated"].is_string());

    const auto ready = gateway->get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
    EXPECT_EQ(json_of(*ready)["ready"], true);
    EXPECT_TRUE(gateway->healthy());

    const auto metrics = gateway->get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    EXPECT_EQ(metrics->header("content-type").rfind("text/plain; version=0.0.4", 0), 0u);
    for (const char* series :
         {"digitpipe_gateway_http_requests_total{code=\"200\",route=\"/healthz\"}",
          "digitpipe_gateway_http_request_seconds_bucket", "digitpipe_gateway_pending_requests",
          "digitpipe_broker_service_workers{service=\"digitpipe.infer\"} 1",
          "digitpipe_worker_requests_total{stage=\"infer\"}",
          "digitpipe_stage_infer_predictions_total"}) {
        EXPECT_NE(metrics->body.find(series), std::string::npos) << series;
    }
    // One # TYPE per family even though every stage reports the worker host's families.
    const auto first = metrics->body.find("# TYPE digitpipe_worker_requests_total");
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(metrics->body.find("# TYPE digitpipe_worker_requests_total", first + 1),
              std::string::npos);
}

TEST_F(GatewayTest, LongPollReturnsAnEventPublishedMeanwhileAndTimesOutEmpty) {
    const auto start = gateway->get("/api/events?after=0&timeout_ms=1");
    ASSERT_TRUE(start);
    ASSERT_EQ(start->status, 200) << start->body;
    const auto after = json_of(*start)["next"].get<std::uint64_t>();

    const auto idle =
        gateway->get("/api/events?after=" + std::to_string(after) + "&timeout_ms=200");
    ASSERT_TRUE(idle);
    ASSERT_EQ(idle->status, 200);
    EXPECT_EQ(json_of(*idle), (json{{"events", json::array()}, {"next", after}, {"gap", false}}));

    auto poll = std::async(std::launch::async, [&] {
        return gateway->get("/api/events?after=" + std::to_string(after) + "&timeout_ms=20000");
    });
    zmq::context_t context(1);
    fw::EventPublisher publisher(context, broker->events_in);
    // PUB/SUB joins late: publish until the subscription has reached this publisher.
    while (poll.wait_for(100ms) != std::future_status::ready) {
        publisher.publish("train.note", R"({"run": "gateway-test", "text": "hello"})");
    }
    const auto answer = poll.get();
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
    const auto body = json_of(*answer);
    ASSERT_GE(body["events"].size(), 1u) << answer->body;
    EXPECT_EQ(body["events"][0]["seq"], after + 1);
    EXPECT_EQ(body["gap"], false);
    EXPECT_EQ(body["next"], body["events"].back()["seq"]);
    // Other events (a worker count change) may come first; ours is among them.
    bool found = false;
    for (const auto& event : body["events"]) {
        if (event["topic"] != "train.note") continue;
        found = true;
        EXPECT_EQ(event["data"], (json{{"run", "gateway-test"}, {"text", "hello"}}));
        EXPECT_EQ(event["time"].get<std::string>().size(), 24u);  // 2026-11-24T15:01:03.120Z
    }
    EXPECT_TRUE(found) << answer->body;

    // A wait longer than Pistache's header timeout (5 s here) ends as a normal, possibly empty,
    // answer before that timer could cut it with a bare 408.
    const auto now = json_of(*gateway->get("/api/events?after=0&timeout_ms=1"))["next"];
    const auto long_wait = gateway->get(
        "/api/events?after=" + std::to_string(now.get<std::uint64_t>()) + "&timeout_ms=20000");
    ASSERT_TRUE(long_wait);
    EXPECT_EQ(long_wait->status, 200) << long_wait->body;

    for (const char* bad : {"after=-1", "after=x", "timeout_ms=0", "timeout_ms=60001"}) {
        expect_error(gateway->get(std::string("/api/events?") + bad), 400, "invalid_argument", bad);
    }
}

TEST_F(GatewayTest, UnknownRoutesWrongMethodsAndStaticFiles) {
    expect_error(gateway->get("/api/nope"), 404, "not_found", "unknown API route");
    expect_error(gateway->get("/api/jobs/a/b/c"), 404, "not_found", "too deep");
    const auto wrong = gateway->get("/api/predict");
    expect_error(wrong, 405, "method_not_allowed", "GET predict");
    EXPECT_EQ(wrong->header("allow"), "POST");
    expect_error(ts::http_request(gateway->port, "DELETE", "/healthz"), 405, "method_not_allowed",
                 "DELETE healthz");
    expect_error(gateway->post("/index.html", "x"), 405, "method_not_allowed", "POST static");

    const auto index = gateway->get("/");
    ASSERT_TRUE(index);
    EXPECT_EQ(index->status, 200);
    EXPECT_EQ(index->header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(index->header("cache-control"), "no-cache");
    EXPECT_NE(index->body.find("<title>digitpipe</title>"), std::string::npos);
    const auto script = gateway->get("/assets/app-1.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 200);
    EXPECT_EQ(script->header("content-type"), "text/javascript; charset=utf-8");
    EXPECT_NE(script->header("cache-control").find("max-age"), std::string::npos);
    EXPECT_EQ(script->body, "console.log('digitpipe')");
    const auto app_route = gateway->get("/train/quick");
    ASSERT_TRUE(app_route);
    EXPECT_EQ(app_route->status, 200);
    EXPECT_EQ(app_route->body, index->body);
    expect_error(gateway->get("/assets/missing.js"), 404, "not_found", "missing asset");

    for (const char* path :
         {"/../../etc/passwd", "/../secret.txt", "/%2e%2e/secret.txt", "/%2e%2e/%2e%2e/etc/passwd",
          "/assets/..%2f..%2fsecret.txt", "/assets%2f..%2f..%2fetc%2fpasswd", "/a\\..\\secret.txt",
          "/index.html%00.js", "/%zz"}) {
        expect_error(gateway->get(path), 404, "not_found", path);
        EXPECT_TRUE(gateway->healthy()) << "after " << path;
    }
}

TEST_F(GatewayTest, TrainingRoutes) {
    const auto experiments = gateway->get("/api/experiments");
    ASSERT_TRUE(experiments);
    ASSERT_EQ(experiments->status, 200) << experiments->body;
    bool quick = false;
    const auto listed_experiments = json_of(*experiments);  // kept alive for the loop
    for (const auto& e : listed_experiments["experiments"]) quick |= e["name"] == "quick";
    EXPECT_TRUE(quick) << experiments->body;

    expect_error(gateway->post("/api/train", "{", kJsonType), 400, "invalid_argument", "bad JSON");
    expect_error(gateway->post("/api/train", R"({"experiment": 5})", kJsonType), 400,
                 "invalid_argument", "experiment not a string");
    expect_error(gateway->post("/api/train", R"({"experiment": "quick", "overrides": {"a": [1]}})"),
                 400, "invalid_argument", "override not a scalar");
    expect_error(gateway->post("/api/train", R"({"experiment": "no-such-experiment"})"), 404,
                 "not_found", "unknown experiment");

    const auto started = gateway->post(
        "/api/train",
        R"({"experiment": "quick", "overrides": {"data.limit": 640, "training.epochs": 1}})",
        kJsonType);
    ASSERT_TRUE(started);
    ASSERT_EQ(started->status, 202) << started->body;
    const auto job = json_of(*started)["job"];
    const auto id = job["id"].get<std::string>();
    EXPECT_EQ(id.rfind("quick-", 0), 0u) << started->body;

    const auto jobs = gateway->get("/api/jobs");
    ASSERT_TRUE(jobs);
    ASSERT_EQ(jobs->status, 200) << jobs->body;
    bool listed = false;
    const auto listed_jobs = json_of(*jobs);
    for (const auto& j : listed_jobs["jobs"]) listed |= j["id"] == id;
    EXPECT_TRUE(listed) << jobs->body;

    const auto detail = gateway->get("/api/jobs/" + id);
    ASSERT_TRUE(detail);
    ASSERT_EQ(detail->status, 200) << detail->body;
    EXPECT_EQ(json_of(*detail)["id"], id);

    const auto cancel = gateway->post("/api/jobs/" + id + "/cancel", "");
    ASSERT_TRUE(cancel);
    // 202 while it runs; 409 if the one-epoch run on 640 images already finished.
    EXPECT_TRUE(cancel->status == 202 || cancel->status == 409) << cancel->body;
    if (cancel->status == 202) {
        EXPECT_EQ(json_of(*cancel)["job"]["id"], id);
    }

    expect_error(gateway->get("/api/jobs/no-such-run"), 404, "not_found", "unknown job");
    expect_error(gateway->get("/api/jobs/..%2Fetc"), 400, "invalid_argument", "id with a slash");
    expect_error(gateway->get("/api/jobs/%2e%2e"), 400, "invalid_argument", "dot-dot id");
    expect_error(gateway->post("/api/jobs/a%20b/cancel", ""), 400, "invalid_argument",
                 "id with a space");

    // Serving a model: the train stage checks it and announces it (model.published).
    expect_error(gateway->post("/api/serve", "{", kJsonType), 400, "invalid_argument", "bad JSON");
    expect_error(gateway->post("/api/serve", R"({"run": "a", "model": "b"})", kJsonType), 400,
                 "invalid_argument", "both run and model");
    expect_error(gateway->post("/api/serve", R"({"model": "../models/x.safetensors"})", kJsonType),
                 400, "invalid_argument", "a path, not a file name");
    expect_error(gateway->post("/api/serve", R"({"run": "no-such-run"})", kJsonType), 404,
                 "not_found", "unknown run");
    const auto served =
        gateway->post("/api/serve", R"({"model": "digitpipe-mnist.safetensors"})", kJsonType);
    ASSERT_TRUE(served);
    ASSERT_EQ(served->status, 202) << served->body;
    const auto published = json_of(*served)["published"];
    EXPECT_EQ(published["run"], "best-20261124-113228") << served->body;
    EXPECT_EQ(published["dataset"], "mnist");
    EXPECT_EQ(published["sha256"].get<std::string>().size(), 64u);
}

// ---- gateways without a usable worker (a fresh broker and gateway per test) ---------------

class GatewayDegradedTest : public ::testing::Test {
 protected:
    void SetUp() override {
        config = dir.write("deploy.yaml",
                           kBrokerYaml + "stages: {}\n" + paths_yaml(dir.path()) +
                               "gateway:\n  listen: 127.0.0.1:0\n  request_timeout_ms: 300\n"
                               "  max_pending: 2\n  services: {train: digitpipe.slow}\n"
                               "  header_timeout_ms: 30000\n");  // long-polls up to 29.5 s
        broker = std::make_unique<BrokerProcess>(config);
        gateway = std::make_unique<GatewayProcess>(config, *broker);
        // The gateway has seen the broker's services once it reports an update time.
        ASSERT_TRUE(ts::wait_until(
            [&] {
                const auto r = gateway->get("/api/workers");
                return r && r->status == 200 && json_of(*r)["updated"].is_string();
            },
            20s));
    }

    ts::TempDir dir;
    std::filesystem::path config;
    std::unique_ptr<BrokerProcess> broker;
    std::unique_ptr<GatewayProcess> gateway;
};

TEST_F(GatewayDegradedTest, NoInferWorkerMeans503WithRetryAfter) {
    const auto ready = gateway->get("/readyz");
    expect_error(ready, 503, "unavailable", "readyz");
    EXPECT_EQ(ready->header("retry-after"), "1");
    const auto predict = gateway->post("/api/predict", "\x89PNG", kPngType);
    expect_error(predict, 503, "unavailable", "predict");
    EXPECT_EQ(predict->header("retry-after"), "1");
    EXPECT_NE(json_of(*predict)["error"]["message"].get<std::string>().find("digitpipe.infer"),
              std::string::npos);
    EXPECT_TRUE(gateway->healthy());
}

TEST_F(GatewayDegradedTest, AWorkerThatMissesTheDeadlineMeans504) {
    // A worker of digitpipe.slow (the gateway's train service here) that answers after 1.5 s,
    // well past the gateway's 300 ms request deadline.
    zmq::context_t context(1);
    fw::WorkerOptions options;
    options.broker_endpoint = broker->endpoint;
    options.service = "digitpipe.slow";
    options.heartbeat.interval = 100ms;
    options.stop_grace = 3000ms;
    fw::WorkerSession worker(context, options);
    std::atomic<bool> stop{false};
    std::thread thread([&] {
        worker.run(
            [](fw::Frames&& body) {
                std::this_thread::sleep_for(1500ms);
                auto request = fw::decode_request(body);
                return fw::encode_reply(fw::Reply::ok({{"jobs", json::array()}}),
                                        request ? request->correlation_id : "x");
            },
            stop);
    });
    const bool seen = ts::wait_until(
        [&] {
            const auto r = gateway->get("/api/workers");
            if (!r) return false;
            const auto body = json_of(*r);
            for (const auto& s : body["services"]) {
                if (s["name"] == "digitpipe.slow" && s["workers"] == 1) return true;
            }
            return false;
        },
        20s);
    EXPECT_TRUE(seen);
    if (seen) {
        const auto late = gateway->get("/api/jobs");
        expect_error(late, 504, "deadline_exceeded", "slow worker");
        EXPECT_NE(json_of(*late)["error"]["message"].get<std::string>().find("train.runs"),
                  std::string::npos);
        EXPECT_TRUE(gateway->healthy());
    }
    stop = true;
    thread.join();
}

TEST_F(GatewayDegradedTest, TooManyWaitingRequestsMeans429) {
    // Two long-polls fill max_pending (2); anything else that waits in the bridge is refused.
    // A poll that an event ends early is started again from the event log's new end, so the
    // two slots stay taken however slow or busy the machine is.
    const auto poll_from = [&](std::uint64_t after) {
        return std::async(std::launch::async, [this, after] {
            return gateway->get("/api/events?after=" + std::to_string(after) + "&timeout_ms=12000");
        });
    };
    const auto end_of_log = [&] {
        return json_of(*gateway->get("/api/events?after=0&timeout_ms=1"))["next"]
            .get<std::uint64_t>();
    };
    std::array<std::future<std::optional<HttpResponse>>, 2> polls{poll_from(end_of_log()),
                                                                  poll_from(end_of_log())};
    std::vector<int> statuses;  // of every poll that ended
    std::optional<HttpResponse> refused;
    EXPECT_TRUE(ts::wait_until(
        [&] {
            for (auto& poll : polls) {
                if (poll.wait_for(0s) != std::future_status::ready) continue;
                const auto answer = poll.get();
                statuses.push_back(answer ? answer->status : 0);
                poll = poll_from(end_of_log());
            }
            refused = gateway->get("/api/workers");
            return refused && refused->status == 429;
        },
        30s));
    expect_error(refused, 429, "resource_exhausted", "third waiting request");
    EXPECT_TRUE(gateway->healthy()) << "/healthz does not wait in the bridge";
    for (auto& poll : polls) {
        const auto answer = poll.get();
        statuses.push_back(answer ? answer->status : 0);
    }
    // A poll started while the probe held a slot is itself refused: 429 is fair, nothing else.
    for (const int status : statuses) EXPECT_TRUE(status == 200 || status == 429) << status;
    const auto after = gateway->get("/api/workers");
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 200) << "slots are given back";
}

TEST_F(GatewayDegradedTest, ExitsZeroOnSigterm) {
    gateway->process->signal(SIGTERM);
    EXPECT_EQ(gateway->process->wait_for(10s), 0);
}

}  // namespace
}  // namespace digitpipe::integration
