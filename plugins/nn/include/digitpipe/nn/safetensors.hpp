// Weight files in the safetensors format (https://github.com/huggingface/safetensors), so
// Python's safetensors package, or twenty lines of numpy, can read what digitpipe trains.
//
// Layout: an 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON
//   {"<tensor name>": {"dtype": "F32", "shape": [32, 1, 3, 3], "data_offsets": [begin, end]},
//    ..., "__metadata__": {"<key>": "<string value>", ...}}
// padded with spaces to a multiple of 8 bytes (as the Python writer does, so data is aligned);
// then the data: every tensor's bytes, little-endian, row-major, at [begin, end) counted from
// the end of the header, contiguous with no gap, overlap or trailing byte.
//
// digitpipe files also record kDataSha256Key in the metadata: the SHA-256 of the whole data
// section, checked on load, so a flipped bit is refused rather than silently predicted with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/nn/network.hpp"

namespace digitpipe::nn {

// Element types of the safetensors format that digitpipe reads and writes.
enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as spelled in safetensors headers.
std::string_view dtype_name(DType dtype) noexcept;
// Bytes per element.
std::size_t dtype_size(DType dtype) noexcept;

// Metadata key of the data checksum (lower-case hex SHA-256 of the data section).
inline constexpr std::string_view kDataSha256Key = "data_sha256";
// Metadata key under which save_network() records the architecture (spec_yaml.hpp format).
inline constexpr std::string_view kArchitectureKey = "architecture";

// One named tensor. Invariant (checked on save): data.size() == product(shape) *
// dtype_size(dtype).
struct Tensor {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> data;  // little-endian, row-major
};

// A loaded file: tensors in data order (by begin offset) and the metadata.
struct SafetensorsFile {
    std::vector<Tensor> tensors;
    std::map<std::string, std::string> metadata;

    // The tensor called `name`, or nullptr.
    const Tensor* find(std::string_view name) const noexcept;
};

// A file that cannot be written, read, or trusted. what() starts with the file's path (or the
// label given to parse_safetensors) and says what is wrong, e.g.
// "model.safetensors: tensor 'dense_22.bias': data_offsets [40, 48] overlap the previous
// tensor, which ends at 44".
class SafetensorsError : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

// Makes an F32 tensor from values.
// requires: values.size() == product(shape), every dim >= 0.
Tensor make_f32_tensor(std::string name, std::vector<std::int64_t> shape,
                       std::span<const float> values);
// The values of an F32 tensor.
// throws: SafetensorsError when tensor.dtype is not F32.
std::vector<float> tensor_f32_values(const Tensor& tensor);

// The complete file contents for `tensors` (written in the order given) and `metadata`,
// with kDataSha256Key set to the data's checksum (a caller's value for it is replaced).
// throws: SafetensorsError for an empty or duplicate tensor name, the name "__metadata__",
//         a negative dim, or data whose size does not match dtype and shape.
std::vector<std::byte> serialize_safetensors(const std::vector<Tensor>& tensors,
                                             std::map<std::string, std::string> metadata);

// Writes serialize_safetensors(...) atomically: to a temporary file in the same folder,
// fsync, rename over `file`, fsync the folder. A crash leaves either the old file or the new
// one, never a torn one; a failure removes the temporary file.
// throws: SafetensorsError (naming the file and the system error) or as serialize_safetensors.
void save_safetensors(const std::filesystem::path& file, const std::vector<Tensor>& tensors,
                      std::map<std::string, std::string> metadata);

// Parses and validates a whole file's bytes: header length within the file, JSON syntax,
// known dtypes, non-negative shapes whose size times the dtype size equals the offsets' span,
// offsets in bounds, contiguous from 0 to the end of the data (no gap, overlap or trailing
// byte), string-only metadata, and the data checksum when kDataSha256Key is present (files
// from other writers may lack it).
// throws: SafetensorsError starting with `label` and naming the problem (and the tensor).
SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& label);

// Reads `file` and parse_safetensors() it.
// throws: SafetensorsError naming the file, for an unreadable file or any problem above.
SafetensorsFile load_safetensors(const std::filesystem::path& file);

// Every Parameter of `network` (trainable ones and batch-norm running statistics) as an F32
// tensor named by Parameter::name ("<layer name>.<role>", e.g. "conv2d_0.weights",
// "batch_norm_1.running_var"): stable for a given spec, since layer names default to
// "<kind>_<index>".
std::vector<Tensor> network_tensors(const Network& network);

// Saves network_tensors(network) with `metadata`, adding kArchitectureKey (the spec as
// format_network_spec_yaml() writes it) unless the caller set it. Atomic as save_safetensors.
// throws: SafetensorsError naming the file.
void save_network(const std::filesystem::path& file, const Network& network,
                  std::map<std::string, std::string> metadata = {});

// Loads weights saved by save_network() into `network`, whose spec must match: every
// parameter needs a tensor of its name, dtype F32 and its exact shape, and the file may hold
// no other tensor. Nothing is written into the network unless everything matches; then every
// parameter is overwritten and mark_updated().
// returns: the file's metadata.
// throws: SafetensorsError naming the file and listing every missing tensor, extra tensor and
//         shape mismatch (with both shapes), or any load_safetensors() problem.
std::map<std::string, std::string> load_network_weights(const std::filesystem::path& file,
                                                        Network& network);

// A network rebuilt from a file save_network() wrote: the architecture from its metadata
// (kArchitectureKey), the weights as load_network_weights() checks them. The file is read and
// validated once.
struct LoadedNetwork {
    std::unique_ptr<Network> network;
    std::map<std::string, std::string> metadata;
    std::string file_sha256;  // of the whole file, lower-case hex
};

// throws: SafetensorsError naming the file (unreadable, malformed, no architecture, weights
//         that do not fit); framework::ConfigError for an architecture that does not parse;
//         SpecError or dnnl::error as Network's constructor.
LoadedNetwork load_network(const std::filesystem::path& file, NetworkOptions options = {});

// Lower-case hex SHA-256 of `bytes`, and of a whole file (throws SafetensorsError naming an
// unreadable file). Thread-safety: pure functions.
std::string sha256_hex(std::span<const std::byte> bytes);
std::string file_sha256(const std::filesystem::path& file);

}  // namespace digitpipe::nn
