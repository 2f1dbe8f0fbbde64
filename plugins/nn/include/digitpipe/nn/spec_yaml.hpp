// Network specs as data: models/*.yaml documents parsed into NetworkSpec, and back.
//
// The format (one document per architecture; every key snake_case, unknown keys refused):
//
//   name: enhanced                 # required: the network's name
//   input: [1, 28, 28]             # required: C, H, W of one image
//   layers:                        # required: a non-empty sequence, applied in order
//     - {type: conv2d, filters: 32}
//     - {type: batch_norm}
//     - type: relu
//       name: relu_after_conv      # optional on every layer: [A-Za-z0-9_-]+, unique; it names
//                                  # the layer in messages and its parameters in weight files
//
// Every layer is a map with a `type` and that type's options (defaults in brackets, which are
// the spec structs' defaults in spec.hpp):
//   conv2d           filters (required, > 0), kernel_size [3], stride [1],
//                    padding [same]: same | valid | an integer >= 0 padding every side,
//                    use_bias [true], init [glorot_uniform]
//   batch_norm       momentum [0.99] in [0, 1) (Keras' meaning), epsilon [0.001] > 0
//   relu             (none)
//   max_pool         pool_size [2], stride [pool_size]
//   dropout          rate [0.5] in [0, 1)
//   global_avg_pool  (none)
//   flatten          (none)
//   dense            units (required, > 0), use_bias [true], init [glorot_uniform]
// init is one of glorot_uniform, he_normal, he_uniform.
#pragma once

#include <filesystem>
#include <string>

#include "digitpipe/config.hpp"
#include "digitpipe/nn/spec.hpp"

namespace digitpipe::nn {

// Parses a network spec from `node` (a whole models/*.yaml document, or the block of a larger
// document that holds one) and checks it with infer_shapes().
// returns: a spec that infer_shapes() accepts.
// throws: framework::ConfigError listing every problem with file:line:col and key path: an
//         unknown layer type or option ("layers[3].filtres: unknown key"), a value of the
//         wrong type or range ("layers[3].filters: must be > 0, got -32"), a missing required
//         key; or, once those pass, the first shape problem, reported at the layer
//         ("layers[7]: layer 7 'dense_7' (dense): src is 1x64x7x7; dense needs ...").
// Thread-safety: none beyond ConfigNode's (one thread reads a document).
NetworkSpec parse_network_spec(const framework::ConfigNode& node);

// ConfigNode::load_file(file) then parse_network_spec().
// throws: framework::ConfigError as above, or naming the file when it cannot be read.
NetworkSpec load_network_spec(const std::filesystem::path& file);

// The spec as a YAML document in the format above (every option written out), so
// parse_network_spec(format_network_spec_yaml(s)) == s. Weight files carry it as their
// architecture.
// requires: spec's layers hold valid enum values (any spec built from the structs does).
std::string format_network_spec_yaml(const NetworkSpec& spec);

}  // namespace digitpipe::nn
