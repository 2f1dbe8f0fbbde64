// The route table and handlers of the gateway's HTTP API (see routes.hpp, web/API.md).
#include "routes.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "predict_input.hpp"
#include "security.hpp"
#include "url.hpp"

namespace digitpipe::gateway {

namespace fw = framework;
namespace Http = Pistache::Http;
namespace Rest = Pistache::Rest;
using nlohmann::json;

namespace {

// How long before Pistache's header timeout a parked long-poll is answered (see events()).
constexpr std::chrono::milliseconds kLongPollMargin{500};

// MNIST-style model input: the infer stage answers with what the model saw, u8 28x28.
constexpr std::size_t kInputPixels = 28 * 28;
// GET /api/sample_predictions?n=: range and default from web/API.md.
constexpr std::int64_t kSamplesMin = 1;
constexpr std::int64_t kSamplesMax = 100;
constexpr std::int64_t kSamplesDefault = 12;
// GET /api/events?timeout_ms=: range and default from web/API.md.
constexpr std::int64_t kPollTimeoutMin = 1;
constexpr std::int64_t kPollTimeoutMax = 60'000;
constexpr std::int64_t kPollTimeoutDefault = 25'000;
// Largest dashboard file served (the built bundle's files are well under 1 MiB).
constexpr std::uintmax_t kMaxStaticFileBytes = std::uintmax_t{64} << 20;
// Longest piece of a request path echoed back in an error message.
constexpr std::size_t kMaxEchoedPath = 200;

std::string echo_path(std::string_view path) {
    return std::string(path.substr(0, kMaxEchoedPath)) +
           (path.size() > kMaxEchoedPath ? "..." : "");
}

json bytes_to_ints(std::string_view bytes) {
    auto out = json::array();
    for (const char c : bytes) out.push_back(static_cast<unsigned char>(c));
    return out;
}

const fw::Payload& require_payload(const fw::Reply& reply, std::string_view name,
                                   std::size_t bytes) {
    const auto it = std::find_if(reply.payloads.begin(), reply.payloads.end(),
                                 [&](const fw::Payload& p) { return p.name == name; });
    if (it == reply.payloads.end()) {
        throw std::runtime_error("payload '" + std::string(name) + "' is missing");
    }
    if (it->bytes.size() != bytes) {
        throw std::runtime_error("payload '" + std::string(name) + "' has " +
                                 std::to_string(it->bytes.size()) + " bytes, expected " +
                                 std::to_string(bytes));
    }
    return *it;
}

json field_or_null(const json& header, const char* key) {
    return header.contains(key) ? header[key] : json(nullptr);
}

// ---- reply mappers (OK replies only; the bridge maps errors) -----------------------------

HttpAnswer map_passthrough(const fw::Reply& reply, double /*latency_ms*/) {
    return json_answer(200, reply.header);
}

HttpAnswer map_job_accepted(const fw::Reply& reply, double /*latency_ms*/) {
    return json_answer(202, {{"job", reply.header}});
}

HttpAnswer map_predict(const fw::Reply& reply, double latency_ms) {
    const auto& h = reply.header;
    json out{{"found", h.value("found", false)},
             {"model", field_or_null(h, "model")},
             {"digit", field_or_null(h, "digit")},
             {"label", field_or_null(h, "label")},
             {"confidence", field_or_null(h, "confidence")},
             {"probabilities", field_or_null(h, "probabilities")},
             {"input", bytes_to_ints(require_payload(reply, "input", kInputPixels).bytes)},
             {"latency_ms", std::round(latency_ms * 1000.0) / 1000.0}};
    if (h.contains("message")) out["message"] = h["message"];
    return json_answer(200, out);
}

HttpAnswer map_samples(const fw::Reply& reply, double /*latency_ms*/) {
    const auto& h = reply.header;
    if (!h.contains("samples") || !h["samples"].is_array()) {
        throw std::runtime_error("header.samples is not a list");
    }
    auto samples = h["samples"];
    const auto& images = require_payload(reply, "images", samples.size() * kInputPixels);
    const std::string_view bytes(images.bytes);
    for (std::size_t i = 0; i < samples.size(); ++i) {
        samples[i]["image"] = bytes_to_ints(bytes.substr(i * kInputPixels, kInputPixels));
    }
    return json_answer(200, {{"model", field_or_null(h, "model")}, {"samples", samples}});
}

// ---- POST /api/train body ----------------------------------------------------------------

// {experiment, overrides?} -> train.start's header {experiment_name, overrides: ["k=v"...]}.
fw::Result<json> parse_train_body(std::string_view body) {
    json document;
    try {
        document = json::parse(body);
    } catch (const json::parse_error& e) {
        return fw::invalid_argument("body: malformed JSON at byte " + std::to_string(e.byte) +
                                    " (expected {\"experiment\": \"quick\", \"overrides\": "
                                    "{...}})");
    }
    if (!document.is_object()) {
        return fw::invalid_argument(std::string("body: expected a JSON object, got ") +
                                    document.type_name());
    }
    const auto experiment = document.find("experiment");
    if (experiment == document.end()) {
        return fw::invalid_argument("experiment: missing (the name of an experiment, e.g. quick)");
    }
    if (!experiment->is_string() || experiment->get_ref<const std::string&>().empty()) {
        return fw::invalid_argument(std::string("experiment: expected a non-empty string, got ") +
                                    (experiment->is_string() ? "''" : experiment->type_name()));
    }
    auto overrides = json::array();
    if (const auto it = document.find("overrides"); it != document.end() && !it->is_null()) {
        if (!it->is_object()) {
            return fw::invalid_argument(
                std::string("overrides: expected an object of key path -> value, got ") +
                it->type_name());
        }
        for (const auto& [key, value] : it->items()) {
            const bool key_ok = !key.empty() && std::none_of(key.begin(), key.end(), [](char c) {
                return c == '=' || static_cast<unsigned char>(c) <= ' ';
            });
            if (!key_ok) {
                return fw::invalid_argument("overrides: key '" + key.substr(0, 64) +
                                            "' is not a key path (no '=', spaces or control "
                                            "characters)");
            }
            std::string text;
            if (value.is_string()) {
                text = value.get<std::string>();
            } else if (value.is_boolean()) {
                text = value.get<bool>() ? "true" : "false";
            } else if (value.is_number()) {
                text = value.dump();
            } else {
                return fw::invalid_argument("overrides." + key +
                                            ": expected a number, string or boolean, got " +
                                            value.type_name());
            }
            overrides.push_back(key + "=" + text);
        }
    }
    return json{{"experiment_name", *experiment}, {"overrides", std::move(overrides)}};
}

// A request header's value: the raw text for names Pistache does not know (Origin), the typed
// form's text for Authorization (Pistache parses that one). nullopt when absent.
std::optional<std::string> origin_of(const Http::Request& request) {
    if (const auto raw = request.headers().tryGetRaw("Origin")) return raw->value();
    return std::nullopt;
}

std::optional<std::string> authorization_of(const Http::Request& request) {
    if (const auto typed = request.headers().tryGet<Http::Header::Authorization>()) {
        return typed->value();
    }
    if (const auto raw = request.headers().tryGetRaw("Authorization")) return raw->value();
    return std::nullopt;
}

std::string content_type_of(const Http::Request& request) {
    // Pistache keeps the raw header for names it does not know; Content-Type it knows, and its
    // typed form prints the media type with its parameters (the multipart boundary).
    if (const auto raw = request.headers().tryGetRaw("Content-Type")) return raw->value();
    if (const auto typed = request.headers().tryGet<Http::Header::ContentType>()) {
        return typed->mime().toString();
    }
    return {};
}

}  // namespace

Api::Api(const GatewayConfig& config, Bridge& bridge, GatewayMetrics& metrics,
         const StaticFiles& static_files)
    : config_(config), bridge_(bridge), metrics_(metrics), static_files_(static_files) {}

void Api::add_cors_headers(const Http::Request& request, Responder& responder) const {
    if (config_.cors_origins.empty()) return;
    if (const auto origin = allowed_origin(origin_of(request), config_.cors_origins)) {
        responder.add_header("Access-Control-Allow-Origin", *origin);
        responder.add_header("Vary", "Origin");
    }
}

void Api::preflight(const Http::Request& request, const std::string& allow,
                    Responder& responder) const {
    const auto origin = origin_of(request);
    const auto allowed = allowed_origin(origin, config_.cors_origins);
    if (!allowed) {
        auto answer = error_answer(
            403, "permission_denied",
            "cross-origin requests from '" + echo_path(origin.value_or("")) +
                "' are not allowed (gateway.cors_origins lists the origins that are)");
        responder.send(answer);
        return;
    }
    HttpAnswer answer;
    answer.code = 204;
    answer.content_type.clear();
    answer.headers = {{"Access-Control-Allow-Origin", *allowed},
                      {"Vary", "Origin"},
                      {"Access-Control-Allow-Methods", allow + ", OPTIONS"},
                      {"Access-Control-Allow-Headers", std::string(kCorsAllowHeaders)},
                      {"Access-Control-Max-Age", std::to_string(kCorsMaxAgeSeconds)}};
    responder.send(answer);
}

bool Api::authorize(const Http::Request& request, Responder& responder) const {
    switch (check_bearer(authorization_of(request), config_.token)) {
        case BearerCheck::kAllowed:
            return true;
        case BearerCheck::kMissing: {
            auto answer = error_answer(401, "unauthenticated",
                                       "this route changes state and needs 'Authorization: "
                                       "Bearer <token>' (the token of gateway.token_file)");
            answer.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"digitpipe\"");
            responder.send(answer);
            return false;
        }
        case BearerCheck::kWrong:
            responder.send(error_answer(403, "permission_denied",
                                        "the bearer token is not the gateway's token"));
            return false;
    }
    return false;
}

void Api::call_stage(Responder& responder, const std::string& service, const std::string& verb,
                     json header, ReplyMapper map_reply) {
    StageCall call;
    call.service = service;
    call.request.verb = verb;
    call.request.header = std::move(header);
    call.map_reply = std::move(map_reply);
    bridge_.call(std::move(call), std::move(responder));
}

void Api::predict(const Rest::Request& request, Responder& responder) {
    const auto& body = request.body();
    if (body.size() > config_.max_body_bytes) {
        responder.send(error_answer(413, "payload_too_large",
                                    "the body is " + std::to_string(body.size()) +
                                        " bytes; the limit is " +
                                        std::to_string(config_.max_body_bytes)));
        return;
    }
    const auto content_type = content_type_of(request);
    const auto format = classify_predict_body(content_type);
    if (body.empty()) {
        responder.send(error_answer(fw::invalid_argument("body: empty (send an image)")));
        return;
    }
    if (format == BodyFormat::kUnsupported) {
        responder.send(error_answer(
            415, "unsupported_media_type",
            "POST /api/predict takes application/json, multipart/form-data, image/png or "
            "image/jpeg; got Content-Type '" +
                content_type.substr(0, 100) + "'"));
        return;
    }
    auto image = extract_predict_image(format, content_type, body);
    if (!image) {
        responder.send(error_answer(image.status()));
        return;
    }
    StageCall call;
    call.service = config_.infer_service;
    call.request.verb = "infer.predict";
    const auto size = static_cast<std::int64_t>(image->size());
    call.request.payloads.push_back({"image", "u8", {size}, std::move(*image)});
    call.map_reply = map_predict;
    bridge_.call(std::move(call), std::move(responder));
}

void Api::sample_predictions(const Rest::Request& request, Responder& responder) {
    const auto n =
        parse_int_param(request.query().get("n"), "n", kSamplesMin, kSamplesMax, kSamplesDefault);
    if (!n) {
        responder.send(error_answer(n.status()));
        return;
    }
    call_stage(responder, config_.infer_service, "infer.sample", {{"n", *n}}, map_samples);
}

void Api::model_info(const Rest::Request& /*request*/, Responder& responder) {
    call_stage(responder, config_.infer_service, "infer.model_info", json::object(),
               map_passthrough);
}

void Api::experiments(const Rest::Request& /*request*/, Responder& responder) {
    call_stage(responder, config_.train_service, "train.experiments", json::object(),
               map_passthrough);
}

void Api::train(const Rest::Request& request, Responder& responder) {
    auto header = parse_train_body(request.body());
    if (!header) {
        responder.send(error_answer(header.status()));
        return;
    }
    call_stage(responder, config_.train_service, "train.start", std::move(*header),
               map_job_accepted);
}

void Api::jobs(const Rest::Request& /*request*/, Responder& responder) {
    call_stage(responder, config_.train_service, "train.runs", json::object(), map_passthrough);
}

void Api::job(const Rest::Request& request, Responder& responder) {
    const auto id = parse_job_id(request.param(":id").as<std::string>());
    if (!id) {
        responder.send(error_answer(id.status()));
        return;
    }
    call_stage(responder, config_.train_service, "train.run", {{"run", *id}}, map_passthrough);
}

void Api::cancel_job(const Rest::Request& request, Responder& responder) {
    const auto id = parse_job_id(request.param(":id").as<std::string>());
    if (!id) {
        responder.send(error_answer(id.status()));
        return;
    }
    call_stage(responder, config_.train_service, "train.cancel", {{"run", *id}}, map_job_accepted);
}

// POST /api/serve {"run": id} | {"model": "file.safetensors"}: the train stage checks the
// model and announces it (model.published); infer workers swap it in (model.loaded follows).
void Api::serve(const Rest::Request& request, Responder& responder) {
    json body;
    try {
        body = json::parse(request.body());
    } catch (const json::parse_error& e) {
        responder.send(error_answer(fw::invalid_argument(
            "body: malformed JSON at byte " + std::to_string(e.byte) +
            " (expected {\"run\": \"<job id>\"} or {\"model\": \"<file>.safetensors\"})")));
        return;
    }
    json header;
    if (body.is_object() && body.size() == 1 && body.contains("run")) {
        const auto id =
            body["run"].is_string()
                ? parse_job_id(body["run"].get<std::string>())
                : fw::Result<std::string>(fw::invalid_argument("run: expected a job id string"));
        if (!id) {
            responder.send(error_answer(id.status()));
            return;
        }
        header["run"] = *id;
    } else if (body.is_object() && body.size() == 1 && body.contains("model") &&
               body["model"].is_string()) {
        header["model"] = body["model"];
    } else {
        responder.send(error_answer(
            fw::invalid_argument("body: expected exactly one of {\"run\": \"<job id>\"} or "
                                 "{\"model\": \"<file>.safetensors\"}")));
        return;
    }
    call_stage(responder, config_.train_service, "train.publish", std::move(header),
               [](const fw::Reply& reply, double) {
                   return json_answer(202, {{"published", reply.header}});
               });
}

void Api::events(const Rest::Request& request, Responder& responder) {
    const auto after = parse_int_param(request.query().get("after"), "after", 0,
                                       std::numeric_limits<std::int64_t>::max(), 0);
    if (!after) {
        responder.send(error_answer(after.status()));
        return;
    }
    const auto timeout = parse_int_param(request.query().get("timeout_ms"), "timeout_ms",
                                         kPollTimeoutMin, kPollTimeoutMax, kPollTimeoutDefault);
    if (!timeout) {
        responder.send(error_answer(timeout.status()));
        return;
    }
    // Pistache 0.0.5 keeps a request's header timer running while its reply is deferred and
    // answers a bare 408 when it fires: a long-poll must end (empty) before that.
    const auto wait = std::max(
        std::chrono::milliseconds(0),
        std::min({std::chrono::milliseconds(*timeout), config_.long_poll_max,
                  std::chrono::duration_cast<std::chrono::milliseconds>(config_.header_timeout) -
                      kLongPollMargin}));
    bridge_.poll_events(static_cast<std::uint64_t>(*after), wait, std::move(responder));
}

void Api::workers(const Rest::Request& /*request*/, Responder& responder) {
    bridge_.workers(std::move(responder));
}

void Api::healthz(const Rest::Request& /*request*/, Responder& responder) {
    responder.send(json_answer(200, {{"status", "ok"}}));
}

void Api::readyz(const Rest::Request& /*request*/, Responder& responder) {
    bridge_.readiness(std::move(responder));
}

void Api::metrics(const Rest::Request& /*request*/, Responder& responder) {
    bridge_.scrape_metrics(std::move(responder));
}

void Api::not_found(const Rest::Request& request, Responder& responder) {
    responder.send(
        error_answer(fw::not_found("no route " + std::string(Http::methodString(request.method())) +
                                   " " + echo_path(request.resource()) + " (see web/API.md)")));
}

void Api::serve_static(const Http::Request& request, Http::ResponseWriter writer) {
    Responder responder(std::move(writer), "static", metrics_);
    try {
        if (request.method() != Http::Method::Get) {
            responder.send(error_answer(405, "method_not_allowed",
                                        "the dashboard's files answer GET only, got " +
                                            std::string(Http::methodString(request.method()))));
            return;
        }
        auto file = static_files_.resolve(request.resource());
        if (!file) {
            responder.send(error_answer(file.status()));
            return;
        }
        std::error_code error;
        const auto size = std::filesystem::file_size(file->file, error);
        std::ifstream in(file->file, std::ios::binary);
        if (error || !in || size > kMaxStaticFileBytes) {
            responder.send(
                error_answer(fw::not_found("cannot read " + echo_path(request.resource()))));
            return;
        }
        HttpAnswer answer;
        answer.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        answer.content_type = file->content_type;
        answer.headers.emplace_back("Cache-Control", file->cache_control);
        responder.send(answer);
    } catch (const std::exception& e) {
        responder.send(
            error_answer(fw::internal_error(std::string("gateway: static: ") + e.what())));
    }
}

void setup_routes(Rest::Router& router, Api& api) {
    using Member = void (Api::*)(const Rest::Request&, Responder&);
    struct Route {
        Http::Method method;
        const char* path;   // Pistache syntax (":id")
        const char* label;  // metrics label
        Member handler;
        bool changes_state = false;  // needs the bearer token (security.hpp)
    };
    const std::array<Route, 14> routes{{
        {Http::Method::Post, "/api/predict", "/api/predict", &Api::predict},
        {Http::Method::Get, "/api/sample_predictions", "/api/sample_predictions",
         &Api::sample_predictions},
        {Http::Method::Get, "/api/model_info", "/api/model_info", &Api::model_info},
        {Http::Method::Get, "/api/experiments", "/api/experiments", &Api::experiments},
        {Http::Method::Post, "/api/train", "/api/train", &Api::train, true},
        {Http::Method::Get, "/api/jobs", "/api/jobs", &Api::jobs},
        {Http::Method::Get, "/api/jobs/:id", "/api/jobs/{id}", &Api::job},
        {Http::Method::Post, "/api/jobs/:id/cancel", "/api/jobs/{id}/cancel", &Api::cancel_job,
         true},
        {Http::Method::Post, "/api/serve", "/api/serve", &Api::serve, true},
        {Http::Method::Get, "/api/events", "/api/events", &Api::events},
        {Http::Method::Get, "/api/workers", "/api/workers", &Api::workers},
        {Http::Method::Get, "/healthz", "/healthz", &Api::healthz},
        {Http::Method::Get, "/readyz", "/readyz", &Api::readyz},
        {Http::Method::Get, "/metrics", "/metrics", &Api::metrics},
    }};
    // Every handler runs inside this guard: the request's Responder is made first, so an
    // exception still gets a JSON 500 (unless the Responder already moved to the bridge).
    const auto guarded = [&api](std::string label, Member member, bool changes_state) {
        return [&api, label = std::move(label), member, changes_state](
                   const Rest::Request& request, Http::ResponseWriter writer) {
            Responder responder(std::move(writer), label, api.gateway_metrics());
            try {
                api.add_cors_headers(request, responder);
                if (changes_state && !api.authorize(request, responder)) {
                    return Rest::Route::Result::Ok;
                }
                (api.*member)(request, responder);
            } catch (const std::exception& e) {
                responder.send(
                    error_answer(fw::internal_error("gateway: " + label + ": " + e.what())));
            } catch (...) {
                responder.send(
                    error_answer(fw::internal_error("gateway: " + label + ": unknown exception")));
            }
            return Rest::Route::Result::Ok;
        };
    };
    std::map<std::string, std::set<Http::Method>> methods_by_path;
    for (const auto& route : routes) {
        router.addRoute(route.method, route.path,
                        guarded(route.label, route.handler, route.changes_state));
        methods_by_path[route.path].insert(route.method);
    }
    // Known path, other method: JSON 405 with Allow (Pistache's own 405 is text).
    constexpr std::array<Http::Method, 7> kAllMethods{
        Http::Method::Get,    Http::Method::Post,    Http::Method::Put, Http::Method::Patch,
        Http::Method::Delete, Http::Method::Options, Http::Method::Head};
    for (const auto& [path, allowed] : methods_by_path) {
        std::string allow;
        for (const auto method : allowed) {
            allow += (allow.empty() ? "" : ", ") + std::string(Http::methodString(method));
        }
        for (const auto method : kAllMethods) {
            if (allowed.contains(method)) continue;
            router.addRoute(method, path,
                            [&api, allow, path = path](const Rest::Request& request,
                                                       Http::ResponseWriter writer) {
                                // A CORS preflight carries Origin; a bare OPTIONS is just a
                                // method this path does not serve.
                                if (request.method() == Http::Method::Options &&
                                    origin_of(request)) {
                                    Responder responder(std::move(writer), "preflight",
                                                        api.gateway_metrics());
                                    api.preflight(request, allow, responder);
                                    return Rest::Route::Result::Ok;
                                }
                                Responder responder(std::move(writer), "method_not_allowed",
                                                    api.gateway_metrics());
                                api.add_cors_headers(request, responder);
                                auto answer = error_answer(
                                    405, "method_not_allowed",
                                    std::string(Http::methodString(request.method())) + " " +
                                        echo_path(request.resource()) + ": allowed " + allow);
                                answer.headers.emplace_back("Allow", allow);
                                responder.send(answer);
                                return Rest::Route::Result::Ok;
                            });
        }
    }
    router.addNotFoundHandler([&api](const Rest::Request& request, Http::ResponseWriter writer) {
        Responder responder(std::move(writer), "not_found", api.gateway_metrics());
        api.add_cors_headers(request, responder);
        api.not_found(request, responder);
        return Rest::Route::Result::Ok;
    });
}

}  // namespace digitpipe::gateway
