// digitpipe status vocabulary: one error type for expected, per-request failures.
// Modelled on absl::Status / StatusOr. Exceptions are for setup and library failures only;
// anything that travels back to a caller (a reply, an HTTP answer) is a Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace digitpipe::framework {

// The most specific code wins. The gateway maps them to HTTP 400, 404, 409, 429, 503, 504,
// 501 and 500 in this order.
enum class StatusCode {
    kOk,
    kInvalidArgument,     // the caller sent something malformed
    kNotFound,            // the named thing does not exist
    kFailedPrecondition,  // the system is not in a state to do this (e.g. no model loaded)
    kResourceExhausted,   // a limit was hit (queue full, too large)
    kUnavailable,         // transient: retry later (no worker, broker down)
    kDeadlineExceeded,    // the request's deadline passed
    kUnimplemented,       // unknown verb
    kInternal,            // a bug or an unexpected library failure
};

// Stable wire name of a code ("OK", "INVALID_ARGUMENT", ...), used as the reply status frame.
std::string_view status_code_name(StatusCode code) noexcept;

// Inverse of status_code_name; nullopt for an unknown name.
std::optional<StatusCode> parse_status_code(std::string_view name) noexcept;

// A code plus a human message that says where, what, why. Value type; cheap to copy.
class Status {
 public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }

    bool is_ok() const noexcept { return code_ == StatusCode::kOk; }
    StatusCode code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }

    // "INVALID_ARGUMENT: message" (or "OK").
    std::string to_string() const;

    friend bool operator==(const Status&, const Status&) = default;

 private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status resource_exhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status deadline_exceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or a non-OK Status (C++20 has no std::expected).
// requires: a Result built from a Status is built from a non-OK one.
template <typename T>
class Result {
 public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design, like StatusOr
    Result(Status status) : state_(std::move(status)) {  // NOLINT
        assert(!std::get<Status>(state_).is_ok() && "Result needs a value or a non-OK status");
    }

    bool is_ok() const noexcept { return std::holds_alternative<T>(state_); }
    explicit operator bool() const noexcept { return is_ok(); }

    // The error; Status::ok() when a value is held.
    Status status() const { return is_ok() ? Status::ok() : std::get<Status>(state_); }

    // requires: is_ok().
    T& value() & { return std::get<T>(state_); }
    const T& value() const& { return std::get<T>(state_); }
    T&& value() && { return std::get<T>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

 private:
    std::variant<T, Status> state_;
};

}  // namespace digitpipe::framework
