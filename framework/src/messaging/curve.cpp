// CURVE and ZAP (see curve.hpp). Keys travel as Z85 text in configuration and are handed to
// libzmq as 32 raw bytes, so a malformed key fails here with its name instead of as a
// handshake that silently never completes.
#include "digitpipe/curve.hpp"

#include <array>
#include <cstring>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "digitpipe/log.hpp"
#include "mdp_frames.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;

// RFC 27: where libzmq asks, and the protocol version it speaks.
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr std::string_view kZapVersion = "1.0";
constexpr std::size_t kKeyBytes = 32;
// How often the handler thread looks at its stop flag.
constexpr auto kZapPoll = 100ms;

using RawKey = std::array<std::uint8_t, kKeyBytes>;

RawKey decode_key(std::string_view z85, std::string_view what) {
    RawKey raw{};
    if (!is_z85_key(z85) ||
        zmq_z85_decode(raw.data(), std::string(z85).c_str()) == nullptr) {
        throw std::invalid_argument(std::string(what) + " is not a CURVE key (40 Z85 characters)");
    }
    return raw;
}

std::string encode_key(const std::uint8_t* raw) {
    std::array<char, 41> text{};
    zmq_z85_encode(text.data(), raw, kKeyBytes);
    return std::string(text.data());
}

bool applies(const SecurityConfig& security, std::string_view endpoint) {
    return security.enabled() && endpoint.starts_with("tcp://");
}

void check_pair(const SecurityConfig& security) {
    decode_key(security.public_key, "security.key's public-key");
    decode_key(security.secret_key, "security.key's secret-key");
    std::array<char, 41> derived{};
    if (zmq_curve_public(derived.data(), security.secret_key.c_str()) != 0 ||
        security.public_key != derived.data()) {
        throw std::invalid_argument(
            "security.key: its public-key does not belong to its secret-key (a damaged or "
            "hand-edited key file?)");
    }
}

}  // namespace

KeyFile make_curve_key_pair() {
    std::array<char, 41> public_key{};
    std::array<char, 41> secret_key{};
    if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
        throw std::runtime_error(std::string("cannot make a CURVE key pair: ") +
                                 zmq_strerror(zmq_errno()));
    }
    return KeyFile{public_key.data(), secret_key.data()};
}

// ---- ZAP -----------------------------------------------------------------------------------

struct ZapHandler::Impl {
    explicit Impl(zmq::context_t& context) : socket(context, zmq::socket_type::rep) {
        socket.set(zmq::sockopt::linger, 0);
        // A handler closed a moment ago may still hold the inproc name until libzmq's reaper
        // gets to its socket: try again for a short while before giving up.
        for (int attempt = 0;; ++attempt) {
            try {
                socket.bind(kZapEndpoint);
                return;
            } catch (const zmq::error_t& e) {
                if (e.num() != EADDRINUSE || attempt >= 50) throw;
                std::this_thread::sleep_for(20ms);
            }
        }
    }

    void add(const std::vector<std::string>& keys) {
        std::set<RawKey> decoded;
        for (const auto& key : keys) decoded.insert(decode_key(key, "security.allowed_clients key " + key));
        const std::lock_guard lock(mutex);
        allowed.insert(decoded.begin(), decoded.end());
    }

    void serve() {
        mdp::Parts parts;
        try {
            while (!stop.load()) {
                const auto result = mdp::receive_parts(socket, parts, kZapPoll);
                if (result != mdp::ReceiveResult::kOk) continue;
                answer(parts);
            }
        } catch (const zmq::error_t& e) {
            // ETERM: the context is closing under us; nothing is left to admit.
            if (e.num() != ETERM) log.error("ZAP handler stopped", {{"error", e.what()}});
        }
    }

    // One ZAP request: [version, request id, domain, address, routing id, mechanism,
    // credentials...]; CURVE's one credential is the client's 32-byte public key.
    void answer(const mdp::Parts& parts) {
        const auto text = [&](std::size_t i) {
            return i < parts.size() ? std::string(static_cast<const char*>(parts[i].data()),
                                                  parts[i].size())
                                    : std::string();
        };
        bool ok = false;
        std::string client = "(none)";
        if (parts.size() >= 7 && text(0) == kZapVersion && text(5) == "CURVE" &&
            parts[6].size() == kKeyBytes) {
            RawKey key{};
            std::memcpy(key.data(), parts[6].data(), kKeyBytes);
            client = encode_key(key.data());
            const std::lock_guard lock(mutex);
            ok = allowed.count(key) > 0;
        }
        (ok ? admitted : denied).fetch_add(1);
        if (!ok) {
            log.warn("connection refused: client key not allowed",
                     {{"address", text(3)}, {"mechanism", text(5)}, {"client_key", client}});
        }
        const std::string request_id = text(1);
        const std::string user_id = ok ? client : std::string();
        mdp::FrameSender sender(socket);
        sender.add(kZapVersion)
            .add(request_id)
            .add(std::string_view(ok ? "200" : "400"))
            .add(std::string_view(ok ? "OK" : "client key not allowed"))
            .add(user_id)
            .add(std::string_view{});
        (void)sender.finish();
    }

    zmq::socket_t socket;
    std::mutex mutex;
    std::set<RawKey> allowed;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> admitted{0};
    std::atomic<std::uint64_t> denied{0};
    Logger log{"zap"};
    std::thread thread;
};

namespace {
std::mutex registry_mutex;
std::map<void*, std::weak_ptr<ZapHandler>> registry;  // context handle -> its handler
}  // namespace

ZapHandler::ZapHandler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ZapHandler::~ZapHandler() {
    impl_->stop.store(true);
    if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint64_t ZapHandler::admitted() const noexcept { return impl_->admitted.load(); }
std::uint64_t ZapHandler::denied() const noexcept { return impl_->denied.load(); }

std::shared_ptr<ZapHandler> ZapHandler::acquire(zmq::context_t& context,
                                                const std::vector<std::string>& allowed) {
    const std::lock_guard lock(registry_mutex);
    auto& slot = registry[context.handle()];
    auto handler = slot.lock();
    if (!handler) {
        auto impl = std::make_unique<Impl>(context);
        Impl* raw = impl.get();
        handler.reset(new ZapHandler(std::move(impl)));
        // The socket was bound on this thread; the thread start is the hand-over barrier.
        raw->thread = std::thread([raw] { raw->serve(); });
        slot = handler;
    }
    handler->impl_->add(allowed);
    return handler;
}

// ---- sockets -------------------------------------------------------------------------------

void secure_client(zmq::socket_t& socket, const SecurityConfig& security,
                   std::string_view server_public_key, std::string_view endpoint) {
    if (!applies(security, endpoint)) return;
    check_pair(security);
    if (server_public_key.empty()) {
        throw std::invalid_argument("security: no server public key for " + std::string(endpoint) +
                                    " (security.broker_public_key, or the stream's "
                                    "server_public_key)");
    }
    const RawKey server = decode_key(server_public_key, "the server public key");
    const RawKey own_public = decode_key(security.public_key, "security.key's public-key");
    const RawKey own_secret = decode_key(security.secret_key, "security.key's secret-key");
    socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), server.size()));
    socket.set(zmq::sockopt::curve_publickey,
               zmq::const_buffer(own_public.data(), own_public.size()));
    socket.set(zmq::sockopt::curve_secretkey,
               zmq::const_buffer(own_secret.data(), own_secret.size()));
}

std::shared_ptr<ZapHandler> secure_server(zmq::socket_t& socket, zmq::context_t& context,
                                          const SecurityConfig& security,
                                          std::string_view endpoint) {
    if (!applies(security, endpoint)) return nullptr;
    check_pair(security);
    if (security.allowed_clients.empty()) {
        throw std::invalid_argument(
            "security.allowed_clients is empty: " + std::string(endpoint) +
            " would admit nobody; list the .pub files (or a folder of them) of the hosts that "
            "connect");
    }
    auto handler = ZapHandler::acquire(context, security.allowed_clients);
    const RawKey own_secret = decode_key(security.secret_key, "security.key's secret-key");
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::curve_secretkey,
               zmq::const_buffer(own_secret.data(), own_secret.size()));
    // ZAP is consulted for every CURVE handshake; a domain makes that explicit in logs.
    socket.set(zmq::sockopt::zap_domain, "digitpipe");
    return handler;
}

}  // namespace digitpipe::framework
