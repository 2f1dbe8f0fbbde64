// Stage plugin loading: find a stage's shared library by name, open it with Boost.DLL, check
// its ABI version, create the Stage and configure it.
//
// A plugin is `libdigitpipe_stage_<name>.so` exporting one C symbol,
// digitpipe_stage_descriptor_v1 (written by DIGITPIPE_DECLARE_STAGE in stage.hpp). The worker
// host finds the file named by its config (find_stage_plugin), loads it (load_stage_plugin),
// configures the stage from its `params` block (configure_stage), and only then registers
// with the broker. Every call into plugin code here runs inside try/catch while the library
// is held, and every Stage keeps its library loaded for as long as the object lives, so code
// is never unloaded under a live object (boostorg/dll example/tutorial8/refcounting_api.hpp).
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/config.hpp"
#include "digitpipe/stage.hpp"

namespace digitpipe::framework {

// A plugin could not be found, opened, validated, created or configured. what() always
// starts with the plugin file ("<file>: <detail>"), so a log line says which file is at fault.
// Copying never throws (the path is shared), as exceptions should.
class PluginError : public std::runtime_error {
 public:
    PluginError(const std::filesystem::path& file, std::string_view detail);

    // The plugin file the error is about (for a failed search, the file name looked for).
    const std::filesystem::path& file() const noexcept { return *file_; }

 private:
    std::shared_ptr<const std::filesystem::path> file_;
};

// The exported entry point every stage plugin must provide.
inline constexpr const char* kStageDescriptorSymbol = "digitpipe_stage_descriptor_v1";

// "libdigitpipe_stage_<name>.so" (Triton's libtriton_<backend>.so idea).
// requires: is_valid_stage_plugin_name(name); otherwise the result is meaningless.
std::string stage_plugin_file_name(std::string_view plugin_name);

// True when `plugin_name` is non-empty and only [a-z0-9_], so it can never name a path
// outside the search directories ("../x", "/abs", "a/b" are all rejected).
bool is_valid_stage_plugin_name(std::string_view plugin_name) noexcept;

// The plugin file for `plugin_name`: search_dirs[i] / stage_plugin_file_name(plugin_name) for
// the first i where that is an existing regular file (or a link to one). Directories are
// searched in order and used as given (a relative directory is relative to the current
// working directory).
// throws: PluginError for an invalid name, or when no directory holds the file; the message
//         lists every directory searched.
std::filesystem::path find_stage_plugin(std::string_view plugin_name,
                                        const std::vector<std::filesystem::path>& search_dirs);

// A created, not yet configured, stage and where it came from.
// Lifetime: `stage` holds the plugin's library; the library is unloaded only after the last
// copy of `stage` is released and the plugin's destroy() has run. Copies of `stage` may
// outlive the LoadedStage. `name` is the descriptor's name, copied out of the plugin.
struct LoadedStage {
    std::shared_ptr<Stage> stage;
    std::string name;
    std::filesystem::path file;
};

// Opens `file`, checks its descriptor (present, abi_version == DIGITPIPE_STAGE_ABI_VERSION,
// name, create and destroy set) and creates one Stage with the plugin's factory.
// throws: PluginError naming `file` when the library cannot be opened (with the loader's
//         text), lacks digitpipe_stage_descriptor_v1, was built for another ABI ("built for
//         stage ABI 2, this host speaks 1"), has a malformed descriptor, or its create()
//         throws or returns null (with the exception's what()).
// Thread-safety: may be called from any thread; the returned stage follows Stage's rules.
LoadedStage load_stage_plugin(const std::filesystem::path& file);

// Runs loaded.stage->configure(params, context), then params.finish() so every problem the
// stage recorded, and every key it never read, fails loudly.
// requires: loaded.stage is non-null and not yet configured.
// throws: ConfigError from the stage (its problems, with file:line:col, unchanged) or from
//         finish(); PluginError "<file>: configure failed: <what>" for any other exception.
void configure_stage(const LoadedStage& loaded, const ConfigNode& params, StageContext& context);

}  // namespace digitpipe::framework
