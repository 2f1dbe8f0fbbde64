// The gateway's broker-client thread (see bridge.hpp for what it does and why an eventfd).
#include "bridge.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"
#include "event_log.hpp"
#include "prometheus_text.hpp"

namespace digitpipe::gateway {

namespace fw = framework;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// How often the broker is asked for its services, and how long a snapshot stays trusted
// (a broker that stopped answering must not keep the gateway refusing or accepting forever).
constexpr auto kServicesInterval = 1000ms;
constexpr auto kServicesResend = 3000ms;
constexpr auto kSnapshotStale = 5000ms;
// How often each service's health verb is asked, how long an answer may take, and how long
// one stays valid.
constexpr auto kHealthInterval = 2000ms;
constexpr auto kHealthTimeout = 2000ms;
constexpr auto kHealthStale = 3 * kHealthInterval;
// GET /metrics answers after every stage replied or after this long, with what came.
constexpr auto kScrapeTimeout = 1000ms;
// Longest the thread sleeps in zmq::poll: the resolution of deadlines (504s, long-poll
// timeouts) and of the periodic checks.
constexpr auto kTick = 25ms;
// Replies and events handled per wake before deadlines are looked at again, so a flood of
// one kind cannot starve the others.
constexpr int kMaxBatch = 1000;
constexpr std::string_view kServicesVerb = "mmi.services";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

struct CallJob {
    StageCall call;
    Responder responder;
};
struct EventsJob {
    std::uint64_t after;
    std::chrono::milliseconds timeout;
    Responder responder;
};
struct WorkersJob {
    Responder responder;
};
struct ReadyJob {
    Responder responder;
};
struct MetricsJob {
    Responder responder;
};
using Job = std::variant<CallJob, EventsJob, WorkersJob, ReadyJob, MetricsJob>;

Responder& responder_of(Job& job) {
    return std::visit([](auto& j) -> Responder& { return j.responder; }, job);
}

std::chrono::system_clock::time_point to_system(SteadyClock::time_point steady) {
    return std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(steady -
                                                                           SteadyClock::now());
}

std::string describe_ms(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

HttpAnswer shutting_down() {
    return error_answer(fw::unavailable("gateway: shutting down"));
}

// One line of an mmi.services reply: "name idle busy queued [in_flight]".
std::optional<std::pair<std::string, fw::ServiceStats>> parse_service_line(
    const std::string& line) {
    std::istringstream in(line);
    std::string name;
    fw::ServiceStats stats;
    if (!(in >> name >> stats.workers_idle >> stats.workers_busy >> stats.queued)) {
        return std::nullopt;
    }
    if (!(in >> stats.in_flight)) stats.in_flight = stats.workers_busy;  // older brokers
    return std::make_pair(std::move(name), stats);
}

std::size_t worker_count(const fw::ServiceStats& stats) {
    return stats.workers_idle + stats.workers_busy;
}

}  // namespace

struct Bridge::Impl {
    Impl(zmq::context_t& zmq_context, const GatewayConfig& gateway_config,
         GatewayMetrics& gateway_metrics)
        : context(zmq_context), config(gateway_config), metrics(gateway_metrics) {}

    // ---- shared with handler threads (under `mutex`) ---------------------------------------
    zmq::context_t& context;
    const GatewayConfig& config;
    GatewayMetrics& metrics;
    std::mutex mutex;
    std::deque<Job> inbox;
    bool accepting = false;
    std::size_t parked = 0;  // jobs accepted and not yet answered (max_pending applies)
    int wake_fd = -1;
    std::atomic<bool> stop_flag{false};
    std::thread thread;
    const fw::Logger log{"gateway.bridge"};

    // ---- bridge thread only --------------------------------------------------------------
    struct PendingCall {
        Responder responder;
        ReplyMapper map_reply;
        std::string service;
        std::string verb;
    };
    enum class InternalKind { kHealth, kMetrics, kModelInfo };
    struct InternalCall {
        InternalKind kind;
        std::string service;
        SteadyClock::time_point deadline;
        std::uint64_t scrape = 0;  // kMetrics: which scrape it belongs to
    };
    struct ParkedPoll {
        std::uint64_t after;
        SteadyClock::time_point deadline;
        Responder responder;
    };
    struct Scrape {
        Responder responder;
        SteadyClock::time_point deadline;
        std::size_t waiting = 0;
        std::vector<std::string> texts;
    };
    struct ServiceView {
        fw::ServiceStats stats;
        std::string state = "unknown";
        std::string detail;
        std::optional<SteadyClock::time_point> health_at;
        bool health_in_flight = false;
        // When a worker of the service last answered a call: a snapshot taken before it (its
        // mmi.services request crossed the worker's READY) does not prove there is none.
        std::optional<SteadyClock::time_point> answered_at;
    };

    std::optional<fw::AsyncClient> client;
    std::optional<fw::EventSubscriber> subscriber;
    std::unordered_map<std::string, PendingCall> calls;
    std::multimap<SteadyClock::time_point, std::string> call_deadlines;
    std::unordered_map<std::string, InternalCall> internal;
    std::vector<ParkedPoll> polls;
    std::map<std::uint64_t, Scrape> scrapes;
    std::uint64_t next_scrape = 1;
    std::map<std::string, ServiceView> services;
    std::optional<SteadyClock::time_point> snapshot_at;
    std::chrono::system_clock::time_point snapshot_wall;
    std::optional<SteadyClock::time_point> services_sent;
    SteadyClock::time_point next_services = SteadyClock::now();
    SteadyClock::time_point next_health = SteadyClock::now();
    bool model_info_in_flight = false;
    std::string infer_model;  // sha256 of the model an infer worker serves ("" = unknown)
    EventLog events;
    bool warned_mmi = false;

    // ---- submission (any thread) -----------------------------------------------------------
    void submit(Job job) {
        std::optional<HttpAnswer> refusal;
        std::size_t depth = 0;
        {
            const std::lock_guard lock(mutex);
            if (!accepting) {
                refusal = shutting_down();
            } else if (parked >= config.max_pending) {
                refusal = error_answer(fw::resource_exhausted(
                    "gateway: " + std::to_string(parked) +
                    " requests are already waiting (gateway.max_pending); retry later"));
            } else {
                depth = ++parked;
                inbox.push_back(std::move(job));
                // Under the lock: stop() closes the fd under it, so this never writes to a
                // closed (or reused) descriptor. A full counter (never in practice) still leaves
                // the fd readable, so no wake is lost.
                const std::uint64_t one = 1;
                [[maybe_unused]] const auto written = ::write(wake_fd, &one, sizeof one);
            }
        }
        if (refusal) {
            responder_of(job).send(*refusal);
            return;
        }
        metrics.set_pending(depth);
    }

    // Every answer to a parked job goes through here, so `parked` stays exact.
    void finish(Responder& responder, const HttpAnswer& answer) {
        if (responder.answered()) return;
        responder.send(answer);
        std::size_t depth = 0;
        {
            const std::lock_guard lock(mutex);
            depth = parked > 0 ? --parked : 0;
        }
        metrics.set_pending(depth);
    }

    // ---- the thread ------------------------------------------------------------------------
    void run(std::promise<void>& started) {
        try {
            client.emplace(context, config.broker_endpoint, config.max_message_bytes,
                           config.security);
            if (!config.events_out.empty()) {
                subscriber.emplace(context, config.events_out, std::vector<std::string>{""},
                                   config.security);
            }
        } catch (...) {
            started.set_exception(std::current_exception());
            return;
        }
        started.set_value();
        while (!stop_flag.load()) {
            try {
                step();
            } catch (const std::exception& e) {
                // One bad reply or library hiccup must not end the thread that answers everyone.
                log.error("bridge step failed", {{"error", e.what()}});
            }
        }
        drain_on_stop();
        subscriber.reset();
        client.reset();
    }

    void step() {
        std::vector<zmq::pollitem_t> items{{client->socket().handle(), 0, ZMQ_POLLIN, 0},
                                           {nullptr, wake_fd, ZMQ_POLLIN, 0}};
        if (subscriber) items.push_back({subscriber->socket().handle(), 0, ZMQ_POLLIN, 0});
        try {
            zmq::poll(items, std::chrono::duration_cast<std::chrono::milliseconds>(wait_time()));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto read = ::read(wake_fd, &count, sizeof count);
        }
        take_inbox();
        for (int i = 0; i < kMaxBatch; ++i) {
            auto reply = client->receive(0ms);
            if (!reply) break;
            handle_reply(reply->first, reply->second);
        }
        if (subscriber) {
            for (int i = 0; i < kMaxBatch; ++i) {
                auto event = subscriber->receive(0ms);
                if (!event) break;
                handle_event(event->topic, event->json_text);
            }
        }
        const auto now = SteadyClock::now();
        expire(now);
        if (now >= next_services) ask_services(now);
        if (now >= next_health) ask_health(now);
    }

    SteadyClock::duration wait_time() const {
        SteadyClock::duration wait = kTick;
        if (!call_deadlines.empty()) {
            wait = std::min<SteadyClock::duration>(
                wait, call_deadlines.begin()->first - SteadyClock::now());
        }
        return std::max<SteadyClock::duration>(wait, 0ms);
    }

    void take_inbox() {
        std::deque<Job> jobs;
        {
            const std::lock_guard lock(mutex);
            jobs.swap(inbox);
        }
        for (auto& job : jobs) {
            std::visit([this](auto& j) { handle(j); }, job);
        }
    }

    // ---- jobs ------------------------------------------------------------------------------
    bool snapshot_fresh(SteadyClock::time_point now) const {
        return snapshot_at && now - *snapshot_at < kSnapshotStale;
    }

    std::size_t workers_of(const std::string& service) const {
        const auto it = services.find(service);
        return it == services.end() ? 0 : worker_count(it->second.stats);
    }

    // The snapshot says no worker, and no worker of it has answered since the snapshot.
    bool known_to_have_no_worker(const std::string& service, SteadyClock::time_point now) const {
        if (!snapshot_fresh(now) || workers_of(service) != 0) return false;
        const auto it = services.find(service);
        return it == services.end() || !it->second.answered_at ||
               *it->second.answered_at < *snapshot_at;
    }

    void handle(CallJob& job) {
        auto& call = job.call;
        const auto now = SteadyClock::now();
        // Before the first snapshot (the gateway's first second) the call goes out anyway: a
        // missing worker then costs a 504 instead of a wrong 503.
        if (known_to_have_no_worker(call.service, now)) {
            finish(job.responder, error_answer(fw::unavailable("no live worker for " +
                                                               call.service + " (retry shortly)")));
            return;
        }
        const auto deadline = job.responder.started() + config.request_timeout;
        if (deadline <= now) {
            finish(job.responder, deadline_error(call.service, call.request.verb));
            return;
        }
        call.request.correlation_id = fw::make_correlation_id();
        call.request.deadline = to_system(deadline);
        std::vector<std::string> frames;
        try {
            frames = fw::encode_request(call.request);
        } catch (const std::exception& e) {
            finish(job.responder,
                   error_answer(fw::internal_error("gateway: cannot encode " + call.request.verb +
                                                   ": " + e.what())));
            return;
        }
        const auto sent = client->send(call.service, frames);
        if (!sent.is_ok()) {
            finish(job.responder, error_answer(fw::unavailable(sent.message())));
            return;
        }
        if (config.verbose) {
            log.info("request sent", {{"service", call.service},
                                      {"verb", call.request.verb},
                                      {"id", call.request.correlation_id}});
        }
        const auto id = call.request.correlation_id;
        call_deadlines.emplace(deadline, id);
        calls.emplace(id, PendingCall{std::move(job.responder), std::move(call.map_reply),
                                      call.service, call.request.verb});
    }

    void handle(EventsJob& job) {
        const auto batch = events.after(job.after);
        if (!batch.events.empty() || batch.gap) {
            finish(job.responder, json_answer(200, batch.to_json()));
            return;
        }
        polls.push_back({job.after, SteadyClock::now() + job.timeout, std::move(job.responder)});
    }

    void handle(WorkersJob& job) {
        const auto now = SteadyClock::now();
        auto list = json::array();
        auto names = services;  // copy: the configured services are listed even when absent
        names.try_emplace(config.infer_service);
        names.try_emplace(config.train_service);
        for (const auto& [name, view] : names) {
            const bool healthy = view.health_at && now - *view.health_at < kHealthStale &&
                                 worker_count(view.stats) > 0;
            list.push_back({{"name", name},
                            {"workers", worker_count(view.stats)},
                            {"idle", view.stats.workers_idle},
                            {"busy", view.stats.workers_busy},
                            {"queued", view.stats.queued},
                            {"in_flight", view.stats.in_flight},
                            {"state", healthy ? view.state : std::string("unknown")},
                            {"detail", healthy ? view.detail : std::string()}});
        }
        json body{{"services", std::move(list)}, {"updated", nullptr}};
        if (snapshot_at) body["updated"] = format_utc_seconds(snapshot_wall);
        finish(job.responder, json_answer(200, body));
    }

    void handle(ReadyJob& job) {
        const auto now = SteadyClock::now();
        const auto& name = config.infer_service;
        std::string why;
        if (!snapshot_fresh(now)) {
            why =
                "the broker has not answered mmi.services in the last " +
                describe_ms(std::chrono::duration_cast<std::chrono::milliseconds>(kSnapshotStale));
        } else if (workers_of(name) == 0) {
            why = "no " + name + " worker is registered";
        } else {
            const auto& view = services.at(name);
            const bool fresh = view.health_at && now - *view.health_at < kHealthStale;
            if (!fresh) {
                why = name + " has not answered its health check yet";
            } else if (view.state != "ready") {
                why = name + " is " + view.state + (view.detail.empty() ? "" : ": " + view.detail);
            }
        }
        if (!why.empty()) {
            finish(job.responder, error_answer(fw::unavailable("not ready: " + why)));
            return;
        }
        json body{{"ready", true}, {"model", nullptr}};
        if (!infer_model.empty()) body["model"] = infer_model;
        finish(job.responder, json_answer(200, body));
    }

    void handle(MetricsJob& job) {
        const auto id = next_scrape++;
        Scrape scrape{std::move(job.responder), SteadyClock::now() + kScrapeTimeout, 0, {}};
        for (const auto& [name, view] : services) {
            if (worker_count(view.stats) == 0) continue;
            if (send_internal(name, "metrics", InternalKind::kMetrics, scrape.deadline, id)) {
                ++scrape.waiting;
            }
        }
        const auto it = scrapes.emplace(id, std::move(scrape)).first;
        if (it->second.waiting == 0) finish_scrape(it);
    }

    void finish_scrape(std::map<std::uint64_t, Scrape>::iterator it) {
        std::vector<std::string> texts{metrics.render()};
        for (auto& text : it->second.texts) texts.push_back(std::move(text));
        HttpAnswer answer;
        answer.body = merge_prometheus_texts(texts);
        answer.content_type = std::string(kMetricsType);
        finish(it->second.responder, answer);
        scrapes.erase(it);
    }

    // ---- requests the bridge makes itself --------------------------------------------------
    bool send_internal(const std::string& service, const std::string& verb, InternalKind kind,
                       SteadyClock::time_point deadline, std::uint64_t scrape = 0) {
        fw::Request request;
        request.verb = verb;
        request.correlation_id = fw::make_correlation_id();
        request.deadline = to_system(deadline);
        if (!client->send(service, fw::encode_request(request)).is_ok()) return false;
        internal.emplace(request.correlation_id, InternalCall{kind, service, deadline, scrape});
        return true;
    }

    void ask_services(SteadyClock::time_point now) {
        next_services = now + kServicesInterval;
        // One mmi.services in flight at a time; resend when the broker seems to have lost it.
        if (services_sent && now - *services_sent < kServicesResend) return;
        if (client->send(std::string(kServicesVerb), {}).is_ok()) services_sent = now;
    }

    void ask_health(SteadyClock::time_point now) {
        next_health = now + kHealthInterval;
        for (auto& [name, view] : services) {
            if (worker_count(view.stats) == 0 || view.health_in_flight) continue;
            view.health_in_flight =
                send_internal(name, "health", InternalKind::kHealth, now + kHealthTimeout);
        }
        if (infer_model.empty() && !model_info_in_flight && workers_of(config.infer_service) > 0) {
            model_info_in_flight = send_internal(config.infer_service, "infer.model_info",
                                                 InternalKind::kModelInfo, now + kHealthTimeout);
        }
    }

    // ---- replies ---------------------------------------------------------------------------
    void handle_reply(const std::string& service, const fw::Frames& body) {
        if (service == kServicesVerb) {
            handle_services(body);
            return;
        }
        auto decoded = fw::decode_reply(body);
        if (!decoded) {
            log.warn("undecodable reply dropped",
                     {{"service", service}, {"error", decoded.status().message()}});
            // The id frame may still be readable: answer that request instead of a late 504.
            if (body.size() > 2) {
                const auto it = calls.find(body[2]);
                if (it != calls.end()) {
                    finish(it->second.responder,
                           error_answer(fw::internal_error(
                               "gateway: the " + it->second.verb + " reply from " + service +
                               " could not be decoded: " + decoded.status().message())));
                    calls.erase(it);
                }
            }
            return;
        }
        const auto& id = decoded->correlation_id;
        services[service].answered_at = SteadyClock::now();
        if (config.verbose) {
            log.info("reply received",
                     {{"service", service},
                      {"id", id},
                      {"status", std::string(fw::status_code_name(decoded->reply.status.code()))}});
        }
        if (const auto it = calls.find(id); it != calls.end()) {
            answer_call(it->second, decoded->reply);
            calls.erase(it);  // its deadline entry is skipped when it comes due
            return;
        }
        if (const auto it = internal.find(id); it != internal.end()) {
            const InternalCall call = it->second;
            internal.erase(it);
            handle_internal(call, decoded->reply);
            return;
        }
        log.debug("late reply dropped", {{"service", service}, {"id", id}});
    }

    void answer_call(PendingCall& call, const fw::Reply& reply) {
        if (!reply.status.is_ok()) {
            finish(call.responder, error_answer(reply.status));
            return;
        }
        if (call.verb == "infer.predict" && reply.header.contains("model") &&
            reply.header["model"].is_string()) {
            infer_model = reply.header["model"].get<std::string>();
        }
        HttpAnswer answer;
        try {
            answer = call.map_reply(reply, call.responder.elapsed_ms());
        } catch (const std::exception& e) {
            answer =
                error_answer(fw::internal_error("gateway: cannot read the " + call.verb +
                                                " reply from " + call.service + ": " + e.what()));
        }
        finish(call.responder, answer);
    }

    void handle_internal(const InternalCall& call, const fw::Reply& reply) {
        switch (call.kind) {
            case InternalKind::kHealth: {
                auto& view = services[call.service];
                view.health_in_flight = false;
                view.health_at = SteadyClock::now();
                if (reply.status.is_ok()) {
                    view.state = reply.header.value("state", std::string("unknown"));
                    view.detail = reply.header.value("detail", std::string());
                } else {
                    view.state = "unknown";
                    view.detail = reply.status.message();
                }
                return;
            }
            case InternalKind::kModelInfo:
                model_info_in_flight = false;
                if (reply.status.is_ok() && reply.header.contains("sha256") &&
                    reply.header["sha256"].is_string()) {
                    infer_model = reply.header["sha256"].get<std::string>();
                }
                return;
            case InternalKind::kMetrics: {
                const auto it = scrapes.find(call.scrape);
                if (it == scrapes.end()) return;  // answered at its deadline already
                if (reply.status.is_ok() && reply.header.contains("text") &&
                    reply.header["text"].is_string()) {
                    it->second.texts.push_back(reply.header["text"].get<std::string>());
                }
                if (--it->second.waiting == 0) finish_scrape(it);
                return;
            }
        }
    }

    void handle_services(const fw::Frames& body) {
        services_sent.reset();
        if (body.empty() || body[0] != "200") {
            if (!warned_mmi) {
                log.warn("the broker does not answer mmi.services",
                         {{"reply", body.empty() ? std::string() : body[0]}});
                warned_mmi = true;
            }
            return;
        }
        std::map<std::string, fw::ServiceStats> fresh;
        for (std::size_t i = 1; i < body.size(); ++i) {
            auto line = parse_service_line(body[i]);
            if (!line) {
                log.warn("malformed mmi.services line dropped", {{"line", body[i]}});
                continue;
            }
            fresh.insert(std::move(*line));
        }
        const auto now = SteadyClock::now();
        const bool first = !snapshot_at;
        snapshot_at = now;
        snapshot_wall = std::chrono::system_clock::now();
        // Services that vanished from the list have no workers now.
        for (auto& [name, view] : services) {
            if (!fresh.contains(name)) fresh.emplace(name, fw::ServiceStats{});
        }
        for (const auto& [name, stats] : fresh) {
            auto& view = services[name];
            const auto previous = first ? 0 : worker_count(view.stats);
            const auto current = worker_count(stats);
            view.stats = stats;
            metrics.set_service(name, stats);
            if (current == 0) {
                view.health_at.reset();
                if (name == config.infer_service) infer_model.clear();
            }
            if (current != previous) {
                append_event("workers.changed",
                             {{"service", name}, {"workers", current}, {"previous", previous}});
            }
        }
    }

    // ---- events ----------------------------------------------------------------------------
    void handle_event(const std::string& topic, const std::string& text) {
        auto data = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (data.is_discarded()) {
            log.warn("event with malformed JSON kept as text", {{"topic", topic}});
            data = text;
        }
        if (topic == "model.loaded" && data.is_object() && data.contains("sha256") &&
            data["sha256"].is_string()) {
            infer_model = data["sha256"].get<std::string>();
        }
        append_event(topic, std::move(data));
    }

    void append_event(const std::string& topic, json data) {
        events.append(topic, std::move(data), std::chrono::system_clock::now());
        metrics.count_event();
        // Every parked poll waited for "anything after my seq": one new event serves them all.
        for (auto& poll : polls) {
            finish(poll.responder, json_answer(200, events.after(poll.after).to_json()));
        }
        polls.clear();
    }

    // ---- deadlines -------------------------------------------------------------------------
    HttpAnswer deadline_error(const std::string& service, const std::string& verb) const {
        return error_answer(fw::deadline_exceeded("no reply to " + verb + " from " + service +
                                                  " within " +
                                                  describe_ms(config.request_timeout)));
    }

    void expire(SteadyClock::time_point now) {
        while (!call_deadlines.empty() && call_deadlines.begin()->first <= now) {
            const auto id = call_deadlines.begin()->second;
            call_deadlines.erase(call_deadlines.begin());
            const auto it = calls.find(id);
            if (it == calls.end()) continue;  // answered already
            finish(it->second.responder, deadline_error(it->second.service, it->second.verb));
            calls.erase(it);
        }
        for (auto it = polls.begin(); it != polls.end();) {
            if (it->deadline <= now) {
                finish(it->responder,
                       json_answer(
                           200, {{"events", json::array()}, {"next", it->after}, {"gap", false}}));
                it = polls.erase(it);
            } else {
                ++it;
            }
        }
        for (auto it = internal.begin(); it != internal.end();) {
            if (it->second.deadline > now) {
                ++it;
                continue;
            }
            const InternalCall call = it->second;
            it = internal.erase(it);
            if (call.kind == InternalKind::kHealth) {
                auto& view = services[call.service];
                view.health_in_flight = false;
                view.health_at = now;
                view.state = "unknown";
                view.detail = "no health reply within " +
                              describe_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  kHealthTimeout));
            } else if (call.kind == InternalKind::kModelInfo) {
                model_info_in_flight = false;
            }
        }
        for (auto it = scrapes.begin(); it != scrapes.end();) {
            auto current = it++;
            if (current->second.deadline <= now) finish_scrape(current);
        }
    }

    void drain_on_stop() {
        std::deque<Job> jobs;
        {
            const std::lock_guard lock(mutex);
            accepting = false;
            jobs.swap(inbox);
        }
        for (auto& job : jobs) finish(responder_of(job), shutting_down());
        for (auto& [id, call] : calls) finish(call.responder, shutting_down());
        calls.clear();
        call_deadlines.clear();
        for (auto& poll : polls) finish(poll.responder, shutting_down());
        polls.clear();
        while (!scrapes.empty()) finish_scrape(scrapes.begin());
    }
};

Bridge::Bridge(zmq::context_t& context, const GatewayConfig& config, GatewayMetrics& metrics)
    : impl_(std::make_unique<Impl>(context, config, metrics)) {}

Bridge::~Bridge() {
    stop();
}

void Bridge::start() {
    if (impl_->thread.joinable()) return;
    impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (impl_->wake_fd < 0) {
        throw std::system_error(errno, std::generic_category(), "gateway bridge: eventfd");
    }
    std::promise<void> started;
    auto ready = started.get_future();
    impl_->stop_flag.store(false);
    impl_->thread = std::thread([this, &started] { impl_->run(started); });
    try {
        ready.get();
    } catch (...) {
        impl_->thread.join();
        throw;
    }
    const std::lock_guard lock(impl_->mutex);
    impl_->accepting = true;
}

void Bridge::stop() noexcept {
    {
        const std::lock_guard lock(impl_->mutex);
        impl_->accepting = false;
    }
    if (impl_->thread.joinable()) {
        impl_->stop_flag.store(true);
        impl_->thread.join();
    }
    const std::lock_guard lock(impl_->mutex);
    if (impl_->wake_fd >= 0) {
        ::close(impl_->wake_fd);
        impl_->wake_fd = -1;
    }
}

void Bridge::call(StageCall call, Responder responder) {
    impl_->submit(CallJob{std::move(call), std::move(responder)});
}

void Bridge::poll_events(std::uint64_t after, std::chrono::milliseconds timeout,
                         Responder responder) {
    impl_->submit(EventsJob{after, timeout, std::move(responder)});
}

void Bridge::workers(Responder responder) {
    impl_->submit(WorkersJob{std::move(responder)});
}

void Bridge::readiness(Responder responder) {
    impl_->submit(ReadyJob{std::move(responder)});
}

void Bridge::scrape_metrics(Responder responder) {
    impl_->submit(MetricsJob{std::move(responder)});
}

}  // namespace digitpipe::gateway
