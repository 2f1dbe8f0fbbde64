// Stage plugin loading (see plugin.hpp): search by name, Boost.DLL open, descriptor and ABI
// checks, the refcounted Stage handle, and the configure call site.
//
// The one rule that shapes this file (boostorg/dll doc/missuses.qbk): nothing that came out of
// a plugin may outlive its library. That covers Stage objects (their deleter holds the
// library) and also exceptions thrown by plugin code, whose vtables live in the plugin: they
// are caught while the library is held and replaced by exceptions built here.
#include "digitpipe/plugin.hpp"

#include <dlfcn.h>

#include <system_error>
#include <utility>

#include <boost/dll/shared_library.hpp>

namespace digitpipe::framework {
namespace {

constexpr std::string_view kPluginFilePrefix = "libdigitpipe_stage_";
constexpr std::string_view kPluginFileSuffix = ".so";

using EntryPoint = const digitpipe_stage_descriptor*();

// The loader's own words for the last failure (e.g. "invalid ELF header", "undefined symbol:
// ..."). Boost.DLL 1.74 reduces every dlopen failure to bad_file_descriptor but leaves
// dlerror() untouched, and that text is what tells a person what is wrong with the file.
std::string loader_error_text(const boost::dll::fs::error_code& ec) {
    if (const char* text = ::dlerror(); text != nullptr) return text;
    return ec.message();
}

std::string join_dirs(const std::vector<std::filesystem::path>& dirs) {
    if (dirs.empty()) return "(no directories given)";
    std::string joined;
    for (const auto& dir : dirs) {
        if (!joined.empty()) joined += ", ";
        joined += dir.empty() ? std::string(".") : dir.string();
    }
    return joined;
}

}  // namespace

PluginError::PluginError(const std::filesystem::path& file, std::string_view detail)
    : std::runtime_error(file.string() + ": " + std::string(detail)),
      file_(std::make_shared<const std::filesystem::path>(file)) {}

std::string stage_plugin_file_name(std::string_view plugin_name) {
    std::string name(kPluginFilePrefix);
    name += plugin_name;
    name += kPluginFileSuffix;
    return name;
}

bool is_valid_stage_plugin_name(std::string_view plugin_name) noexcept {
    if (plugin_name.empty()) return false;
    for (const char c : plugin_name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::filesystem::path find_stage_plugin(std::string_view plugin_name,
                                        const std::vector<std::filesystem::path>& search_dirs) {
    const std::string file_name = stage_plugin_file_name(plugin_name);
    if (!is_valid_stage_plugin_name(plugin_name)) {
        throw PluginError(file_name, "invalid stage plugin name '" + std::string(plugin_name) +
                                         "': expected one or more of [a-z0-9_] (searched: " +
                                         join_dirs(search_dirs) + ")");
    }
    for (const auto& dir : search_dirs) {
        const std::filesystem::path candidate = dir / file_name;
        // An unreadable directory is the same as one without the file: keep looking, and the
        // final message lists it among the directories searched.
        std::error_code ec;
        if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
    }
    throw PluginError(file_name, "stage plugin '" + std::string(plugin_name) +
                                     "' not found; searched: " + join_dirs(search_dirs));
}

LoadedStage load_stage_plugin(const std::filesystem::path& file) {
    auto library = std::make_shared<boost::dll::shared_library>();
    boost::dll::fs::error_code ec;
    // rtld_now: an unresolved symbol fails here, with the loader's message, rather than as a
    // crash on the first call into the stage. rtld_local: plugins do not see each other.
    library->load(boost::dll::fs::path(file.native()), ec,
                  boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    if (ec || !library->is_loaded()) {
        throw PluginError(file, "cannot load: " + loader_error_text(ec));
    }
    if (!library->has(kStageDescriptorSymbol)) {
        throw PluginError(file, std::string("missing symbol ") + kStageDescriptorSymbol +
                                    " (not a digitpipe stage plugin, or built without "
                                    "DIGITPIPE_DECLARE_STAGE)");
    }

    const digitpipe_stage_descriptor* descriptor =
        library->get<EntryPoint>(kStageDescriptorSymbol)();
    if (descriptor == nullptr) {
        throw PluginError(file, std::string(kStageDescriptorSymbol) + "() returned null");
    }
    // abi_version is the descriptor's first field in every ABI version, so it is safe to read
    // before we know the rest of the layout matches ours.
    if (descriptor->abi_version != DIGITPIPE_STAGE_ABI_VERSION) {
        throw PluginError(file, "built for stage ABI " + std::to_string(descriptor->abi_version) +
                                    ", this host speaks " +
                                    std::to_string(DIGITPIPE_STAGE_ABI_VERSION) +
                                    " (rebuild the plugin against this framework)");
    }
    if (descriptor->name == nullptr || descriptor->name[0] == '\0') {
        throw PluginError(file, "malformed descriptor: empty name");
    }
    if (descriptor->create == nullptr || descriptor->destroy == nullptr) {
        throw PluginError(file, std::string("malformed descriptor for stage '") +
                                    descriptor->name + "': null " +
                                    (descriptor->create == nullptr ? "create" : "destroy"));
    }

    LoadedStage loaded;
    loaded.name = descriptor->name;  // copied: the plugin's string dies with the library
    loaded.file = file;

    Stage* raw = nullptr;
    try {
        raw = descriptor->create();
    } catch (const std::exception& e) {
        throw PluginError(file, "create failed: " + std::string(e.what()));
    } catch (...) {
        throw PluginError(file, "create failed: unknown exception (not a std::exception)");
    }
    if (raw == nullptr) throw PluginError(file, "create returned null");

    // The deleter owns a reference to the library, so the plugin's code stays mapped until
    // destroy() has run, however long copies of the stage live (refcounting_api.hpp idea).
    // If make-shared bookkeeping throws, shared_ptr calls the deleter, so nothing leaks.
    loaded.stage = std::shared_ptr<Stage>(
        raw, [library, destroy = descriptor->destroy](Stage* stage) noexcept { destroy(stage); });
    return loaded;
}

void configure_stage(const LoadedStage& loaded, const ConfigNode& params, StageContext& context) {
    try {
        loaded.stage->configure(params, context);
    } catch (const ConfigError& e) {
        // Rethrown as a copy built here, not with `throw;`: the original's vtable may live in
        // the plugin, and a caller that drops the stage while unwinding would unload it.
        throw ConfigError(e.problems());
    } catch (const std::exception& e) {
        throw PluginError(loaded.file, "configure failed: " + std::string(e.what()));
    } catch (...) {
        throw PluginError(loaded.file,
                          "configure failed: unknown exception (not a std::exception)");
    }
    params.finish();
}

}  // namespace digitpipe::framework
