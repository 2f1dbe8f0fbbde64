// A raw-socket HTTP/1.1 client for gateway tests (see http_client.hpp).
#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace digitpipe::test_support {
namespace {

using Clock = std::chrono::steady_clock;

// Closes the socket when the request is done, however it ends.
struct Socket {
    int fd = -1;
    ~Socket() {
        if (fd >= 0) ::close(fd);
    }
};

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

bool wait_for(int fd, short events, Clock::time_point deadline) {
    pollfd item{fd, events, 0};
    return ::poll(&item, 1, remaining_ms(deadline)) == 1;
}

std::string lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// Parses status line and headers; nullopt when malformed.
std::optional<HttpResponse> parse_head(const std::string& head) {
    HttpResponse response;
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
    response.status = std::atoi(status_line.c_str() + 9);
    while (line_end != std::string::npos && line_end + 2 < head.size()) {
        const auto start = line_end + 2;
        line_end = head.find("\r\n", start);
        const auto line = head.substr(start, line_end - start);
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        response.headers[lower(line.substr(0, colon))] = value;
    }
    return response;
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

std::optional<HttpResponse> http_raw(std::uint16_t port, const std::string& raw,
                                     std::chrono::milliseconds timeout) {
    return http_raw_at("127.0.0.1", port, raw, timeout);
}

std::optional<HttpResponse> http_raw_at(const std::string& ipv4, std::uint16_t port,
                                        const std::string& raw,
                                        std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    Socket socket;
    socket.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (socket.fd < 0) return std::nullopt;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (::inet_pton(AF_INET, ipv4.c_str(), &address.sin_addr) != 1) return std::nullopt;
    if (::connect(socket.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
        return std::nullopt;
    }
    if (!wait_for(socket.fd, POLLOUT, deadline)) return std::nullopt;
    // Send everything; a server that answers early (413) and stops caring is fine: whatever
    // it answered is read below.
    std::size_t sent = 0;
    while (sent < raw.size()) {
        if (!wait_for(socket.fd, POLLOUT, deadline)) break;
        const auto n = ::send(socket.fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            break;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string data;
    std::optional<HttpResponse> response;
    std::size_t body_start = 0;
    std::size_t content_length = 0;
    char buffer[65536];
    for (;;) {
        if (response && data.size() - body_start >= content_length) {
            response->body = data.substr(body_start, content_length);
            return response;
        }
        if (!wait_for(socket.fd, POLLIN, deadline)) return std::nullopt;
        const auto n = ::recv(socket.fd, buffer, sizeof buffer, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return std::nullopt;  // closed before a complete response
        data.append(buffer, static_cast<std::size_t>(n));
        if (!response) {
            const auto end = data.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            response = parse_head(data.substr(0, end));
            if (!response) return std::nullopt;
            body_start = end + 4;
            content_length = static_cast<std::size_t>(
                std::strtoull(response->header("content-length").c_str(), nullptr, 10));
        }
    }
}

std::optional<HttpResponse> http_request(std::uint16_t port, const std::string& method,
                                         const std::string& target, const std::string& body,
                                         const HttpHeaders& headers,
                                         std::chrono::milliseconds timeout) {
    return http_request_at("127.0.0.1", port, method, target, body, headers, timeout);
}

std::optional<HttpResponse> http_request_at(const std::string& ipv4, std::uint16_t port,
                                            const std::string& method,
                                            const std::string& target, const std::string& body,
                                            const HttpHeaders& headers,
                                            std::chrono::milliseconds timeout) {
    std::string raw =
        method + " " + target + " HTTP/1.1\r\nHost: " + ipv4 + ":" + std::to_string(port) + "\r\n";
    for (const auto& [name, value] : headers) raw += name + ": " + value + "\r\n";
    if (!body.empty() || method == "POST") {
        raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    raw += "\r\n" + body;
    return http_raw_at(ipv4, port, raw, timeout);
}

}  // namespace digitpipe::test_support
