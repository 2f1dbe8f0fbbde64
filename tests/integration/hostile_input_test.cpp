// Hostile input against real processes on 127.0.0.1 (issue 5, part 5).
// HTTP: a gateway, broker and infer worker (the shipped model) take well over 50 distinct bad
// requests (malformed JSON, wrong JSON types for every field of every JSON route, bodies over
// the limit or cut short, non-images, truncated PNG and JPEG, a PNG decompression bomb, huge
// declared dimensions, wrong content types, encoded path traversal and NUL bytes, header
// floods, bad methods and queries); each gets a 4xx (or 503) JSON error naming the problem.
// Slow senders within the timeouts succeed; past them they are cut off without stalling
// anyone else. Then the whole set is repeated and the resident memory of the gateway and the
// infer worker must not keep growing. (Malformed ZeroMQ frames to the broker and a worker:
// not here yet.)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "digitpipe/idx.hpp"
#include "digitpipe/infer/image.hpp"
#include "digit_images.hpp"
#include "gateway_support.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;
using namespace gateway_support;
using nlohmann::json;

constexpr std::size_t kBodyLimit = 1 << 20;  // gateway.max_body_bytes of this deployment
constexpr int kHeaderTimeoutMs = 3000;      // gateway.header_timeout_ms
constexpr int kBodyTimeoutMs = 3000;        // gateway.body_timeout_ms

// ---- image bytes made by hand ------------------------------------------------------------

// Deflate bits, least significant first (RFC 1951 3.1.1); Huffman codes go most significant
// bit first.
class BitWriter {
 public:
    void bits(std::uint32_t value, int count) {
        for (int i = 0; i < count; ++i) put((value >> i) & 1u);
    }
    void code(std::uint32_t value, int length) {
        for (int i = length - 1; i >= 0; --i) put((value >> i) & 1u);
    }
    std::string finish() {
        if (used_ > 0) out_ += static_cast<char>(byte_);
        byte_ = 0;
        used_ = 0;
        return std::move(out_);
    }

 private:
    void put(std::uint32_t bit) {
        byte_ |= static_cast<std::uint8_t>(bit << used_);
        if (++used_ == 8) {
            out_ += static_cast<char>(byte_);
            byte_ = 0;
            used_ = 0;
        }
    }
    std::string out_;
    std::uint8_t byte_ = 0;
    int used_ = 0;
};

// A zlib stream of `count` zero bytes, about 1000:1: one fixed-Huffman block of a literal 0
// and back-references of 258 bytes at distance 1 (13 bits each). `complete` adds the end of
// block and the Adler-32 trailer; otherwise the stream just stops (a decoder that honoured
// the header's size would still inflate that much first).
std::string zlib_zeros(std::uint64_t count, bool complete) {
    BitWriter w;
    w.bits(1, 1);  // BFINAL
    w.bits(1, 2);  // BTYPE 01: fixed Huffman
    w.code(0x30, 8);  // literal 0
    std::uint64_t left = count - 1;
    for (; left >= 258; left -= 258) {
        w.code(0xC5, 8);  // length code 285: 258 bytes
        w.code(0, 5);     // distance code 0: distance 1
    }
    for (; left > 0; --left) w.code(0x30, 8);
    if (complete) w.code(0, 7);  // end of block (256)
    std::string out = std::string("\x78\x01", 2) + w.finish();
    if (complete) {
        // Adler-32 of zeros: a stays 1, b adds 1 per byte.
        out += big_endian(static_cast<std::uint32_t>(((count % 65521) << 16) | 1u));
    }
    return out;
}

// A grey PNG of `width` x `height` zero pixels (filter bytes included), compressed as above.
std::string zero_png(std::uint32_t width, std::uint32_t height, bool complete) {
    // An incomplete stream stops after 100 MB (about 630 KB, under the body limit).
    const std::uint64_t raw = std::min<std::uint64_t>(
        std::uint64_t{height} * (std::uint64_t{width} + 1), complete ? UINT64_MAX : 100'000'000);
    return png_with(width, height,
                    png_chunk("IDAT", zlib_zeros(raw, complete)) +
                        (complete ? png_chunk("IEND", "") : std::string()));
}

// A baseline JPEG of one 8x8 block (shown as `width` x `height`; 1x1 by default) of flat grey:
// DQT, SOF0, one-code DC and AC tables, SOS, two bits of data (DC difference 0, EOB).
std::string tiny_jpeg(std::uint16_t width = 1, std::uint16_t height = 1) {
    const auto u16 = [](unsigned v) {
        return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
    };
    std::string one_code(16, '\0');
    one_code[0] = 1;  // one code of length 1
    return std::string("\xFF\xD8", 2) +                                             // SOI
           std::string("\xFF\xDB\x00\x43\x00", 5) + std::string(64, '\x01') +       // DQT
           std::string("\xFF\xC0\x00\x0B\x08", 5) + u16(height) + u16(width) +      // SOF0
           std::string("\x01\x01\x11\x00", 4) +                                     //
           std::string("\xFF\xC4\x00\x14\x00", 5) + one_code + std::string(1, '\0') +  // DHT DC
           std::string("\xFF\xC4\x00\x14\x10", 5) + one_code + std::string(1, '\0') +  // DHT AC
           std::string("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10) +              // SOS
           std::string("\x3F", 1) + std::string("\xFF\xD9", 2);                      // data, EOI
}

std::string base64(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : bytes) {
        acc = (acc << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
    while (out.size() % 4 != 0) out += '=';
    return out;
}

// ---- raw connections -------------------------------------------------------------------------

// One TCP connection to the gateway, sending in pieces and reading one response; for the
// slow-sender and cut-short cases http_raw cannot express.
class Connection {
 public:
    explicit Connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    }
    ~Connection() { ::close(fd_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return connected_;
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

    // What came back within `timeout`: a response (by Content-Length), or nullopt; `closed`
    // says whether the gateway closed the connection.
    std::optional<ts::HttpResponse> read(std::chrono::milliseconds timeout, bool& closed) {
        closed = false;
        std::string data;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        char buffer[65536];
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd item{fd_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (::poll(&item, 1, static_cast<int>(std::max(left.count(), 1L))) != 1) continue;
            const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) {
                closed = true;
                break;
            }
            data.append(buffer, static_cast<std::size_t>(n));
            const auto end = data.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            const auto length_at = data.find("Content-Length: ");
            if (length_at == std::string::npos || length_at > end) continue;
            const auto length = std::stoul(data.substr(length_at + 16));
            if (data.size() >= end + 4 + length) break;
        }
        const auto end = data.find("\r\n\r\n");
        if (end == std::string::npos || data.size() < 12) return std::nullopt;
        ts::HttpResponse response;
        response.status = std::atoi(data.substr(9, 3).c_str());
        std::size_t line = data.find("\r\n") + 2;
        while (line < end) {
            const auto next = data.find("\r\n", line);
            const auto colon = data.find(':', line);
            if (colon != std::string::npos && colon < next) {
                std::string name = data.substr(line, colon - line);
                for (auto& c : name) c = static_cast<char>(std::tolower(c));
                auto value = data.substr(colon + 1, next - colon - 1);
                while (!value.empty() && value.front() == ' ') value.erase(0, 1);
                response.headers[name] = value;
            }
            line = next + 2;
        }
        response.body = data.substr(end + 4);
        return response;
    }

 private:
    int fd_;
    bool connected_ = false;
};

std::string request(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& headers = "") {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string post_json(const std::string& target, const std::string& body) {
    return request("POST", target, body, "Content-Type: application/json\r\n");
}

std::string post_typed(const std::string& type, const std::string& body) {
    return request("POST", "/api/predict", body, "Content-Type: " + type + "\r\n");
}

// Resident memory of a process in KiB (VmRSS), 0 when it cannot be read.
std::int64_t resident_kib(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
    }
    return 0;
}

// One bad request: the raw bytes, and what must come back (`status` 0: any 4xx).
struct BadRequest {
    std::string what;
    std::string raw;
    int status = 0;
};

// ---- the deployment ----------------------------------------------------------------------

class HostileInputTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        const auto images_file = kSource / "data/mnist/t10k-images-idx3-ubyte";
        if (!std::filesystem::exists(images_file)) return;  // SetUp fails each test
        dir = std::make_unique<ts::TempDir>();
        images = std::make_unique<fw::IdxArray>(fw::read_idx(images_file));
        labels = std::make_unique<fw::IdxArray>(
            fw::read_idx(kSource / "data/mnist/t10k-labels-idx1-ubyte"));
        std::filesystem::create_directories(dir->path() / "dist");
        std::filesystem::create_directories(dir->path() / "runs");
        dir->write("dist/index.html", "<!doctype html><title>digitpipe</title>");
        dir->write("secret.txt", "not for the web");
        const auto config = dir->write(
            "deploy.yaml", kBrokerYaml + "stages:\n  infer: {plugin: infer}\n" +
                               paths_yaml(dir->path() / "runs") +
                               "gateway:\n  listen: 127.0.0.1:0\n  dashboard: dist\n"
                               "  max_body_bytes: " + std::to_string(kBodyLimit) +
                               "\n  header_timeout_ms: " + std::to_string(kHeaderTimeoutMs) +
                               "\n  body_timeout_ms: " + std::to_string(kBodyTimeoutMs) +
                               "\n  request_timeout_ms: 30000\n");
        broker = std::make_unique<BrokerProcess>(config);
        infer = start_worker(config, *broker, "infer");
        gateway = std::make_unique<GatewayProcess>(config, *broker);
        ready = ts::wait_until(
            [] {
                const auto r = gateway->get("/readyz");
                return r && r->status == 200;
            },
            60s, 50ms);
    }
    static void TearDownTestSuite() {
        gateway.reset();
        infer.reset();
        broker.reset();
        dir.reset();
    }
    void SetUp() override {
        ASSERT_TRUE(dir) << "MNIST missing under data/: run deploy/setup.sh";
        ASSERT_TRUE(ready) << "the gateway never became ready";
    }

    static std::string digit_png(std::size_t index) { return canvas_png(*images, index); }

    static void expect_prediction_of(std::size_t index) {
        const auto response = gateway->post("/api/predict", digit_png(index),
                                            {{"Content-Type", "image/png"}});
        ASSERT_TRUE(response);
        ASSERT_EQ(response->status, 200) << response->body;
        const auto body = json_of(*response);
        EXPECT_EQ(body["found"], true);
        EXPECT_EQ(body["digit"], static_cast<int>(labels->data[index])) << response->body;
    }

    // Every bad request of the suite (the memory test repeats them).
    static std::vector<BadRequest> bad_requests();

    static inline std::unique_ptr<ts::TempDir> dir;
    static inline std::unique_ptr<fw::IdxArray> images;
    static inline std::unique_ptr<fw::IdxArray> labels;
    static inline std::unique_ptr<BrokerProcess> broker;
    static inline std::unique_ptr<ts::Process> infer;
    static inline std::unique_ptr<GatewayProcess> gateway;
    static inline bool ready = false;
};

std::vector<BadRequest> HostileInputTest::bad_requests() {
    std::vector<BadRequest> cases;
    const auto add = [&](std::string what, std::string raw, int status = 0) {
        cases.push_back({std::move(what), std::move(raw), status});
    };
    // -- malformed JSON and wrong JSON types, every field of every JSON route ----------------
    for (const auto& [what, body] : std::vector<std::pair<std::string, std::string>>{
             {"truncated JSON", R"({"image": )"},
             {"not JSON", "image=abc"},
             {"JSON array", "[1]"},
             {"JSON string", R"("data:image/png;base64,AAAA")"},
             {"JSON null", "null"},
             {"trailing garbage", R"({"image": "AAAA"} x)"},
             {"invalid UTF-8", "{\"image\": \"\xff\xfe\"}"},
             {"image missing", R"({"picture": "AAAA"})"},
             {"image number", R"({"image": 42})"},
             {"image null", R"({"image": null})"},
             {"image bool", R"({"image": true})"},
             {"image array", R"({"image": ["AAAA"]})"},
             {"image object", R"({"image": {"data": "AAAA"}})"},
             {"image empty", R"({"image": ""})"},
             {"bad base64", R"({"image": "data:image/png;base64,@@@@"})"},
             {"gif data URL", R"({"image": "data:image/gif;base64,R0lGODlh"})"},
             {"base64 of text", "{\"image\": \"" + base64("hello, not an image") + "\"}"},
             {"nested 100000 deep", std::string(100000, '[') + std::string(100000, ']')},
         }) {
        add("predict JSON: " + what, post_json("/api/predict", body), 400);
    }
    for (const auto& [what, body] : std::vector<std::pair<std::string, std::string>>{
             {"truncated JSON", "{"},
             {"JSON array", "[]"},
             {"JSON string", R"("quick")"},
             {"experiment missing", "{}"},
             {"experiment number", R"({"experiment": 5})"},
             {"experiment null", R"({"experiment": null})"},
             {"experiment empty", R"({"experiment": ""})"},
             {"experiment array", R"({"experiment": ["quick"]})"},
             {"overrides array", R"({"experiment": "quick", "overrides": [1]})"},
             {"overrides string", R"({"experiment": "quick", "overrides": "a=1"})"},
             {"override list value", R"({"experiment": "quick", "overrides": {"a": [1]}})"},
             {"override object value", R"({"experiment": "quick", "overrides": {"a": {"b": 1}}})"},
             {"override null value", R"({"experiment": "quick", "overrides": {"a": null}})"},
             {"override key with =", R"({"experiment": "quick", "overrides": {"a=b": 1}})"},
             {"override key empty", R"({"experiment": "quick", "overrides": {"": 1}})"},
             {"override key with space", R"({"experiment": "quick", "overrides": {"a b": 1}})"},
         }) {
        add("train JSON: " + what, post_json("/api/train", body), 400);
    }
    for (const auto& [what, body] : std::vector<std::pair<std::string, std::string>>{
             {"truncated JSON", "{"},
             {"JSON array", "[]"},
             {"empty object", "{}"},
             {"run number", R"({"run": 5})"},
             {"run null", R"({"run": null})"},
             {"run traversal", R"({"run": "../../etc"})"},
             {"run empty", R"({"run": ""})"},
             {"model number", R"({"model": 5})"},
             {"run and model", R"({"run": "a", "model": "b"})"},
             {"unknown key", R"({"runs": "a"})"},
         }) {
        add("serve JSON: " + what, post_json("/api/serve", body), 400);
    }
    // -- bodies: over the limit, wrong content types, non-images, images that lie ---------------
    add("body one byte over the limit", post_typed("image/png", std::string(kBodyLimit + 1, 'x')),
        413);
    add("declared 8x over the limit",
        "POST /api/predict HTTP/1.1\r\nContent-Type: image/png\r\nContent-Length: " +
            std::to_string(8 * kBodyLimit) + "\r\n\r\n" + std::string(8 * kBodyLimit, 'x'),
        413);
    add("Content-Length beyond 64 bits",
        "POST /api/predict HTTP/1.1\r\nContent-Type: image/png\r\n"
        "Content-Length: 99999999999999999999999\r\n\r\nx");
    add("negative Content-Length",
        "POST /api/predict HTTP/1.1\r\nContent-Type: image/png\r\nContent-Length: -5\r\n\r\nx");
    add("chunk size beyond 64 bits",
        "POST /api/predict HTTP/1.1\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked"
        "\r\n\r\nffffffffffffffffffffff\r\nx\r\n0\r\n\r\n");
    add("text/plain", post_typed("text/plain", "hello"), 415);
    add("image/gif", post_typed("image/gif", "GIF89a"), 415);
    add("application/xml", post_typed("application/xml", "<a/>"), 415);
    add("no content type", request("POST", "/api/predict", "hello"), 415);
    add("10 KB content type", post_typed("image/" + std::string(10000, 'x'), "x"), 415);
    add("multipart without boundary", post_typed("multipart/form-data", "--x\r\n\r\n"), 400);
    add("multipart cut short",
        post_typed("multipart/form-data; boundary=XyZ",
                   "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"),
        400);
    add("empty body", post_typed("image/png", ""), 400);
    add("non-image bytes", post_typed("image/png", "this is plain text, not a PNG"), 400);
    add("ELF bytes", post_typed("image/png", std::string("\x7f" "ELF\x02\x01\x01", 7)), 400);
    const auto png = digit_png(3);
    add("truncated PNG", post_typed("image/png", png.substr(0, png.size() / 2)), 400);
    add("PNG signature only", post_typed("image/png", png.substr(0, 8)), 400);
    add("PNG claiming 20000x20000", post_typed("image/png", png_with(20000, 20000, "")), 400);
    add("PNG claiming 0x0", post_typed("image/png", png_with(0, 0, "")), 400);
    // A decompression bomb: 20000x20000 grey (400 MB inflated), its first 100 MB in a 630 KB
    // stream; refused
    // from the header, before anything is inflated.
    add("PNG bomb 20000x20000", post_typed("image/png", zero_png(20000, 20000, false)), 400);
    add("truncated JPEG", post_typed("image/jpeg", tiny_jpeg().substr(0, 80)), 400);
    add("JPEG claiming 20000x20000", post_typed("image/jpeg", tiny_jpeg(20000, 20000)), 400);
    add("JPEG SOI only", post_typed("image/jpeg", std::string("\xFF\xD8\xFF", 3)), 400);
    // -- paths: traversal, encodings, NUL --------------------------------------------------------
    for (const char* path :
         {"/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
          "/%2e%2e%2f%2e%2e%2fsecret.txt", "/..%5c..%5csecret.txt", "/index.html%00.js", "/%00",
          "/%zz", "/%", "/api/%2e%2e/%2e%2e/etc/passwd", "/api/jobs/..%2f..%2fetc",
          "/api/jobs/%2e%2e", "/api/jobs/a%00b", "/api/jobs/%zz"}) {
        add(std::string("path ") + path, request("GET", path));
    }
    add("job id of 300 characters", request("GET", "/api/jobs/" + std::string(300, 'a')), 400);
    add("cancel with a bad id", request("POST", "/api/jobs/a%20b/cancel"), 400);
    add("raw NUL in the path", request("GET", std::string("/index.html\0.js", 15)));
    // -- queries ---------------------------------------------------------------------------------
    for (const char* query : {"n=0", "n=101", "n=abc", "n=", "n=2.5", "n=1e3", "n=%31", "n=-1",
                              "n=99999999999999999999999", "n=+5", "n=0x10"}) {
        add(std::string("sample_predictions?") + query,
            request("GET", std::string("/api/sample_predictions?") + query), 400);
    }
    for (const char* query : {"after=-1", "after=x", "timeout_ms=0", "timeout_ms=60001",
                              "timeout_ms=1.5", "after=18446744073709551616"}) {
        add(std::string("events?") + query, request("GET", std::string("/api/events?") + query),
            400);
    }
    // -- the protocol: methods, request lines, headers --------------------------------------------
    add("unknown method", "BREW /pot HTTP/1.1\r\n\r\n", 400);
    add("lower-case method", "get /healthz HTTP/1.1\r\n\r\n");
    add("method with a control byte", std::string("GE\x01T /healthz HTTP/1.1\r\n\r\n"));
    add("wrong method on a route", request("PUT", "/api/predict"), 405);
    add("DELETE on the dashboard", request("DELETE", "/index.html"), 405);
    add("HTTP/2.0", "GET /healthz HTTP/2.0\r\n\r\n");
    // Pistache waits for more of a request line it cannot finish: these end at the header
    // timeout with its own bare 408 (not JSON; no hook in 0.0.5), never later.
    add("no version", "GET /healthz\r\n\r\n", 408);
    add("TLS ClientHello",
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(64, 'A') +
            "\r\n\r\n",
        408);
    add("request line of 100 KB", request("GET", "/" + std::string(100000, 'a')), 431);
    add("header line of 70 KB", request("GET", "/healthz", "", "X-Big: " + std::string(70000, 'a') +
                                                            "\r\n"),
        431);
    std::string many;
    for (int i = 0; i < 150; ++i) many += "X-Header-" + std::to_string(i) + ": 1\r\n";
    add("150 header fields", request("GET", "/healthz", "", many), 431);
    std::string flood;
    for (int i = 0; i < 5000; ++i) flood += "X-Same: " + std::to_string(i) + "\r\n";
    add("5000 repeats of one header", request("GET", "/healthz", "", flood));
    return cases;
}

// Sends each bad request on its own connection and checks its answer.
void check_bad_requests(const std::vector<BadRequest>& cases, std::uint16_t port,
                        bool check_health) {
    for (const auto& c : cases) {
        const auto response = ts::http_raw(port, c.raw, 30s);
        ASSERT_TRUE(response) << c.what << ": no answer";
        if (c.status != 0) {
            EXPECT_EQ(response->status, c.status) << c.what << ": " << response->body;
        } else {
            EXPECT_TRUE((response->status >= 400 && response->status < 500) ||
                        response->status == 503)
                << c.what << ": " << response->status << " " << response->body;
        }
        if (c.status == 408) continue;  // Pistache's timeout answer: plain text
        EXPECT_EQ(response->header("content-type"), "application/json") << c.what;
        const auto body = json_of(*response);
        const auto error = body.is_object() ? body.value("error", json()) : json();
        EXPECT_TRUE(error.is_object() && error.value("code", json()).is_string() &&
                    !error.value("message", std::string()).empty())
            << c.what << ": " << response->body;
        if (check_health) {
            const auto health = ts::http_request(port, "GET", "/healthz");
            ASSERT_TRUE(health && health->status == 200) << "gateway unhealthy after " << c.what;
        }
    }
}

TEST_F(HostileInputTest, EveryBadRequestGetsAJsonErrorAndTheGatewayStaysUseful) {
    const auto cases = bad_requests();
    EXPECT_GE(cases.size(), 50u);
    check_bad_requests(cases, gateway->port, /*check_health=*/true);
    // Lenient, harmless answers (web/API.md): a double-encoded traversal decodes once to a
    // literal "%2e%2e" path, which is the dashboard's app route fallback (index.html), never a
    // file outside it; a header line without ':' is skipped by Pistache's parser.
    const auto doubled = gateway->get("/%252e%252e/%252e%252e/etc/passwd");
    ASSERT_TRUE(doubled);
    EXPECT_TRUE(doubled->status == 404 ||
                (doubled->status == 200 && doubled->body.find("<title>digitpipe") != std::string::npos))
        << doubled->body;
    const auto no_colon = ts::http_raw(gateway->port, request("GET", "/healthz", "", "NoColon\r\n"));
    ASSERT_TRUE(no_colon);
    EXPECT_TRUE(no_colon->status == 200 || no_colon->status == 400) << no_colon->body;
    EXPECT_TRUE(gateway->process->running());
    EXPECT_TRUE(infer->running());
    expect_prediction_of(0);
}

TEST_F(HostileInputTest, NamesWhatWasWrong) {
    const auto message = [&](const std::string& raw) {
        const auto r = ts::http_raw(gateway->port, raw);
        return r ? json_of(*r)["error"]["message"].get<std::string>() : std::string();
    };
    EXPECT_NE(message(post_json("/api/predict", R"({"image": 42})")).find("image"),
              std::string::npos);
    EXPECT_NE(message(post_json("/api/train", R"({"experiment": 5})")).find("experiment"),
              std::string::npos);
    EXPECT_NE(message(post_json("/api/train", "{")).find("malformed JSON"), std::string::npos);
    EXPECT_NE(message(post_typed("image/png", png_with(20000, 20000, ""))).find("20000"),
              std::string::npos);
    EXPECT_NE(message(request("GET", "/api/sample_predictions?n=abc")).find("n must be"),
              std::string::npos);
    std::string many;
    for (int i = 0; i < 150; ++i) many += "X-Header-" + std::to_string(i) + ": 1\r\n";
    EXPECT_NE(message(request("GET", "/healthz", "", many)).find("header fields"),
              std::string::npos);
}

// A 1x1 image is a valid image with nothing to tell ink from background: the blank-canvas
// answer (200, found: false), as web/API.md promises for any uniform image, not an error.
// Likewise the largest image the limits allow (4096x4096 zeros, 16 MiB inflated from a
// 17 KB file): decoded within the limits and answered, not refused.
TEST_F(HostileInputTest, TinyAndMaximalImagesAreNoDigitAnswers) {
    for (const auto& [what, type, bytes] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"1x1 PNG", "image/png", zero_png(1, 1, true)},
             {"1x1 JPEG", "image/jpeg", tiny_jpeg()},
             {"4096x4096 PNG of zeros", "image/png", zero_png(4096, 4096, true)}}) {
        const auto response = gateway->post("/api/predict", bytes, {{"Content-Type", type}});
        ASSERT_TRUE(response) << what;
        ASSERT_EQ(response->status, 200) << what << ": " << response->body;
        const auto body = json_of(*response);
        EXPECT_EQ(body["found"], false) << what;
        EXPECT_NE(body["message"].get<std::string>().find("no digit"), std::string::npos) << what;
    }
    expect_prediction_of(1);
}

TEST_F(HostileInputTest, SlowSendersWithinTheTimeoutsSucceed) {
    // Headers and body each dribbled over about a second, well inside 3 s timeouts.
    const auto body = digit_png(4);
    const std::string head = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                             "image/png\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    Connection connection(gateway->port);
    constexpr int kPieces = 10;
    for (int i = 0; i < kPieces; ++i) {
        const auto from = head.size() * i / kPieces;
        ASSERT_TRUE(connection.send(head.substr(from, head.size() * (i + 1) / kPieces - from)));
        std::this_thread::sleep_for(100ms);
    }
    for (int i = 0; i < kPieces; ++i) {
        const auto from = body.size() * i / kPieces;
        ASSERT_TRUE(connection.send(body.substr(from, body.size() * (i + 1) / kPieces - from)));
        std::this_thread::sleep_for(100ms);
    }
    bool closed = false;
    const auto response = connection.read(30s, closed);
    ASSERT_TRUE(response) << "closed: " << closed;
    ASSERT_EQ(response->status, 200) << response->body;
    EXPECT_EQ(json_of(*response)["digit"], static_cast<int>(labels->data[4]));
}

TEST_F(HostileInputTest, SlowSendersPastTheTimeoutsAreCutOffWithoutStallingOthers) {
    // Headers that never finish; a body that stops half way; a body cut short by a close.
    Connection headers(gateway->port);
    ASSERT_TRUE(headers.send("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"));
    Connection body(gateway->port);
    ASSERT_TRUE(body.send("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "image/png\r\nContent-Length: 1000\r\n\r\n0123456789"));
    Connection cut(gateway->port);
    ASSERT_TRUE(cut.send("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         "image/png\r\nContent-Length: 1000\r\n\r\n0123456789"));
    cut.shutdown_write();
    // Meanwhile everyone else is served.
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(gateway->healthy());
    expect_prediction_of(5);
    // Each stalled connection ends with a timeout answer (Pistache's own 408) or a close,
    // within its timeout plus a generous margin: never held open.
    for (auto* connection : {&headers, &body, &cut}) {
        bool closed = false;
        const auto response = connection->read(std::chrono::milliseconds(kHeaderTimeoutMs) +
                                                   std::chrono::milliseconds(kBodyTimeoutMs) + 20s,
                                               closed);
        EXPECT_TRUE(closed || (response && response->status == 408))
            << (response ? std::to_string(response->status) + " " + response->body : "nothing");
    }
    EXPECT_TRUE(gateway->healthy());
}

TEST_F(HostileInputTest, MemoryDoesNotGrowUnderRepeatedBadRequests) {
    // Every bad request, 20 rounds (without the health probe between requests). The resident
    // size after round 20 is compared with that after round 5, once allocator pools, caches
    // and Pistache's per-thread buffers have reached their working size. Margin: 10% + 8 MiB.
    // Rounds 6-20 send about 15 x 16 MB of request bytes; a leak of even 1% of the bytes, or
    // of a few hundred bytes per request, exceeds it, while run-to-run noise (glibc arenas
    // trimming or not, measured at a few MiB here) stays inside.
    constexpr int kRounds = 20;
    constexpr int kWarmRounds = 5;
    // Without the two that wait out the header timeout (3 s each, and they hold no body).
    auto cases = bad_requests();
    std::erase_if(cases, [](const BadRequest& c) { return c.status == 408; });
    std::int64_t gateway_warm = 0;
    std::int64_t infer_warm = 0;
    for (int round = 1; round <= kRounds; ++round) {
        check_bad_requests(cases, gateway->port, /*check_health=*/false);
        if (HasFailure()) return;
        if (round == kWarmRounds) {
            gateway_warm = resident_kib(gateway->process->pid());
            infer_warm = resident_kib(infer->pid());
        }
    }
    const auto gateway_end = resident_kib(gateway->process->pid());
    const auto infer_end = resident_kib(infer->pid());
    const auto bound = [](std::int64_t warm) { return warm + warm / 10 + 8 * 1024; };
    RecordProperty("gateway_rss_kib_round5", std::to_string(gateway_warm));
    RecordProperty("gateway_rss_kib_round20", std::to_string(gateway_end));
    RecordProperty("infer_rss_kib_round5", std::to_string(infer_warm));
    RecordProperty("infer_rss_kib_round20", std::to_string(infer_end));
    std::cerr << "VmRSS KiB after round " << kWarmRounds << " / " << kRounds
              << ": gateway " << gateway_warm << " / " << gateway_end << ", infer " << infer_warm
              << " / " << infer_end << " (" << cases.size() << " requests a round)\n";
    ASSERT_GT(gateway_warm, 0);
    ASSERT_GT(infer_warm, 0);
    EXPECT_LE(gateway_end, bound(gateway_warm));
    EXPECT_LE(infer_end, bound(infer_warm));
    EXPECT_TRUE(gateway->healthy());
    expect_prediction_of(6);
}

}  // namespace
}  // namespace digitpipe::integration
