// The gateway's Pistache handler: routing, JSON 413/431/400 (see http_handler.hpp).
#include "http_handler.hpp"

#include <pistache/peer.h>

#include "digitpipe/log.hpp"
#include "responder.hpp"
#include "routes.hpp"

namespace digitpipe::gateway {

namespace Http = Pistache::Http;
namespace Tcp = Pistache::Tcp;

namespace {

// Peer data key of a connection's ConnectionState.
constexpr const char* kStateKey = "digitpipe.connection";
// Longest request line plus headers accepted. Pistache 0.0.5 re-parses a request's headers
// from their start on every read until they are complete: time quadratic in their length.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
// Most header fields (distinct names) accepted in one request. Browsers send about 20;
// every field costs a parsed object per request, so thousands of tiny ones within 64 KiB are
// refused rather than parsed into memory. Pistache keeps one value per name, so repeated
// names count once (their bytes are still bounded by kMaxHeaderBytes).
constexpr std::size_t kMaxHeaderFields = 100;

std::size_t header_fields(const Http::Request& request) {
    return request.headers().list().size() + request.headers().rawList().size();
}

// What the handler remembers per connection, kept in the peer's data.
struct ConnectionState {
    bool draining = false;         // a request was refused: input is discarded unread
    std::size_t header_bytes = 0;  // bytes read of the current request's line and headers
};

ConnectionState& state_of(const std::shared_ptr<Tcp::Peer>& peer) {
    auto data = peer->tryGetData(kStateKey);
    if (!data) {
        data = std::make_shared<ConnectionState>();
        peer->putData(kStateKey, data);
    }
    return *std::static_pointer_cast<ConnectionState>(data);
}
// Metrics label of answers given before a request reached a route.
constexpr const char* kProtocolRoute = "http";

// True for paths the router owns: first segment api, healthz, readyz or metrics.
bool routed_path(const std::string& resource) {
    std::size_t start = 0;
    while (start < resource.size() && resource[start] == '/') ++start;
    const auto end = resource.find('/', start);
    const auto first = std::string_view(resource).substr(start, end - start);
    return first == "api" || first == "healthz" || first == "readyz" || first == "metrics";
}

}  // namespace

HttpHandler::HttpHandler(std::shared_ptr<Pistache::Rest::Router> router, Api& api,
                         GatewayMetrics& metrics, std::size_t max_body_bytes)
    : router_(std::move(router)), api_(&api), metrics_(&metrics), max_body_bytes_(max_body_bytes) {}

void HttpHandler::onRequest(const Http::Request& request, Http::ResponseWriter response) {
    try {
        if (routed_path(request.resource())) {
            router_->route(request, std::move(response));
        } else {
            api_->serve_static(request, std::move(response));
        }
    } catch (const std::exception& e) {
        // Handlers catch their own exceptions; this is the router itself failing.
        framework::log_event(framework::LogLevel::kError, "gateway", "routing failed",
                             {{"path", request.resource()}, {"error", e.what()}});
    }
}

void HttpHandler::onTimeout(const Http::Request& /*request*/, Http::ResponseWriter response) {
    Responder(std::move(response), kProtocolRoute, *metrics_)
        .send(error_answer(408, "request_timeout",
                           "the request's headers or body did not arrive in time"));
}

void HttpHandler::refuse(const std::shared_ptr<Tcp::Peer>& peer, Http::Version version,
                         int http_code, const char* code, const std::string& message) {
    Http::ResponseWriter response(version, transport(), this, peer);
    response.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
    Responder(std::move(response), kProtocolRoute, *metrics_)
        .send(error_answer(http_code, code, message));
    // Reading on would parse the rest of a body as requests. Pistache closes the connection
    // when the client does (or at its timeouts); until then its bytes are dropped unread.
    state_of(peer).draining = true;
}

void HttpHandler::onInput(const char* buffer, size_t length,
                          const std::shared_ptr<Tcp::Peer>& peer) {
    auto& connection_state = state_of(peer);
    if (connection_state.draining) return;
    auto parser = getParser(peer);
    auto& request = parser->request;
    try {
        if (parser->step()->id() != Http::Private::BodyStep::Id) {
            connection_state.header_bytes += length;
            if (connection_state.header_bytes > kMaxHeaderBytes) {
                const auto version = request.version();
                parser->reset();
                refuse(peer, version, 431, "invalid_argument",
                       "the request line and headers exceed " + std::to_string(kMaxHeaderBytes) +
                           " bytes");
                return;
            }
        }
        if (!parser->feed(buffer, length)) {
            const auto version = request.version();
            parser->reset();
            refuse(peer, version, 413, "payload_too_large",
                   "the request is larger than " + std::to_string(getMaxRequestSize()) +
                       " bytes (body limit gateway.max_body_bytes = " +
                       std::to_string(max_body_bytes_) + ")");
            return;
        }
        const auto state = parser->parse();
        const bool headers_done = state == Http::Private::State::Done ||
                                  parser->step()->id() == Http::Private::BodyStep::Id;
        if (headers_done && header_fields(request) > kMaxHeaderFields) {
            const auto version = request.version();
            const auto fields = header_fields(request);
            parser->reset();
            refuse(peer, version, 431, "invalid_argument",
                   "the request has " + std::to_string(fields) + " header fields; at most " +
                       std::to_string(kMaxHeaderFields) + " are accepted");
            return;
        }
        if (state == Http::Private::State::Done) {
            Http::ResponseWriter response(request.version(), transport(), this, peer);
            request.copyAddress(peer->address());
            // As Pistache does: echo the client's Connection header, default Close.
            const auto connection = request.headers().tryGet<Http::Header::Connection>();
            response.headers().add<Http::Header::Connection>(
                connection ? connection->control() : Http::ConnectionControl::Close);
            peer->setIdle(false);
            connection_state.header_bytes = 0;
            onRequest(request, std::move(response));
            parser->reset();
            return;
        }
        // Headers complete, body still coming: refuse a declared size over the limit now,
        // before the client uploads it.
        if (parser->step()->id() == Http::Private::BodyStep::Id) {
            const auto declared = request.headers().tryGet<Http::Header::ContentLength>();
            if (declared && declared->value() > max_body_bytes_) {
                const auto version = request.version();
                const auto size = declared->value();
                parser->reset();
                refuse(peer, version, 413, "payload_too_large",
                       "the body is " + std::to_string(size) + " bytes; the limit is " +
                           std::to_string(max_body_bytes_) + " (gateway.max_body_bytes)");
            }
        }
    } catch (const Http::HttpError& e) {
        const auto version = request.version();
        parser->reset();
        const int code = e.code();
        refuse(peer, version, code == 501 ? 501 : 400,
               code == 501 ? "unimplemented" : "invalid_argument",
               std::string("malformed HTTP request: ") + e.reason());
    } catch (const std::exception& e) {
        const auto version = request.version();
        parser->reset();
        refuse(peer, version, 400, "invalid_argument",
               std::string("malformed HTTP request: ") + e.what());
    }
}

}  // namespace digitpipe::gateway
