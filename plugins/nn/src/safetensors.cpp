// safetensors reading and writing. The reader trusts nothing in the file: every length, offset
// and shape is checked against the file's size before any byte is used, because weight files
// travel between machines and a corrupt one must fail loudly, not predict garbage.
#include "digitpipe/nn/safetensors.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "digitpipe/nn/spec_yaml.hpp"

namespace digitpipe::nn {
namespace {

// The format is little-endian and we copy bytes straight into floats.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

// The Python reference implementation refuses headers above 100 MB; so do we, so that a
// corrupt length cannot make us allocate gigabytes.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

struct DTypeInfo {
    DType dtype;
    std::string_view name;
    std::size_t size;
};
constexpr std::array<DTypeInfo, 10> kDTypes{{
    {DType::kF64, "F64", 8},
    {DType::kF32, "F32", 4},
    {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},
    {DType::kI64, "I64", 8},
    {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},
    {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
}};

std::string format_shape(const std::vector<std::int64_t>& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
    }
    return out + "]";
}

// Element count of a shape; false on a negative dim or overflow.
bool element_count(const std::vector<std::int64_t>& shape, std::uint64_t& count) {
    count = 1;
    for (std::int64_t d : shape) {
        if (d < 0 || __builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) {
            return false;
        }
    }
    return true;
}

[[noreturn]] void fail(const std::string& label, const std::string& message) {
    throw SafetensorsError(label + ": " + message);
}

std::string system_message(int error) {
    return std::generic_category().message(error);
}

// Writes all of `bytes` to fd, retrying short writes and EINTR.
bool write_all(int fd, std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

// Parses one tensor entry of the header; `data_size` bounds its offsets.
Tensor parse_entry(const std::string& label, const std::string& name, const nlohmann::json& entry,
                   std::uint64_t data_size, std::pair<std::uint64_t, std::uint64_t>& offsets) {
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object()) {
        fail(label, where + "entry must be a JSON object");
    }
    for (const auto& [key, value] : entry.items()) {
        if (key != "dtype" && key != "shape" && key != "data_offsets") {
            fail(label, where + "unknown key '" + key + "'");
        }
    }
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) {
        fail(label, where + "missing string 'dtype'");
    }
    const auto dtype_text = entry["dtype"].get<std::string>();
    const auto* info = std::find_if(kDTypes.begin(), kDTypes.end(),
                                    [&](const DTypeInfo& d) { return d.name == dtype_text; });
    if (info == kDTypes.end()) {
        fail(label, where + "unknown dtype '" + dtype_text + "'");
    }
    Tensor tensor;
    tensor.name = name;
    tensor.dtype = info->dtype;
    if (!entry.contains("shape") || !entry["shape"].is_array()) {
        fail(label, where + "missing array 'shape'");
    }
    for (const nlohmann::json& d : entry["shape"]) {
        // Dims above int64's range would not fit our shapes; no real tensor is that large.
        if (!d.is_number_unsigned() ||
            d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
            fail(label,
                 where + "shape " + entry["shape"].dump() + " must hold non-negative integers");
        }
        tensor.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
    }
    const nlohmann::json& range =
        entry.contains("data_offsets") ? entry["data_offsets"] : nlohmann::json();
    if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() ||
        !range[1].is_number_unsigned()) {
        fail(label, where + "data_offsets must be [begin, end] with non-negative integers");
    }
    offsets = {range[0].get<std::uint64_t>(), range[1].get<std::uint64_t>()};
    const std::string span_text = "data_offsets [" + std::to_string(offsets.first) + ", " +
                                  std::to_string(offsets.second) + "]";
    if (offsets.first > offsets.second) {
        fail(label, where + span_text + " end before they begin");
    }
    if (offsets.second > data_size) {
        fail(label, where + span_text + " run past the end of the data (" +
                        std::to_string(data_size) + " bytes: the file is truncated?)");
    }
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    const bool fits =
        element_count(tensor.shape, count) && !__builtin_mul_overflow(count, info->size, &bytes);
    if (!fits || bytes != offsets.second - offsets.first) {
        fail(label, where + "shape " + format_shape(tensor.shape) + " of " + dtype_text +
                        " needs " + (fits ? std::to_string(bytes) : "more than 2^64") +
                        " bytes but " + span_text + " hold " +
                        std::to_string(offsets.second - offsets.first));
    }
    return tensor;
}

}  // namespace

std::string sha256_hex(std::span<const std::byte> data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw SafetensorsError("SHA-256 failed in OpenSSL");
    }
    constexpr std::string_view kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 0xF];
    }
    return out;
}

std::string_view dtype_name(DType dtype) noexcept {
    for (const DTypeInfo& info : kDTypes) {
        if (info.dtype == dtype) {
            return info.name;
        }
    }
    return "?";
}

std::size_t dtype_size(DType dtype) noexcept {
    for (const DTypeInfo& info : kDTypes) {
        if (info.dtype == dtype) {
            return info.size;
        }
    }
    return 0;
}

const Tensor* SafetensorsFile::find(std::string_view name) const noexcept {
    for (const Tensor& tensor : tensors) {
        if (tensor.name == name) {
            return &tensor;
        }
    }
    return nullptr;
}

Tensor make_f32_tensor(std::string name, std::vector<std::int64_t> shape,
                       std::span<const float> values) {
    Tensor tensor{std::move(name), DType::kF32, std::move(shape), {}};
    const auto bytes = std::as_bytes(values);
    tensor.data.assign(bytes.begin(), bytes.end());
    return tensor;
}

std::vector<float> tensor_f32_values(const Tensor& tensor) {
    if (tensor.dtype != DType::kF32) {
        throw SafetensorsError("tensor '" + tensor.name + "' is " +
                               std::string(dtype_name(tensor.dtype)) + ", not F32");
    }
    std::vector<float> values(tensor.data.size() / sizeof(float));
    std::memcpy(values.data(), tensor.data.data(), values.size() * sizeof(float));
    return values;
}

std::vector<std::byte> serialize_safetensors(const std::vector<Tensor>& tensors,
                                             std::map<std::string, std::string> metadata) {
    // ordered_json keeps tensors in data order, which makes headers easy to read by eye.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    std::set<std::string> names;
    std::uint64_t offset = 0;
    for (const Tensor& tensor : tensors) {
        const std::string where = "tensor '" + tensor.name + "': ";
        if (tensor.name.empty() || tensor.name == kMetadataKey ||
            !names.insert(tensor.name).second) {
            throw SafetensorsError(where + "name is empty, reserved or used twice");
        }
        std::uint64_t count = 0;
        if (!element_count(tensor.shape, count) ||
            count * dtype_size(tensor.dtype) != tensor.data.size()) {
            throw SafetensorsError(where + "shape " + format_shape(tensor.shape) + " of " +
                                   std::string(dtype_name(tensor.dtype)) + " does not match " +
                                   std::to_string(tensor.data.size()) + " data bytes");
        }
        const std::uint64_t end = offset + tensor.data.size();
        header[tensor.name] = {{"dtype", dtype_name(tensor.dtype)},
                               {"shape", tensor.shape},
                               {"data_offsets", {offset, end}}};
        offset = end;
    }
    std::vector<std::byte> data;
    data.reserve(offset);
    for (const Tensor& tensor : tensors) {
        data.insert(data.end(), tensor.data.begin(), tensor.data.end());
    }
    metadata[std::string(kDataSha256Key)] = sha256_hex(data);
    header[std::string(kMetadataKey)] = metadata;

    std::string text = header.dump();
    // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned, as the
    // Python writer does; numpy can then view it without a copy.
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<std::byte> out(8 + text.size() + data.size());
    const std::uint64_t length = text.size();
    std::memcpy(out.data(), &length, 8);
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::memcpy(out.data() + 8 + text.size(), data.data(), data.size());
    return out;
}

void save_safetensors(const std::filesystem::path& file, const std::vector<Tensor>& tensors,
                      std::map<std::string, std::string> metadata) {
    const std::string label = file.string();
    std::vector<std::byte> bytes;
    try {
        bytes = serialize_safetensors(tensors, std::move(metadata));
    } catch (const SafetensorsError& e) {
        fail(label, e.what());
    }
    // The temporary lives in the target's folder so that rename() is atomic (same file system).
    std::string temp = label + ".tmp.XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        fail(label, "cannot create a temporary file: " + system_message(errno));
    }
    auto give_up = [&](const std::string& what) {
        const int error = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        fail(label, what + ": " + system_message(error));
    };
    // mkstemp creates 0600; weight files are meant to be shared like any other output.
    if (::fchmod(fd, 0644) != 0) {
        give_up("cannot set permissions of " + temp);
    }
    if (!write_all(fd, bytes)) {
        give_up("cannot write " + temp);
    }
    if (::fsync(fd) != 0) {
        give_up("cannot fsync " + temp);
    }
    if (::close(fd) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        fail(label, "cannot close " + temp + ": " + system_message(error));
    }
    if (::rename(temp.c_str(), label.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        fail(label, "cannot rename " + temp + " over it: " + system_message(error));
    }
    // The rename itself is durable only once the folder's entry is on disk.
    const std::filesystem::path folder =
        file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& label) {
    if (bytes.size() < 8) {
        fail(label, "truncated: " + std::to_string(bytes.size()) +
                        " bytes, less than the 8-byte header length");
    }
    std::uint64_t header_size = 0;
    std::memcpy(&header_size, bytes.data(), 8);
    if (header_size > kMaxHeaderBytes || header_size > bytes.size() - 8) {
        fail(label, "header length " + std::to_string(header_size) + " exceeds the file (" +
                        std::to_string(bytes.size()) + " bytes) or the 100 MB limit");
    }
    const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + 8),
                                       header_size);
    if (!header_text.starts_with('{')) {
        fail(label, "header does not start with '{': not a safetensors file?");
    }
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(header_text);
    } catch (const nlohmann::json::exception& e) {
        fail(label, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) {
        fail(label, "header is not a JSON object");
    }
    const std::span<const std::byte> data = bytes.subspan(8 + header_size);

    SafetensorsFile result;
    struct Placed {
        std::uint64_t begin;
        std::uint64_t end;
        std::size_t index;
    };
    std::vector<Placed> placed;
    for (const auto& [name, entry] : header.items()) {
        if (name == kMetadataKey) {
            if (!entry.is_object()) {
                fail(label, "__metadata__ must be a JSON object");
            }
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string()) {
                    fail(label, "__metadata__ '" + key + "' is not a string");
                }
                result.metadata[key] = value.get<std::string>();
            }
            continue;
        }
        std::pair<std::uint64_t, std::uint64_t> offsets;
        result.tensors.push_back(parse_entry(label, name, entry, data.size(), offsets));
        placed.push_back({offsets.first, offsets.second, result.tensors.size() - 1});
    }
    // Tensors must tile the data exactly: sorted by offset, each starts where the last ended.
    std::stable_sort(placed.begin(), placed.end(),
                     [](const Placed& a, const Placed& b) { return a.begin < b.begin; });
    std::uint64_t expected = 0;
    std::string previous = "the start of the data";
    for (const Placed& p : placed) {
        const std::string& name = result.tensors[p.index].name;
        if (p.begin != expected) {
            fail(label, "tensor '" + name + "': data_offsets [" + std::to_string(p.begin) + ", " +
                            std::to_string(p.end) + "] " +
                            (p.begin < expected ? "overlap" : "leave a gap after") + " " +
                            previous + ", which ends at " + std::to_string(expected));
        }
        expected = p.end;
        previous = "tensor '" + name + "'";
    }
    if (expected != data.size()) {
        fail(label, std::to_string(data.size() - expected) +
                        " bytes after the last tensor's data (trailing garbage)");
    }
    if (const auto it = result.metadata.find(std::string(kDataSha256Key));
        it != result.metadata.end()) {
        const std::string actual = sha256_hex(data);
        if (actual != it->second) {
            fail(label, "data checksum mismatch: header records " + it->second +
                            ", data hashes to " + actual + " (corrupt file)");
        }
    }
    std::vector<Tensor> ordered;
    ordered.reserve(placed.size());
    for (const Placed& p : placed) {
        Tensor tensor = std::move(result.tensors[p.index]);
        const auto* begin = data.data() + p.begin;
        tensor.data.assign(begin, begin + (p.end - p.begin));
        ordered.push_back(std::move(tensor));
    }
    result.tensors = std::move(ordered);
    return result;
}

namespace {

// A whole file's bytes. throws: SafetensorsError naming the file.
std::vector<std::byte> read_file(const std::filesystem::path& file) {
    const std::string label = file.string();
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        fail(label, "cannot open: " + system_message(errno));
    }
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(file, ec);
    if (ec) {
        fail(label, "cannot stat: " + ec.message());
    }
    std::vector<std::byte> bytes(size);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
        fail(label, "cannot read " + std::to_string(size) + " bytes");
    }
    return bytes;
}

}  // namespace

SafetensorsFile load_safetensors(const std::filesystem::path& file) {
    return parse_safetensors(read_file(file), file.string());
}

std::string file_sha256(const std::filesystem::path& file) {
    return sha256_hex(read_file(file));
}

std::vector<Tensor> network_tensors(const Network& network) {
    std::vector<Tensor> tensors;
    for (const Parameter& p : network.parameters()) {
        tensors.push_back(make_f32_tensor(p.name, p.dims, p.value));
    }
    return tensors;
}

void save_network(const std::filesystem::path& file, const Network& network,
                  std::map<std::string, std::string> metadata) {
    metadata.try_emplace(std::string(kArchitectureKey), format_network_spec_yaml(network.spec()));
    save_safetensors(file, network_tensors(network), std::move(metadata));
}

namespace {

// load_network_weights on a parsed file; `label` names it in messages.
std::map<std::string, std::string> copy_weights(SafetensorsFile loaded, const std::string& label,
                                                Network& network) {
    std::vector<std::string> problems;
    std::set<std::string> expected;
    std::vector<std::pair<Parameter*, const Tensor*>> copies;
    for (Parameter& p : network.parameters()) {
        expected.insert(p.name);
        const Tensor* tensor = loaded.find(p.name);
        if (tensor == nullptr) {
            problems.push_back("missing tensor '" + p.name + "' (shape " + format_shape(p.dims) +
                               ")");
        } else if (tensor->dtype != DType::kF32) {
            problems.push_back("tensor '" + p.name + "' is " +
                               std::string(dtype_name(tensor->dtype)) + ", expected F32");
        } else if (tensor->shape != p.dims) {
            problems.push_back("tensor '" + p.name + "' has shape " + format_shape(tensor->shape) +
                               ", the network expects " + format_shape(p.dims));
        } else {
            copies.emplace_back(&p, tensor);
        }
    }
    for (const Tensor& tensor : loaded.tensors) {
        if (!expected.contains(tensor.name)) {
            problems.push_back("extra tensor '" + tensor.name + "' (shape " +
                               format_shape(tensor.shape) + ") that network '" +
                               network.spec().name + "' does not have");
        }
    }
    if (!problems.empty()) {
        std::string message = label + ": weights do not fit network '" + network.spec().name + "':";
        for (const std::string& problem : problems) {
            message += "\n  " + problem;
        }
        throw SafetensorsError(message);
    }
    for (auto& [parameter, tensor] : copies) {
        std::memcpy(parameter->value.data(), tensor->data.data(), tensor->data.size());
        parameter->mark_updated();
    }
    return std::move(loaded.metadata);
}

}  // namespace

std::map<std::string, std::string> load_network_weights(const std::filesystem::path& file,
                                                        Network& network) {
    return copy_weights(load_safetensors(file), file.string(), network);
}

LoadedNetwork load_network(const std::filesystem::path& file, NetworkOptions options) {
    const std::string label = file.string();
    const auto bytes = read_file(file);
    SafetensorsFile parsed = parse_safetensors(bytes, label);
    const auto architecture = parsed.metadata.find(std::string(kArchitectureKey));
    if (architecture == parsed.metadata.end()) {
        fail(label, "no architecture in the metadata (not a digitpipe model)");
    }
    LoadedNetwork out;
    out.network =
        std::make_unique<Network>(parse_network_spec(framework::ConfigNode::parse(
                                      architecture->second, label + " (metadata architecture)")),
                                  options);
    out.metadata = copy_weights(std::move(parsed), label, *out.network);
    out.file_sha256 = sha256_hex(bytes);
    return out;
}

}  // namespace digitpipe::nn
