// Frames <-> zmq messages for the worker session and the clients (see frame_convert.hpp).
#include "messaging/frame_convert.hpp"

#include <memory>
#include <utility>

namespace digitpipe::framework::mdp {
namespace {

void delete_string(void* /*data*/, void* hint) noexcept { delete static_cast<std::string*>(hint); }

}  // namespace

zmq::message_t to_message(std::string&& bytes) {
    if (bytes.size() < kZeroCopyMinBytes) return zmq::message_t(bytes.data(), bytes.size());
    auto owned = std::make_unique<std::string>(std::move(bytes));
    void* data = owned->data();
    const std::size_t size = owned->size();
    zmq::message_t message(data, size, &delete_string, owned.get());
    owned.release();  // the message owns it now; libzmq calls delete_string when done
    return message;
}

Frames to_frames(const Parts& parts, std::size_t first) {
    Frames frames;
    if (first >= parts.size()) return frames;
    frames.reserve(parts.size() - first);
    for (std::size_t i = first; i < parts.size(); ++i) frames.emplace_back(parts[i].to_string());
    return frames;
}

}  // namespace digitpipe::framework::mdp
