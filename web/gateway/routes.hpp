// The HTTP API of web/API.md: the route table (setup_routes, one place) and its handlers.
// Each handler validates its input and either answers at once (bad input, /healthz, static
// files) or hands the bridge a job with its Responder; none blocks and none lets an
// exception out (a throw becomes a JSON 500 naming the route). Stage verbs per route:
//   POST /api/predict             digitpipe.infer  infer.predict   (payload "image")
//   GET  /api/sample_predictions  digitpipe.infer  infer.sample    {n}
//   GET  /api/model_info          digitpipe.infer  infer.model_info
//   GET  /api/experiments         digitpipe.train  train.experiments
//   POST /api/train               digitpipe.train  train.start     {experiment_name, overrides}
//   GET  /api/jobs                digitpipe.train  train.runs
//   GET  /api/jobs/{id}           digitpipe.train  train.run       {run}
//   POST /api/jobs/{id}/cancel    digitpipe.train  train.cancel    {run}
//   POST /api/serve               digitpipe.train  train.publish   {run} | {model}
//   GET  /api/events, /api/workers, /readyz, /metrics: answered by the bridge; /healthz here.
// The three POSTs that change state (train, cancel, serve) need the bearer token when
// gateway.token_file is set; OPTIONS on API paths answers CORS preflights (security.hpp).
#pragma once

#include <pistache/http.h>
#include <pistache/router.h>

#include "bridge.hpp"
#include "gateway_config.hpp"
#include "gateway_metrics.hpp"
#include "static_files.hpp"

namespace digitpipe::gateway {

// The handlers. Shared by every Pistache thread: holds only immutable settings and
// references to thread-safe parts (bridge, metrics). All references must outlive it.
class Api {
 public:
    Api(const GatewayConfig& config, Bridge& bridge, GatewayMetrics& metrics,
        const StaticFiles& static_files);

    void predict(const Pistache::Rest::Request& request, Responder& responder);
    void sample_predictions(const Pistache::Rest::Request& request, Responder& responder);
    void model_info(const Pistache::Rest::Request& request, Responder& responder);
    void experiments(const Pistache::Rest::Request& request, Responder& responder);
    void train(const Pistache::Rest::Request& request, Responder& responder);
    void jobs(const Pistache::Rest::Request& request, Responder& responder);
    void job(const Pistache::Rest::Request& request, Responder& responder);
    void cancel_job(const Pistache::Rest::Request& request, Responder& responder);
    void serve(const Pistache::Rest::Request& request, Responder& responder);
    void events(const Pistache::Rest::Request& request, Responder& responder);
    void workers(const Pistache::Rest::Request& request, Responder& responder);
    void healthz(const Pistache::Rest::Request& request, Responder& responder);
    void readyz(const Pistache::Rest::Request& request, Responder& responder);
    void metrics(const Pistache::Rest::Request& request, Responder& responder);

    // Anything outside the routed paths: the dashboard's files (GET only). Never throws.
    void serve_static(const Pistache::Http::Request& request,
                      Pistache::Http::ResponseWriter writer);
    // A routed path with no route: 404 JSON, or 405 when the path exists for other methods.
    void not_found(const Pistache::Rest::Request& request, Responder& responder);

    GatewayMetrics& gateway_metrics() noexcept { return metrics_; }
    const GatewayConfig& config() const noexcept { return config_; }

    // CORS (gateway.cors_origins): for a listed Origin, adds Access-Control-Allow-Origin and
    // Vary: Origin to whatever `responder` answers; nothing for any other request.
    void add_cors_headers(const Pistache::Http::Request& request, Responder& responder) const;
    // A preflight (OPTIONS with Origin) on an API path whose methods are `allow`: 204 with the
    // allowed methods and headers and a max age for a listed origin, 403 JSON otherwise.
    void preflight(const Pistache::Http::Request& request, const std::string& allow,
                   Responder& responder) const;
    // Bearer token of the state-changing routes (security.hpp): true when the request may
    // go on; otherwise answers 401 (no token; WWW-Authenticate: Bearer) or 403 (wrong token).
    bool authorize(const Pistache::Http::Request& request, Responder& responder) const;

 private:
    void call_stage(Responder& responder, const std::string& service, const std::string& verb,
                    nlohmann::json header, ReplyMapper map_reply);

    const GatewayConfig& config_;
    Bridge& bridge_;
    GatewayMetrics& metrics_;
    const StaticFiles& static_files_;
};

// Registers every API route on `router`, a JSON 405 for each other method on those paths, and
// `api.not_found` for the rest. `api` must outlive the router.
void setup_routes(Pistache::Rest::Router& router, Api& api);

}  // namespace digitpipe::gateway
