// HTTP answers of the gateway and the one mapping from digitpipe's status vocabulary to HTTP
// (STYLE 5, web/API.md "Errors"): every error, whatever the route, is
//   {"error": {"code": "invalid_argument", "message": "..."}}
// Pure data and functions: no Pistache, so routes, the bridge thread and the unit tests share it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

inline constexpr std::string_view kJsonType = "application/json";

// One HTTP reply, ready to send: status code, body, Content-Type and any extra headers
// (Retry-After, Cache-Control). Value type.
struct HttpAnswer {
    int code = 200;
    std::string body;
    std::string content_type = std::string(kJsonType);
    std::vector<std::pair<std::string, std::string>> headers;
};

// HTTP status for a non-OK code: 400, 404, 409, 429, 503, 504, 501, 500 (kOk, which is no
// error, maps to 500: answering "success" for a failure would be the worse bug).
int http_status(framework::StatusCode code) noexcept;

// The JSON error code for a status: "invalid_argument", "not_found", ... ("internal" for kOk).
std::string_view error_code(framework::StatusCode code) noexcept;

// {"error": {"code", "message"}} with the status' HTTP code; 503 carries `Retry-After: 1`.
HttpAnswer error_answer(const framework::Status& status);

// An error the status vocabulary has no code for (405 method_not_allowed, 413
// payload_too_large, 415 unsupported_media_type, 408 request_timeout).
HttpAnswer error_answer(int http_code, std::string_view code, std::string_view message);

// `value` as a JSON body with `http_code`. Invalid UTF-8 in strings is replaced, never thrown.
HttpAnswer json_answer(int http_code, const nlohmann::json& value);

}  // namespace digitpipe::gateway
