// The 7/MDP broker loop: one ROUTER for clients and workers, routing requests to workers of
// the named service through BrokerRegistry, heartbeating and purging workers, answering MMI,
// and (when configured) proxying events between XSUB and XPUB in the same loop.
// Everything here runs on the thread that calls Broker::run; only stats() crosses threads.
#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"

#include "digitpipe/curve.hpp"
#include "messaging/broker_registry.hpp"
#include "messaging/mdp_frames.hpp"
#include "messaging/mmi.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using mdp::Command;
using mdp::FrameSender;
using mdp::SendResult;

// Event messages forwarded per direction per poll (bounds the time away from the ROUTER).
constexpr std::size_t kEventBatch = 1024;
// How often the event sockets are polled. Events are progress reports: a few milliseconds of
// delay is invisible, and polling them rarely keeps the request path cheap.
constexpr auto kEventPollPeriod = 5ms;
// The stats() snapshot lags the loop by at most this (rebuilding it per message would cost
// more than routing the message).
constexpr auto kStatsPublishPeriod = 10ms;
// Per-peer queue bounds of the ROUTER, in messages. Above libzmq's 1000 so pipelining
// clients are not throttled early; equal to the default queue cap to keep memory bounded.
constexpr int kRouterHighWaterMark = 10'000;
// Peers whose malformed traffic was already logged; forgotten wholesale past this size so a
// flood of fresh identities cannot grow the set without bound.
constexpr std::size_t kMaxLoggedPeers = 4096;

// ROUTER frame positions of a client request: [client, "", "MDPC01", service, body...].
constexpr std::size_t kClientService = 3;
constexpr std::size_t kClientBody = 4;
// ROUTER frame positions of a worker command: [worker, "", "MDPW01", command, ...].
constexpr std::size_t kWorkerCommand = 3;
constexpr std::size_t kReadyService = 4;  // READY: [.., service]
constexpr std::size_t kReadyCredit = 5;   // READY: [.., service, credit] (prefetch extension)
constexpr std::size_t kReplyClient = 4;   // REPLY: [.., client, "", body...]
constexpr std::size_t kReplyDelimiter = 5;
constexpr std::size_t kReplyBody = 6;

std::string bound_endpoint(zmq::socket_t& socket) {
    return socket.get(zmq::sockopt::last_endpoint);
}

void validate(const BrokerOptions& options) {
    if (options.endpoint.empty()) {
        throw std::invalid_argument("broker: endpoint must not be empty");
    }
    if (options.heartbeat.interval <= 0ms || options.heartbeat.liveness < 1) {
        throw std::invalid_argument(
            "broker: heartbeat interval must be > 0 and liveness >= 1, got " +
            std::to_string(options.heartbeat.interval.count()) + " ms x " +
            std::to_string(options.heartbeat.liveness));
    }
    if (options.events_in.empty() != options.events_out.empty()) {
        throw std::invalid_argument(
            "broker: events_in and events_out must be given together (got events_in='" +
            options.events_in + "', events_out='" + options.events_out + "')");
    }
}

}  // namespace

struct Broker::Impl {
    Impl(zmq::context_t& context, BrokerOptions opts)
        : options(std::move(opts)),
          router(context, zmq::socket_type::router),
          registry(options.max_queued_per_service) {
        validate(options);
        router.set(zmq::sockopt::router_mandatory, true);
        router.set(zmq::sockopt::sndhwm, kRouterHighWaterMark);
        router.set(zmq::sockopt::rcvhwm, kRouterHighWaterMark);
        mdp::configure_peer_socket(router, options.max_message_bytes);
        zap = secure_server(router, context, options.security, options.endpoint);
        router.bind(options.endpoint);
        endpoint = bound_endpoint(router);
        if (!options.events_in.empty()) {
            events_in_socket.emplace(context, zmq::socket_type::xsub);
            mdp::configure_peer_socket(*events_in_socket, options.max_message_bytes);
            events_zap = secure_server(*events_in_socket, context, options.security,
                                       options.events_in);
            events_in_socket->bind(options.events_in);
            events_in = bound_endpoint(*events_in_socket);
            events_out_socket.emplace(context, zmq::socket_type::xpub);
            mdp::configure_peer_socket(*events_out_socket, options.max_message_bytes);
            (void)secure_server(*events_out_socket, context, options.security,
                                options.events_out);
            events_out_socket->bind(options.events_out);
            events_out = bound_endpoint(*events_out_socket);
        }
        log.info("listening", {{"endpoint", endpoint},
                               {"events_in", events_in},
                               {"events_out", events_out},
                               {"heartbeat_ms", std::to_string(options.heartbeat.interval.count())},
                               {"liveness", std::to_string(options.heartbeat.liveness)},
                               {"curve", zap ? "on" : "off"}});
    }

    void run(const std::atomic<bool>& stop);
    void poll_events();
    void handle_message();
    void handle_client();
    void handle_mmi();
    void handle_worker();
    void on_tick();

    bool send_request(WorkerEntry& worker);
    void dispatch(ServiceEntry& service);
    void remove_worker(WorkerEntry& worker);
    void disconnect_worker(WorkerEntry& worker, std::string_view reason);
    SendResult send_command(std::string_view identity, Command command);
    void note_malformed(std::string_view reason);
    void note_send(SendResult result, std::string_view peer, std::string_view what);
    void forward_events(zmq::socket_t& from, zmq::socket_t& to);
    void publish_stats();

    // Where FrameSender writes its dump when verbose; null otherwise (no formatting cost).
    std::string* trace() {
        if (!options.verbose) return nullptr;
        trace_buffer.clear();
        return &trace_buffer;
    }
    void log_trace(std::string_view direction) {
        if (options.verbose) log.info(direction, {{"frames", trace_buffer}});
    }

    BrokerOptions options;
    Logger log{"broker"};
    // The context's ZAP handler while CURVE is on (curve.hpp); declared before the sockets so
    // it outlives them.
    std::shared_ptr<ZapHandler> zap;
    std::shared_ptr<ZapHandler> events_zap;
    zmq::socket_t router;
    std::optional<zmq::socket_t> events_in_socket;
    std::optional<zmq::socket_t> events_out_socket;
    std::string endpoint;
    std::string events_in;
    std::string events_out;

    BrokerRegistry registry;
    mdp::Parts parts;        // the message being handled; reused so receiving rarely allocates
    mdp::Parts event_parts;  // same, for the event proxy
    BrokerStats counters;    // owned by the loop; `services` is filled only when published
    BrokerClock::time_point now = BrokerClock::now();
    bool stats_dirty = true;
    BrokerClock::time_point next_publish{};
    std::unordered_set<std::string> malformed_peers_logged;
    std::string trace_buffer;

    mutable std::mutex stats_mutex;
    BrokerStats published;  // guarded by stats_mutex
};

void Broker::Impl::run(const std::atomic<bool>& stop) {
    const auto interval = options.heartbeat.interval;
    const auto far = BrokerClock::time_point::max();
    now = BrokerClock::now();
    auto next_tick = now + interval;
    auto next_events = now;
    // One blocking receive per turn on the ROUTER alone (see receive_parts for why not
    // zmq_poll); when messages are queued it returns at once without a system call. The
    // event sockets are polled between turns, at least every kEventPollPeriod.
    while (!stop.load(std::memory_order_relaxed)) {
        if (now >= next_tick) {
            on_tick();
            next_tick = now + interval;
        }
        if (events_in_socket && now >= next_events) {
            poll_events();
            next_events = now + kEventPollPeriod;
        }
        if (stats_dirty && now >= next_publish) publish_stats();
        const auto wake = std::min(
            {next_tick, events_in_socket ? next_events : far, stats_dirty ? next_publish : far});
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
        mdp::ReceiveResult received;
        try {
            received = mdp::receive_parts(router, parts, std::clamp(wait, 0ms, interval));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
            received = mdp::ReceiveResult::kNone;  // a signal: re-check `stop`
        }
        now = BrokerClock::now();
        if (received == mdp::ReceiveResult::kNone) continue;
        stats_dirty = true;
        if (received == mdp::ReceiveResult::kTooManyFrames) {
            note_malformed("more than " + std::to_string(mdp::kMaxFramesPerMessage) + " frames");
            continue;
        }
        if (options.verbose) log.info("recv", {{"frames", mdp::describe_parts(parts)}});
        handle_message();
    }
    publish_stats();
}

void Broker::Impl::poll_events() {
    std::array<zmq::pollitem_t, 2> items{};
    items[0] = {events_in_socket->handle(), 0, ZMQ_POLLIN, 0};
    items[1] = {events_out_socket->handle(), 0, ZMQ_POLLIN, 0};
    try {
        zmq::poll(items.data(), items.size(), 0ms);
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        return;
    }
    if ((items[0].revents & ZMQ_POLLIN) != 0) forward_events(*events_in_socket, *events_out_socket);
    if ((items[1].revents & ZMQ_POLLIN) != 0) forward_events(*events_out_socket, *events_in_socket);
}

void Broker::Impl::handle_message() {
    // parts[0] is the peer's routing id, added by the ROUTER; then the empty delimiter.
    if (parts.size() < 3) return note_malformed("fewer than 3 frames");
    if (!parts[1].empty()) return note_malformed("frame 1 is not the empty delimiter");
    if (mdp::total_size(parts) > options.max_message_bytes) {
        return note_malformed("message larger than " + std::to_string(options.max_message_bytes) +
                              " bytes");
    }
    if (mdp::frame_equals(parts[2], kMdpClientTag)) return handle_client();
    if (mdp::frame_equals(parts[2], kMdpWorkerTag)) return handle_worker();
    note_malformed("unknown protocol tag");
}

void Broker::Impl::handle_client() {
    if (parts.size() <= kClientService) return note_malformed("client request without service");
    const std::string_view service_name = mdp::view_of(parts[kClientService]);
    if (service_name.empty()) return note_malformed("client request with empty service");
    ++counters.requests;
    if (mmi::is_mmi(service_name)) return handle_mmi();

    ServiceEntry& service = registry.ensure_service(service_name);
    WorkerEntry* worker = registry.submit(service, parts, now, counters.dropped);
    if (worker != nullptr && !send_request(*worker)) {
        remove_worker(*worker);  // unreachable: the request goes back to the queue's front
        dispatch(service);
    }
}

void Broker::Impl::handle_mmi() {
    const std::string_view service_name = mdp::view_of(parts[kClientService]);
    FrameSender sender(router, trace());
    sender.add(std::move(parts[0])).add(std::string_view{}).add(kMdpClientTag);
    if (service_name == mmi::kService) {
        bool found = false;
        if (parts.size() > kClientBody) {
            const ServiceEntry* target = registry.find_service(mdp::view_of(parts[kClientBody]));
            found = target != nullptr && !target->workers.empty();
        }
        sender.add(std::move(parts[kClientService]));
        sender.add(found ? mmi::kFound : mmi::kNotFound);
        // Extension (see mmi.hpp): echo the rest so asynchronous callers can correlate.
        for (std::size_t i = kClientBody + 1; i < parts.size(); ++i)
            sender.add(std::move(parts[i]));
    } else if (service_name == mmi::kServices) {
        sender.add(std::move(parts[kClientService])).add(mmi::kFound);
        for (const auto& [name, stats] : registry.service_stats()) {
            sender.add(mmi::format_service_line(name, stats));
        }
    } else if (service_name == mmi::kBroker) {
        // Live counters, not the published snapshot: a caller that just sent bad frames sees
        // them counted in this reply.
        sender.add(std::move(parts[kClientService])).add(mmi::kFound);
        for (auto& line : mmi::format_broker_lines(counters)) sender.add(line);
    } else {
        sender.add(std::move(parts[kClientService])).add(mmi::kNotImplemented);
    }
    const SendResult result = sender.finish();
    log_trace("send");
    if (result == SendResult::kSent) ++counters.replies;
    note_send(result, "client", "mmi reply");
}

void Broker::Impl::handle_worker() {
    const std::string_view identity = mdp::view_of(parts[0]);
    WorkerEntry* worker = registry.find_worker(identity);
    const auto command =
        parts.size() > kWorkerCommand ? mdp::parse_command(parts[kWorkerCommand]) : std::nullopt;
    if (!command) {
        if (worker != nullptr) return disconnect_worker(*worker, "unknown or missing command");
        return note_malformed("unknown or missing worker command");
    }
    if (worker == nullptr) {
        switch (*command) {
            case Command::kReady:
                break;  // registration, handled below
            case Command::kDisconnect:
                return;  // allowed before READY (7/MDP); nothing to do
            default:
                // Typically a worker of a broker that restarted: DISCONNECT makes it
                // reconnect and send READY again (7/MDP: answer unexpected commands so).
                note_malformed(std::string(mdp::command_name(*command)) +
                               " from a worker not READY");
                send_command(identity, Command::kDisconnect);
                return;
        }
    } else {
        worker->expiry = now + options.heartbeat.expiry();  // any command proves it alive
    }

    switch (*command) {
        case Command::kReady: {
            if (worker != nullptr)
                return disconnect_worker(*worker, "READY from a registered worker");
            if (parts.size() != kReadyService + 1 && parts.size() != kReadyCredit + 1)
                return note_malformed("READY must have 5 or 6 frames");
            const std::string_view service_name = mdp::view_of(parts[kReadyService]);
            if (service_name.empty() || mmi::is_mmi(service_name)) {
                note_malformed("READY for an empty or reserved (mmi.) service");
                send_command(identity, Command::kDisconnect);
                return;
            }
            // No credit frame: a plain RFC 7 worker, one request at a time.
            int prefetch = 1;
            if (parts.size() > kReadyCredit) {
                const auto credit = mdp::parse_prefetch(parts[kReadyCredit]);
                if (!credit) {
                    note_malformed("READY credit is not a decimal in 1.." +
                                   std::to_string(kMaxPrefetch));
                    send_command(identity, Command::kDisconnect);
                    return;
                }
                prefetch = *credit;
            }
            ServiceEntry& service = registry.ensure_service(service_name);
            registry.add_worker(identity, service, now + options.heartbeat.expiry(),
                                static_cast<std::size_t>(prefetch));
            log.info("worker ready", {{"worker", mdp::to_hex(identity)},
                                      {"service", service.name},
                                      {"prefetch", std::to_string(prefetch)}});
            dispatch(service);
            return;
        }
        case Command::kReply: {
            if (!worker->busy()) {
                return disconnect_worker(*worker, "REPLY while serving no request");
            }
            if (parts.size() < kReplyBody || !parts[kReplyDelimiter].empty()) {
                return disconnect_worker(*worker, "REPLY without client address and delimiter");
            }
            if (!registry.release(*worker, mdp::view_of(parts[kReplyClient]))) {
                return disconnect_worker(*worker, "REPLY for a client it was not serving");
            }
            // Every request a worker holds is for its one service, so the name comes from
            // there rather than from the released request.
            ServiceEntry& service = *worker->service;
            FrameSender sender(router, trace());
            sender.add(std::move(parts[kReplyClient]))
                .add(std::string_view{})
                .add(kMdpClientTag)
                .add(service.name);
            for (std::size_t i = kReplyBody; i < parts.size(); ++i) sender.add(std::move(parts[i]));
            const SendResult result = sender.finish();
            log_trace("send");
            if (result == SendResult::kSent) ++counters.replies;
            note_send(result, "client", "reply");
            dispatch(service);
            return;
        }
        case Command::kHeartbeat:
            return;  // expiry already refreshed
        case Command::kDisconnect: {
            log.info("worker disconnected",
                     {{"worker", mdp::to_hex(identity)}, {"service", worker->service->name}});
            ServiceEntry& service = *worker->service;
            remove_worker(*worker);
            dispatch(service);
            return;
        }
        case Command::kRequest:
            return disconnect_worker(*worker, "REQUEST is a broker-to-worker command");
    }
}

bool Broker::Impl::send_request(WorkerEntry& worker) {
    auto& request = worker.in_flight.back().parts;  // the request just assigned to it
    FrameSender sender(router, trace());
    sender.add(worker.identity)
        .add(std::string_view{})
        .add(kMdpWorkerTag)
        .add(mdp::command_frame(Command::kRequest))
        .add_copy(request[0])
        .add(std::string_view{});
    // Copies, not moves: the request stays whole in `in_flight` for a requeue. Large frames are
    // reference-counted by libzmq, so this copies no payload.
    for (std::size_t i = kClientBody; i < request.size(); ++i) sender.add_copy(request[i]);
    const SendResult result = sender.finish();
    log_trace("send");
    if (result != SendResult::kSent) {
        log.warn("could not deliver a request to its worker; requeued",
                 {{"worker", mdp::to_hex(worker.identity)},
                  {"service", worker.service->name},
                  {"reason", result == SendResult::kUnreachable ? "gone" : "queue full"}});
        return false;
    }
    return true;
}

void Broker::Impl::dispatch(ServiceEntry& service) {
    // A failed send removes that worker and requeues its requests at the front, where the next
    // worker with credit picks them up; each pass either sends a queued request or removes a
    // worker, so this ends.
    while (WorkerEntry* worker = registry.assign_next(service)) {
        if (!send_request(*worker)) remove_worker(*worker);
    }
}

void Broker::Impl::remove_worker(WorkerEntry& worker) {
    counters.requeued += registry.remove_worker(worker);
    stats_dirty = true;
}

void Broker::Impl::disconnect_worker(WorkerEntry& worker, std::string_view reason) {
    note_malformed(reason);
    send_command(worker.identity, Command::kDisconnect);
    ServiceEntry& service = *worker.service;
    remove_worker(worker);
    dispatch(service);
}

SendResult Broker::Impl::send_command(std::string_view identity, Command command) {
    FrameSender sender(router, trace());
    sender.add(identity)
        .add(std::string_view{})
        .add(kMdpWorkerTag)
        .add(mdp::command_frame(command));
    const SendResult result = sender.finish();
    log_trace("send");
    return result;
}

void Broker::Impl::note_malformed(std::string_view reason) {
    ++counters.malformed;
    stats_dirty = true;
    std::string peer = parts.empty() ? std::string() : std::string(mdp::view_of(parts[0]));
    if (malformed_peers_logged.size() >= kMaxLoggedPeers) malformed_peers_logged.clear();
    // Once per peer: a misbehaving peer repeating itself must not flood the log.
    if (malformed_peers_logged.insert(peer).second) {
        log.warn("dropped malformed message", {{"peer", mdp::to_hex(peer)},
                                               {"reason", std::string(reason)},
                                               {"frames", std::to_string(parts.size())}});
    }
}

void Broker::Impl::note_send(SendResult result, std::string_view peer, std::string_view what) {
    if (result == SendResult::kSent) return;
    ++counters.unroutable;
    if (log_enabled(LogLevel::kDebug)) {
        log.debug("could not deliver",
                  {{"peer", std::string(peer)},
                   {"what", std::string(what)},
                   {"reason", result == SendResult::kUnreachable ? "gone" : "queue full"}});
    }
}

void Broker::Impl::on_tick() {
    // Removals first, dispatch last: dispatching may remove further workers (failed sends),
    // which would leave dangling pointers in the lists being walked.
    for (WorkerEntry* worker : registry.expired_workers(now)) {
        ++counters.workers_expired;
        log.warn("worker expired", {{"worker", mdp::to_hex(worker->identity)},
                                    {"service", worker->service->name},
                                    {"in_flight", std::to_string(worker->in_flight.size())}});
        // In case it is alive but was cut off: DISCONNECT makes it re-register at once.
        send_command(worker->identity, Command::kDisconnect);
        remove_worker(*worker);
    }
    std::vector<WorkerEntry*> gone;
    registry.for_each_worker([&](WorkerEntry& worker) {
        if (send_command(worker.identity, Command::kHeartbeat) == SendResult::kUnreachable) {
            gone.push_back(&worker);  // its connection closed (process died): no need to wait
        }
    });
    for (WorkerEntry* worker : gone) {
        log.info("worker gone",
                 {{"worker", mdp::to_hex(worker->identity)}, {"service", worker->service->name}});
        remove_worker(*worker);
    }
    registry.for_each_service([&](ServiceEntry& service) { dispatch(service); });
    counters.dropped += registry.drop_requests_before(now - options.max_queue_age);
    registry.for_each_service([&](ServiceEntry& service) {
        if (service.dropped_unreported == 0) return;
        log.warn("dropped queued requests (queue full or too old)",
                 {{"service", service.name},
                  {"count", std::to_string(service.dropped_unreported)},
                  {"max_queued", std::to_string(options.max_queued_per_service)},
                  {"max_age_ms", std::to_string(options.max_queue_age.count())}});
        service.dropped_unreported = 0;
    });
    registry.forget_unused_services();
    stats_dirty = true;
}

void Broker::Impl::forward_events(zmq::socket_t& from, zmq::socket_t& to) {
    for (std::size_t i = 0; i < kEventBatch; ++i) {
        const auto received = mdp::receive_parts(from, event_parts);
        if (received == mdp::ReceiveResult::kNone) return;
        if (received == mdp::ReceiveResult::kTooManyFrames) continue;
        if (options.verbose) log.info("event", {{"frames", mdp::describe_parts(event_parts)}});
        FrameSender sender(to);
        for (auto& part : event_parts) sender.add(std::move(part));
        // XPUB and XSUB drop rather than block at their high-water mark; nothing to handle.
        (void)sender.finish();
    }
}

void Broker::Impl::publish_stats() {
    BrokerStats snapshot = counters;
    snapshot.services = registry.service_stats();
    {
        const std::lock_guard<std::mutex> lock(stats_mutex);
        published = std::move(snapshot);
    }
    stats_dirty = false;
    next_publish = now + kStatsPublishPeriod;
}

Broker::Broker(zmq::context_t& context, BrokerOptions options)
    : impl_(std::make_unique<Impl>(context, std::move(options))) {}

Broker::~Broker() = default;

const std::string& Broker::endpoint() const noexcept { return impl_->endpoint; }
const std::string& Broker::events_in() const noexcept { return impl_->events_in; }
const std::string& Broker::events_out() const noexcept { return impl_->events_out; }

void Broker::run(const std::atomic<bool>& stop) { impl_->run(stop); }

BrokerStats Broker::stats() const {
    const std::lock_guard<std::mutex> lock(impl_->stats_mutex);
    return impl_->published;
}

}  // namespace digitpipe::framework
