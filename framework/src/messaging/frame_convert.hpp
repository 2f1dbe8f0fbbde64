// Conversions between the public Frames (std::string per frame) and zmq messages, for the
// worker session and the clients. Internal to framework/src/messaging.
#pragma once

#include <cstddef>
#include <string>

#include <zmq.hpp>

#include "digitpipe/mdp.hpp"
#include "mdp_frames.hpp"

namespace digitpipe::framework::mdp {

// Frames at least this large are handed to libzmq without a copy (the message takes ownership
// of a heap string); smaller ones are copied, which is cheaper than the extra allocation.
inline constexpr std::size_t kZeroCopyMinBytes = 4096;

// A message holding `bytes`; moves large strings instead of copying them.
zmq::message_t to_message(std::string&& bytes);

// Frames parts[first..] as strings (copies).
Frames to_frames(const Parts& parts, std::size_t first);

}  // namespace digitpipe::framework::mdp
