// Transport security settings of one process: CURVE keys (ZeroMQ RFC 26/CurveZMQ) and the
// ZAP allow-list (RFC 27). Plain data, read from a deployment's `security` block
// (deployment.hpp) and applied to sockets by digitpipe/curve.hpp.
//
// Rule, the same on both ends of every link, so they always agree: when `enabled()`, every
// tcp:// socket speaks CURVE; ipc:// and inproc:// never do (they stay on this machine, behind
// file permissions or inside one process). A socket that binds is a CURVE server with this
// process's key pair and admits only clients whose public key is in `allowed_clients`; a
// socket that connects is a CURVE client that checks the server's public key.
#pragma once

#include <string>
#include <vector>

namespace digitpipe::framework {

// Keys are Z85 text (40 characters for 32 bytes), as ZeroMQ prints them.
struct SecurityConfig {
    std::string public_key;                    // this process's key pair; both empty = no CURVE
    std::string secret_key;
    std::string broker_public_key;             // the broker's sockets' server key
    std::vector<std::string> allowed_clients;  // public keys a binding socket admits (ZAP)

    bool enabled() const noexcept { return !secret_key.empty(); }
};

}  // namespace digitpipe::framework
