// Status -> HTTP mapping and JSON answer builders (see http_errors.hpp).
#include "http_errors.hpp"

namespace digitpipe::gateway {

namespace fw = framework;

int http_status(fw::StatusCode code) noexcept {
    switch (code) {
        case fw::StatusCode::kInvalidArgument:
            return 400;
        case fw::StatusCode::kNotFound:
            return 404;
        // 409, not google.rpc's 400: the dashboard tells "bad input" from "fix the state first".
        case fw::StatusCode::kFailedPrecondition:
            return 409;
        case fw::StatusCode::kResourceExhausted:
            return 429;
        case fw::StatusCode::kUnavailable:
            return 503;
        case fw::StatusCode::kDeadlineExceeded:
            return 504;
        case fw::StatusCode::kUnimplemented:
            return 501;
        case fw::StatusCode::kInternal:
        case fw::StatusCode::kOk:
            return 500;
    }
    return 500;
}

std::string_view error_code(fw::StatusCode code) noexcept {
    switch (code) {
        case fw::StatusCode::kInvalidArgument:
            return "invalid_argument";
        case fw::StatusCode::kNotFound:
            return "not_found";
        case fw::StatusCode::kFailedPrecondition:
            return "failed_precondition";
        case fw::StatusCode::kResourceExhausted:
            return "resource_exhausted";
        case fw::StatusCode::kUnavailable:
            return "unavailable";
        case fw::StatusCode::kDeadlineExceeded:
            return "deadline_exceeded";
        case fw::StatusCode::kUnimplemented:
            return "unimplemented";
        case fw::StatusCode::kInternal:
        case fw::StatusCode::kOk:
            return "internal";
    }
    return "internal";
}

HttpAnswer error_answer(const fw::Status& status) {
    auto answer =
        error_answer(http_status(status.code()), error_code(status.code()), status.message());
    // API.md: a 503 always says when to retry, so clients back off instead of hammering.
    if (answer.code == 503) answer.headers.emplace_back("Retry-After", "1");
    return answer;
}

HttpAnswer error_answer(int http_code, std::string_view code, std::string_view message) {
    return json_answer(
        http_code, {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}});
}

HttpAnswer json_answer(int http_code, const nlohmann::json& value) {
    HttpAnswer answer;
    answer.code = http_code;
    // Stage messages may quote user bytes: replace invalid UTF-8 rather than throw mid-answer.
    answer.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return answer;
}

}  // namespace digitpipe::gateway
