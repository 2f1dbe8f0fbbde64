// Status names on the wire and in messages.
#include "digitpipe/status.hpp"

#include <array>

namespace digitpipe::framework {
namespace {

struct CodeName {
    StatusCode code;
    std::string_view name;
};

constexpr std::array<CodeName, 9> kCodeNames{{
    {StatusCode::kOk, "OK"},
    {StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
    {StatusCode::kNotFound, "NOT_FOUND"},
    {StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
    {StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
    {StatusCode::kUnavailable, "UNAVAILABLE"},
    {StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
    {StatusCode::kUnimplemented, "UNIMPLEMENTED"},
    {StatusCode::kInternal, "INTERNAL"},
}};

}  // namespace

std::string_view status_code_name(StatusCode code) noexcept {
    for (const auto& entry : kCodeNames) {
        if (entry.code == code) return entry.name;
    }
    return "INTERNAL";
}

std::optional<StatusCode> parse_status_code(std::string_view name) noexcept {
    for (const auto& entry : kCodeNames) {
        if (entry.name == name) return entry.code;
    }
    return std::nullopt;
}

std::string Status::to_string() const {
    std::string out(status_code_name(code_));
    if (!message_.empty()) {
        out += ": ";
        out += message_;
    }
    return out;
}

}  // namespace digitpipe::framework
