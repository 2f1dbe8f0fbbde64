// The gateway's Pistache connection handler: Rest::Router's own handler plus what Pistache
// 0.0.5 does not do for a JSON API (FACTS.md).
//  - Over-size requests: Pistache answers "413 Request exceeded maximum buffer size" as text,
//    then parses the rest of the body as new requests (a 100 KB body over a 4 KiB limit drew
//    12 text 413s on the one socket).
//    Here a request is refused with a JSON 413 as soon as its headers declare a body over
//    max_body_bytes (before the body is uploaded) or its bytes overflow the parser, the answer
//    says `Connection: close`, and the connection's remaining input is discarded unread.
//  - Malformed HTTP (bad request line, bad chunking) gets a JSON 400 the same way, a request
//    line and headers over 64 KiB a JSON 431: Pistache re-parses incomplete headers from their
//    start on every read, so header time grows with the square of their size (1 MiB took
//    0.5 s, 2 MiB 2.1 s of the reactor thread here), and more than 100 header fields a JSON
//    431 too. Header and body timeouts stay Pistache's
//    own: its transport writes a bare 408 and closes (no handler hook in 0.0.5).
//  - Paths whose first segment is not api, healthz, readyz or metrics go straight to the
//    dashboard's static files, never through the router (whose 404 and 405 are plain text).
// onInput() mirrors Pistache 0.0.5's Http::Handler::onInput (which a subclass cannot call:
// it is private) with the checks above added; everything else is Pistache's.
#pragma once

#include <cstddef>
#include <memory>

#include <pistache/http.h>
#include <pistache/router.h>

namespace digitpipe::gateway {

class Api;
class GatewayMetrics;

class HttpHandler final : public Pistache::Http::Handler {
 public:
    HTTP_PROTOTYPE(HttpHandler)

    // `api` and `metrics` must outlive every clone (Pistache clones the handler per thread).
    HttpHandler(std::shared_ptr<Pistache::Rest::Router> router, Api& api, GatewayMetrics& metrics,
                std::size_t max_body_bytes);

    void onRequest(const Pistache::Http::Request& request,
                   Pistache::Http::ResponseWriter response) override;
    // For ResponseWriter::timeoutAfter (unused by the routes today): a JSON 408.
    void onTimeout(const Pistache::Http::Request& request,
                   Pistache::Http::ResponseWriter response) override;

 private:
    void onInput(const char* buffer, size_t length,
                 const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
    // Answers a request that could not be parsed or is too large, then stops reading the
    // connection (its framing is lost or not worth reading).
    void refuse(const std::shared_ptr<Pistache::Tcp::Peer>& peer, Pistache::Http::Version version,
                int http_code, const char* code, const std::string& message);

    std::shared_ptr<Pistache::Rest::Router> router_;
    Api* api_;
    GatewayMetrics* metrics_;
    std::size_t max_body_bytes_;
};

}  // namespace digitpipe::gateway
