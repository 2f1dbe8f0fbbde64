// Test support: a minimal HTTP/1.1 client over a raw loopback socket, for tests of the gateway.
// One request per connection; the response is read by Content-Length (Pistache 0.0.5 answers
// "Connection: close" yet leaves the socket open, so reading to EOF would wait forever). Raw
// mode sends any bytes at all, for malformed-request tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace digitpipe::test_support {

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;

    // The header's value, "" when absent. `name` lowercase.
    std::string header(const std::string& name) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Sends `method target` with `body` (Content-Length added, plus `headers`) to 127.0.0.1:port
// and reads one response. nullopt when the connection fails or no complete response arrives
// within `timeout`.
std::optional<HttpResponse> http_request(
    std::uint16_t port, const std::string& method, const std::string& target,
    const std::string& body = "", const HttpHeaders& headers = {},
    std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

// Sends `raw` as is and reads one response (as http_request).
std::optional<HttpResponse> http_raw(
    std::uint16_t port, const std::string& raw,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

// The same towards an IPv4 address other than 127.0.0.1 (a test host in a network namespace).
std::optional<HttpResponse> http_request_at(
    const std::string& ipv4, std::uint16_t port, const std::string& method,
    const std::string& target, const std::string& body = "", const HttpHeaders& headers = {},
    std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));
std::optional<HttpResponse> http_raw_at(
    const std::string& ipv4, std::uint16_t port, const std::string& raw,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

}  // namespace digitpipe::test_support
