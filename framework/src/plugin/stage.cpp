// Out-of-line parts of the stage API (stage.hpp): names for health states, used in health
// replies, logs and the dashboard.
#include "digitpipe/stage.hpp"

namespace digitpipe::framework {

std::string_view health_state_name(HealthState state) noexcept {
    switch (state) {
        case HealthState::kStarting: return "starting";
        case HealthState::kReady: return "ready";
        case HealthState::kDegraded: return "degraded";
        case HealthState::kFailed: return "failed";
    }
    return "failed";  // unreachable for valid enumerators; an unknown state is not healthy
}

}  // namespace digitpipe::framework
