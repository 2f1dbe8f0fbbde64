// PNG and JPEG decoding and PNG encoding (see image.hpp).
//
// Both C libraries report errors by jumping, and a jump over a C++ frame with live destructors
// is undefined behaviour. libpng's simplified API (png_image_*) keeps its setjmp inside libpng
// and returns 0 with a message, so PNG needs nothing special. libjpeg calls error_exit, which by
// default calls exit(); here error_exit longjmps back to a setjmp in a small "trampoline"
// function that runs a few libjpeg calls and owns no object with a destructor, so the jump skips
// only libjpeg's C frames and the trampoline itself (the C++ rule: longjmp is defined when a
// throw to the same point would run no destructors). The C++ caller then throws ImageError, and
// the RAII session releases libjpeg's memory on every path.
#include "digitpipe/infer/image.hpp"

// jpeglib.h uses FILE and size_t without including their headers.
#include <cstdio>
#include <cstdlib>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>
// After jpeglib.h: which warning codes exist depends on jconfig.h's arithmetic-coding macros.
#include <jerror.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstring>
#include <string>
#include <utility>

namespace digitpipe::infer {
namespace {

constexpr std::array<std::uint8_t, 8> kPngSignature = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
constexpr std::array<std::uint8_t, 3> kJpegSignature = {0xFF, 0xD8, 0xFF};
// How many leading bytes an "unknown format" message shows: enough to recognise GIF8, RIFF
// (WebP), BM.. (BMP) or "<svg" by eye.
constexpr std::size_t kMagicBytesShown = 4;
// PNG: signature (8), IHDR length (4) and type (4), then width and height (4 each, big-endian).
// Then 5 more IHDR bytes and the chunk's CRC-32, computed over type and data.
constexpr std::size_t kPngIhdrTypeOffset = 12;
constexpr std::size_t kPngWidthOffset = 16;
constexpr std::size_t kPngHeightOffset = 20;
constexpr std::size_t kPngIhdrCrcOffset = 29;
constexpr std::size_t kPngHeaderBytes = 33;
// A progressive JPEG re-reads its whole coefficient buffer for every scan; real files have about
// ten scans, and a crafted one with thousands turns a few kilobytes into minutes of CPU.
// (libjpeg-turbo's fuzz targets stop at 500; we are stricter still.)
constexpr int kMaxJpegScans = 256;
// EXIF: APP1 payload starts "Exif\0\0", then a TIFF header; tag 0x0112 is Orientation (SHORT).
constexpr unsigned kExifMarker = JPEG_APP0 + 1;
constexpr unsigned kExifMaxMarkerBytes = 0xFFFF;
constexpr std::uint32_t kTiffMagic = 42;
constexpr std::uint32_t kExifOrientationTag = 0x0112;
constexpr std::uint32_t kTiffTypeShort = 3;
constexpr std::size_t kTiffEntryBytes = 12;

std::string first_bytes_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string hex;
    for (std::size_t i = 0; i < std::min(bytes.size(), kMagicBytesShown); ++i) {
        if (i > 0) hex += ' ';
        hex += kHex[bytes[i] >> 4];
        hex += kHex[bytes[i] & 0x0F];
    }
    return hex;
}

template <std::size_t N>
bool starts_with(std::span<const std::uint8_t> bytes, const std::array<std::uint8_t, N>& magic) {
    return bytes.size() >= N && std::equal(magic.begin(), magic.end(), bytes.begin());
}

// True when `bytes` is shorter than `magic` and agrees with it as far as it goes: a file cut
// off inside its signature is truncated, not of an unknown kind.
template <std::size_t N>
bool is_cut_short(std::span<const std::uint8_t> bytes, const std::array<std::uint8_t, N>& magic) {
    return bytes.size() < N && std::equal(bytes.begin(), bytes.end(), magic.begin());
}

std::uint32_t read_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

// Refuses dimensions over the limits. Called with the header's values, before any pixel
// buffer exists.
void check_dimensions(const char* format, std::uint64_t width, std::uint64_t height,
                      const DecodeLimits& limits) {
    if (width > static_cast<std::uint64_t>(limits.max_width) ||
        height > static_cast<std::uint64_t>(limits.max_height)) {
        throw ImageError(std::string(format) + " is " + std::to_string(width) + "x" +
                         std::to_string(height) + ", larger than the " +
                         std::to_string(limits.max_width) + "x" +
                         std::to_string(limits.max_height) + " limit");
    }
    // Both factors fit in 32 bits here, so the product cannot overflow.
    if (width * height > limits.max_pixels) {
        throw ImageError(std::string(format) + " is " + std::to_string(width) + "x" +
                         std::to_string(height) + " = " + std::to_string(width * height) +
                         " pixels, more than the " + std::to_string(limits.max_pixels) +
                         "-pixel limit");
    }
}

// ---- PNG -----------------------------------------------------------------------------------

// Releases libpng's state on every path. png_image_free is a no-op once libpng has released it
// itself (it does at the end of png_image_finish_read and after a failed begin).
class PngImageGuard {
 public:
    explicit PngImageGuard(png_image& image) noexcept : image_(image) {}
    ~PngImageGuard() { png_image_free(&image_); }
    PngImageGuard(const PngImageGuard&) = delete;
    PngImageGuard& operator=(const PngImageGuard&) = delete;

 private:
    png_image& image_;
};

// libpng's messages for running out of input (the memory reader's "read beyond end of data",
// the IDAT decoder's "Not enough image data" and zlib's "Truncated compressed data in IDAT").
bool is_truncation_message(const std::string& message) {
    return message.find("end of data") != std::string::npos ||
           message.find("Not enough") != std::string::npos ||
           message.find("Truncated") != std::string::npos;
}

[[noreturn]] void throw_png_error(const png_image& image) {
    const std::string message = image.message[0] != '\0' ? image.message : "unknown libpng error";
    throw ImageError((is_truncation_message(message) ? "truncated PNG: " : "invalid PNG: ") +
                     message);
}

Image decode_png(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
    // Read the IHDR dimensions ourselves first, so a file that claims to be huge is refused
    // whatever follows its header (even if it is cut off right after it). Only a header whose
    // CRC holds is believed: a damaged one is libpng's to report ("IHDR: CRC error").
    if (bytes.size() >= kPngHeaderBytes &&
        std::memcmp(bytes.data() + kPngIhdrTypeOffset, "IHDR", 4) == 0 &&
        crc32(0L, bytes.data() + kPngIhdrTypeOffset,
              static_cast<uInt>(kPngIhdrCrcOffset - kPngIhdrTypeOffset)) ==
            read_be32(bytes.data() + kPngIhdrCrcOffset)) {
        check_dimensions("PNG", read_be32(bytes.data() + kPngWidthOffset),
                         read_be32(bytes.data() + kPngHeightOffset), limits);
    }
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    const PngImageGuard guard(png);
    if (png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()) == 0) {
        throw_png_error(png);
    }
    check_dimensions("PNG", png.width, png.height, limits);

    // Keep only "has colour" and "has alpha": dropping COLORMAP expands a palette, dropping
    // LINEAR asks for 8-bit sRGB samples, and no BGR/AFIRST flag keeps the RGBA order.
    png.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
    // Without this a 16-bit file lacking gAMA/sRGB is taken as linear light and converted, so a
    // 16-bit scan at 50% grey would come out as 186, not 128 (measured). Such files are almost
    // always sRGB-encoded, like their 8-bit cousins.
    png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;

    Image image;
    image.width = static_cast<int>(png.width);
    image.height = static_cast<int>(png.height);
    image.channels = static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(png.format));
    image.samples.resize(PNG_IMAGE_SIZE(png));
    if (png_image_finish_read(&png, /*background=*/nullptr, image.samples.data(),
                              /*row_stride=*/0, /*colormap=*/nullptr) == 0) {
        throw_png_error(png);
    }
    return image;
}

// ---- JPEG ----------------------------------------------------------------------------------

// libjpeg's error manager, extended. `pub` must stay the first member: libjpeg hands callbacks
// a pointer to it, which is then also a pointer to the whole (standard-layout) struct.
struct JpegErrorManager {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    bool truncated;
    char message[JMSG_LENGTH_MAX];
};

JpegErrorManager& error_manager(j_common_ptr cinfo) {
    return *reinterpret_cast<JpegErrorManager*>(cinfo->err);
}

// error_exit: keep libjpeg's message and jump back to the running trampoline.
[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
    JpegErrorManager& err = error_manager(cinfo);
    (*cinfo->err->format_message)(cinfo, err.message);
    std::longjmp(err.jump, 1);
}

// emit_message: libjpeg only warns about damaged data and carries on, filling what is missing
// with grey. A truncated or corrupt image would then reach the model as a plausible-looking
// picture, so these warnings fail the decode; the harmless ones (extraneous bytes between
// markers, unknown JFIF revision, Adobe transform codes) are tolerated.
void jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) return;  // trace messages
    switch (cinfo->err->msg_code) {
        case JWRN_JPEG_EOF:
            error_manager(cinfo).truncated = true;
            jpeg_fail(cinfo);
        case JWRN_HIT_MARKER:
        case JWRN_HUFF_BAD_CODE:
        case JWRN_ARITH_BAD_CODE:
        case JWRN_MUST_RESYNC:
        case JWRN_NOT_SEQUENTIAL:
            jpeg_fail(cinfo);
        default:
            ++cinfo->err->num_warnings;
    }
}

// output_message: a server never prints a library's messages to stderr.
void jpeg_output_message(j_common_ptr /*cinfo*/) {}

// progress_monitor: refuses files with more scans than any real encoder writes.
void jpeg_check_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxJpegScans) {
        JpegErrorManager& err = error_manager(cinfo);
        std::snprintf(err.message, sizeof err.message, "more than %d progressive scans",
                      kMaxJpegScans);
        std::longjmp(err.jump, 1);
    }
}

// One decompression: libjpeg's state and its error and progress managers, released on every
// path. The struct is zeroed first, so jpeg_destroy_decompress is safe even if
// jpeg_create_decompress failed part-way (it frees nothing while cinfo.mem is null).
struct JpegSession {
    jpeg_decompress_struct cinfo{};
    JpegErrorManager err{};
    jpeg_progress_mgr progress{};

    JpegSession() noexcept {
        cinfo.err = jpeg_std_error(&err.pub);
        err.pub.error_exit = jpeg_fail;
        err.pub.emit_message = jpeg_emit_message;
        err.pub.output_message = jpeg_output_message;
        progress.progress_monitor = jpeg_check_progress;
    }
    ~JpegSession() { jpeg_destroy_decompress(&cinfo); }
    JpegSession(const JpegSession&) = delete;
    JpegSession& operator=(const JpegSession&) = delete;
};

// The trampolines: each runs libjpeg calls under its own setjmp and owns nothing with a
// destructor (see the file comment). They return false when libjpeg failed; the message is in
// session.err. GCC never inlines a function that calls setjmp, so none of them can be merged
// into a caller that has destructors.
bool try_create(JpegSession& session) {
    if (setjmp(session.err.jump) != 0) return false;
    jpeg_create_decompress(&session.cinfo);
    return true;
}

bool try_read_header(JpegSession& session, const std::uint8_t* data, std::size_t size) {
    if (setjmp(session.err.jump) != 0) return false;
    jpeg_mem_src(&session.cinfo, data, size);
    jpeg_save_markers(&session.cinfo, kExifMarker, kExifMaxMarkerBytes);
    jpeg_read_header(&session.cinfo, /*require_image=*/TRUE);
    return true;
}

bool try_start(JpegSession& session) {
    if (setjmp(session.err.jump) != 0) return false;
    jpeg_start_decompress(&session.cinfo);
    return true;
}

bool try_read_rows(JpegSession& session, std::uint8_t* dst, std::size_t row_bytes) {
    if (setjmp(session.err.jump) != 0) return false;
    while (session.cinfo.output_scanline < session.cinfo.output_height) {
        JSAMPROW row = dst + session.cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&session.cinfo, &row, 1);
    }
    return true;
}

bool try_finish(JpegSession& session) {
    if (setjmp(session.err.jump) != 0) return false;
    jpeg_finish_decompress(&session.cinfo);
    return true;
}

[[noreturn]] void throw_jpeg_error(const JpegSession& session) {
    throw ImageError((session.err.truncated ? "truncated JPEG: " : "invalid JPEG: ") +
                     std::string(session.err.message));
}

// The EXIF orientation (1..8) from the first APP1 "Exif" marker; 1 (as stored) when there is
// none or it is malformed: a broken EXIF block must not cost the user their image.
int exif_orientation(jpeg_saved_marker_ptr marker) {
    static constexpr char kExifHeader[] = {'E', 'x', 'i', 'f', '\0', '\0'};
    for (; marker != nullptr; marker = marker->next) {
        if (marker->marker != kExifMarker || marker->data_length < sizeof kExifHeader + 8 ||
            std::memcmp(marker->data, kExifHeader, sizeof kExifHeader) != 0) {
            continue;
        }
        const std::uint8_t* tiff = marker->data + sizeof kExifHeader;
        const std::size_t size = marker->data_length - sizeof kExifHeader;
        bool little_endian = false;
        if (tiff[0] == 'I' && tiff[1] == 'I') {
            little_endian = true;
        } else if (!(tiff[0] == 'M' && tiff[1] == 'M')) {
            return 1;
        }
        auto u16 = [&](std::size_t at) -> std::uint32_t {
            return little_endian ? tiff[at] | (tiff[at + 1] << 8) : (tiff[at] << 8) | tiff[at + 1];
        };
        auto u32 = [&](std::size_t at) -> std::uint32_t {
            return little_endian ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
        };
        if (u16(2) != kTiffMagic) return 1;
        const std::size_t ifd = u32(4);
        if (ifd > size || size - ifd < 2) return 1;
        const std::size_t entries = u16(ifd);
        for (std::size_t i = 0; i < entries; ++i) {
            const std::size_t entry = ifd + 2 + i * kTiffEntryBytes;
            if (entry + kTiffEntryBytes > size) return 1;
            if (u16(entry) != kExifOrientationTag) continue;
            const std::uint32_t value = u16(entry + 8);  // a SHORT sits left-justified
            return u16(entry + 2) == kTiffTypeShort && value >= 1 && value <= 8
                       ? static_cast<int>(value)
                       : 1;
        }
        return 1;
    }
    return 1;
}

// The stored pixel shown at (x, y) under an EXIF orientation, for a stored w x h image.
std::pair<int, int> stored_pixel(int orientation, int x, int y, int w, int h) {
    switch (orientation) {
        case 2:
            return {w - 1 - x, y};
        case 3:
            return {w - 1 - x, h - 1 - y};
        case 4:
            return {x, h - 1 - y};
        case 5:
            return {y, x};
        case 6:
            return {y, h - 1 - x};
        case 7:
            return {w - 1 - y, h - 1 - x};
        case 8:
            return {w - 1 - y, x};
        default:
            return {x, y};
    }
}

// Turns the stored pixels into the orientation EXIF says a viewer shows (TIFF 6.0 tag 274:
// 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate
// 90 counter-clockwise).
Image apply_orientation(Image stored, int orientation) {
    if (orientation == 1) return stored;
    const int w = stored.width;
    const int h = stored.height;
    const int c = stored.channels;
    Image out;
    out.channels = c;
    out.width = orientation >= 5 ? h : w;
    out.height = orientation >= 5 ? w : h;
    out.samples.resize(stored.samples.size());
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            const auto [sx, sy] = stored_pixel(orientation, x, y, w, h);
            const auto* src = &stored.samples[(static_cast<std::size_t>(sy) * w + sx) * c];
            std::copy_n(src, c, &out.samples[(static_cast<std::size_t>(y) * out.width + x) * c]);
        }
    }
    return out;
}

// CMYK (4 samples) to RGB (3) in place. Adobe's encoders, the only common source of CMYK JPEG,
// store the samples inverted (0 = full ink), which libjpeg flags as saw_Adobe_marker.
void convert_cmyk_to_rgb(Image& image, bool inverted) {
    const std::size_t pixels = static_cast<std::size_t>(image.width) * image.height;
    for (std::size_t i = 0; i < pixels; ++i) {
        const std::uint8_t* cmyk = &image.samples[i * 4];
        const unsigned k = inverted ? cmyk[3] : 255U - cmyk[3];
        for (int j = 0; j < 3; ++j) {
            const unsigned ink = inverted ? cmyk[j] : 255U - cmyk[j];
            image.samples[i * 3 + j] = static_cast<std::uint8_t>((ink * k + 127U) / 255U);
        }
    }
    image.samples.resize(pixels * 3);
    image.channels = 3;
}

Image decode_jpeg(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
    JpegSession session;
    if (!try_create(session) || !try_read_header(session, bytes.data(), bytes.size())) {
        throw_jpeg_error(session);
    }
    jpeg_decompress_struct& cinfo = session.cinfo;
    const int orientation = exif_orientation(cinfo.marker_list);
    const bool swaps_axes = orientation >= 5;
    check_dimensions("JPEG", swaps_axes ? cinfo.image_height : cinfo.image_width,
                     swaps_axes ? cinfo.image_width : cinfo.image_height, limits);

    bool cmyk = false;
    switch (cinfo.jpeg_color_space) {
        case JCS_GRAYSCALE:
            cinfo.out_color_space = JCS_GRAYSCALE;
            break;
        case JCS_CMYK:
        case JCS_YCCK:
            // libjpeg converts YCCK to CMYK but not CMYK to RGB; that step is ours.
            cinfo.out_color_space = JCS_CMYK;
            cmyk = true;
            break;
        default:
            cinfo.out_color_space = JCS_RGB;
            break;
    }
    cinfo.progress = &session.progress;
    if (!try_start(session)) throw_jpeg_error(session);

    Image image;
    image.width = static_cast<int>(cinfo.output_width);
    image.height = static_cast<int>(cinfo.output_height);
    image.channels = cinfo.output_components;
    const std::size_t row_bytes = static_cast<std::size_t>(image.width) * image.channels;
    image.samples.resize(row_bytes * image.height);
    if (!try_read_rows(session, image.samples.data(), row_bytes) || !try_finish(session)) {
        throw_jpeg_error(session);
    }
    if (cmyk) convert_cmyk_to_rgb(image, cinfo.saw_Adobe_marker != FALSE);
    return apply_orientation(std::move(image), orientation);
}

void check_image(const Image& image) {
    if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
        image.samples.size() !=
            static_cast<std::size_t>(image.width) * image.height * image.channels) {
        throw ImageError("cannot encode a " + std::to_string(image.width) + "x" +
                         std::to_string(image.height) + "x" + std::to_string(image.channels) +
                         " image from " + std::to_string(image.samples.size()) + " samples");
    }
}

}  // namespace

Image decode_image(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
    if (bytes.empty()) throw ImageError("empty image: 0 bytes");
    if (bytes.size() > limits.max_bytes) {
        throw ImageError("image is " + std::to_string(bytes.size()) + " bytes, larger than the " +
                         std::to_string(limits.max_bytes) + "-byte limit");
    }
    if (starts_with(bytes, kPngSignature)) return decode_png(bytes, limits);
    if (starts_with(bytes, kJpegSignature)) return decode_jpeg(bytes, limits);
    if (is_cut_short(bytes, kPngSignature) || is_cut_short(bytes, kJpegSignature)) {
        throw ImageError(
            std::string(is_cut_short(bytes, kPngSignature) ? "truncated PNG" : "truncated JPEG") +
            ": only " + std::to_string(bytes.size()) + " bytes, the signature is cut off");
    }
    throw ImageError("not a PNG or JPEG image (first bytes " + first_bytes_hex(bytes) + ")");
}

std::vector<std::uint8_t> encode_png(const Image& image) {
    check_image(image);
    static constexpr std::array<png_uint_32, 5> kFormats = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA,
                                                            PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(image.width);
    png.height = static_cast<png_uint_32>(image.height);
    png.format = kFormats[static_cast<std::size_t>(image.channels)];
    const PngImageGuard guard(png);
    // A bound on the encoded size, so one compression pass suffices.
    png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(png);
    std::vector<std::uint8_t> out(size);
    if (png_image_write_to_memory(&png, out.data(), &size, /*convert_to_8bit=*/0,
                                  image.samples.data(), /*row_stride=*/0,
                                  /*colormap=*/nullptr) == 0) {
        throw ImageError(std::string("PNG encoding failed: ") + png.message);
    }
    out.resize(size);
    return out;
}

std::vector<std::uint8_t> encode_png_gray(std::span<const std::uint8_t> pixels, int width,
                                          int height) {
    Image image;
    image.width = width;
    image.height = height;
    image.channels = 1;
    image.samples.assign(pixels.begin(), pixels.end());
    return encode_png(image);
}

}  // namespace digitpipe::infer
