// Writes the seed inputs of tests/fuzz/corpus/ that are made rather than copied: small PNG and
// JPEG files of a drawn "7" in the variants the decoders handle (gray, gray + alpha, RGB, RGBA,
// palette, 16-bit, progressive, arithmetic-coded, restart markers, CMYK, EXIF orientation), a
// few broken ones, and envelope bodies (valid and invalid; frames separated by 0x1E, see
// fuzz_envelope.cpp). Deterministic: the same files every run. The config seeds are the
// deployments in configs/ plus hand-written snippets (see run.sh and README.md).
// Usage: make_corpus CORPUS_DIR   (build: cmake --build build-fuzz --target fuzz_make_corpus)
#include <cstdio>
#include <cstdlib>

#include <jpeglib.h>
#include <png.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

void write_file(const fs::path& path, const void* data, std::size_t size) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_file(const fs::path& path, const Bytes& bytes) {
    write_file(path, bytes.data(), bytes.size());
}

void write_file(const fs::path& path, const std::string& text) {
    write_file(path, text.data(), text.size());
}

// A dark "7" on a light background, `channels` samples per pixel (alpha: ink opaque,
// background transparent).
Bytes draw_seven(int width, int height, int channels) {
    Bytes samples(static_cast<std::size_t>(width) * height * channels);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const bool top =
                y >= height / 5 && y < height / 5 + 2 && x > width / 4 && x < 3 * width / 4;
            const int diagonal = 3 * width / 4 - (y - height / 5) * width / (2 * height);
            const bool stem =
                y >= height / 5 && y < 4 * height / 5 && x >= diagonal - 1 && x <= diagonal + 1;
            const bool ink = top || stem;
            std::uint8_t* p = &samples[(static_cast<std::size_t>(y) * width + x) * channels];
            const bool alpha = channels == 2 || channels == 4;
            const int colours = alpha ? channels - 1 : channels;
            for (int c = 0; c < colours; ++c) p[c] = ink ? 20 : 235;
            if (alpha) p[channels - 1] = ink ? 255 : 0;
        }
    }
    return samples;
}

Bytes encode_png(const Bytes& samples, int width, int height, png_uint_32 format,
                 const Bytes& colormap = {}) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = format;
    image.colormap_entries = static_cast<png_uint_32>(colormap.size() / 4);  // RGBA entries
    const void* map = colormap.empty() ? nullptr : colormap.data();
    png_alloc_size_t size = 0;
    if (png_image_write_to_memory(&image, nullptr, &size, 0, samples.data(), 0, map) == 0) {
        throw std::runtime_error(std::string("png size: ") + image.message);
    }
    Bytes out(size);
    if (png_image_write_to_memory(&image, out.data(), &size, 0, samples.data(), 0, map) == 0) {
        throw std::runtime_error(std::string("png: ") + image.message);
    }
    out.resize(size);
    return out;
}

struct JpegOptions {
    int channels = 1;  // 1 gray, 3 RGB, 4 CMYK (Adobe, inverted)
    bool progressive = false;
    bool arithmetic = false;
    int restart_rows = 0;
    int quality = 75;
    int exif_orientation = 0;  // 0: no EXIF block
};

Bytes encode_jpeg(const Bytes& samples, int width, int height, const JpegOptions& options) {
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr err{};
    cinfo.err = jpeg_std_error(&err);  // exits on error: fine for a generator
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(width);
    cinfo.image_height = static_cast<JDIMENSION>(height);
    cinfo.input_components = options.channels;
    cinfo.in_color_space = options.channels == 1   ? JCS_GRAYSCALE
                           : options.channels == 3 ? JCS_RGB
                                                   : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, options.quality, TRUE);
    if (options.progressive) jpeg_simple_progression(&cinfo);
    cinfo.arith_code = options.arithmetic ? TRUE : FALSE;
    cinfo.restart_in_rows = options.restart_rows;
    jpeg_start_compress(&cinfo, TRUE);
    if (options.exif_orientation != 0) {
        // "Exif\0\0", big-endian TIFF header, one IFD with one entry: Orientation SHORT.
        const std::uint8_t o = static_cast<std::uint8_t>(options.exif_orientation);
        const std::uint8_t exif[] = {'E',  'x',  'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                                     0x01, 0x12, 0,   3,   0, 0, 0,   1,   0, o,  0, 0, 0, 0, 0, 0};
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, exif, sizeof exif);
    }
    const int row_bytes = width * options.channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(&samples[cinfo.next_scanline * row_bytes]);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    Bytes out(buffer, buffer + size);
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    return out;
}

Bytes cut(Bytes bytes, std::size_t keep) {
    bytes.resize(std::min(keep, bytes.size()));
    return bytes;
}

void write_images(const fs::path& dir) {
    write_file(dir / "png-gray-28.png", encode_png(draw_seven(28, 28, 1), 28, 28, PNG_FORMAT_GRAY));
    write_file(dir / "png-ga-32x24.png", encode_png(draw_seven(32, 24, 2), 32, 24, PNG_FORMAT_GA));
    write_file(dir / "png-rgb-20x36.png",
               encode_png(draw_seven(20, 36, 3), 20, 36, PNG_FORMAT_RGB));
    write_file(dir / "png-rgba-40.png", encode_png(draw_seven(40, 40, 4), 40, 40, PNG_FORMAT_RGBA));
    // 16-bit: linear samples, two bytes each.
    {
        const Bytes eight = draw_seven(24, 24, 1);
        std::vector<std::uint16_t> wide(eight.begin(), eight.end());
        for (auto& v : wide) v = static_cast<std::uint16_t>(v * 257);
        Bytes raw(reinterpret_cast<const std::uint8_t*>(wide.data()),
                  reinterpret_cast<const std::uint8_t*>(wide.data() + wide.size()));
        write_file(dir / "png-gray16-24.png",
                   encode_png(raw, 24, 24, PNG_FORMAT_GRAY | PNG_FORMAT_FLAG_LINEAR));
    }
    // Palette with transparency (tRNS): index 0 transparent, 1 opaque dark blue.
    {
        Bytes indices = draw_seven(26, 26, 2);
        Bytes palette_samples;
        for (std::size_t i = 1; i < indices.size(); i += 2) {
            palette_samples.push_back(indices[i] == 255 ? 1 : 0);
        }
        write_file(dir / "png-palette-trns-26.png",
                   encode_png(palette_samples, 26, 26, PNG_FORMAT_RGBA_COLORMAP,
                              {255, 255, 255, 0, 10, 20, 90, 255}));
    }
    const Bytes gray = draw_seven(28, 28, 1);
    const Bytes rgb = draw_seven(30, 22, 3);
    write_file(dir / "jpeg-gray-28.jpg", encode_jpeg(gray, 28, 28, {}));
    write_file(dir / "jpeg-rgb-30x22.jpg", encode_jpeg(rgb, 30, 22, {.channels = 3}));
    write_file(dir / "jpeg-progressive-rgb.jpg",
               encode_jpeg(rgb, 30, 22, {.channels = 3, .progressive = true}));
    write_file(dir / "jpeg-arithmetic-gray.jpg", encode_jpeg(gray, 28, 28, {.arithmetic = true}));
    write_file(dir / "jpeg-restart-rgb.jpg",
               encode_jpeg(rgb, 30, 22, {.channels = 3, .restart_rows = 1}));
    write_file(dir / "jpeg-exif6-gray.jpg", encode_jpeg(gray, 28, 28, {.exif_orientation = 6}));
    write_file(dir / "jpeg-exif3-rgb.jpg",
               encode_jpeg(rgb, 30, 22, {.channels = 3, .exif_orientation = 3}));
    {
        Bytes cmyk(static_cast<std::size_t>(16) * 16 * 4);
        for (std::size_t i = 0; i < cmyk.size(); ++i) cmyk[i] = static_cast<std::uint8_t>(i * 7);
        write_file(dir / "jpeg-cmyk-16.jpg", encode_jpeg(cmyk, 16, 16, {.channels = 4}));
    }
    write_file(dir / "invalid-jpeg-truncated.jpg", cut(encode_jpeg(gray, 28, 28, {}), 200));
    write_file(dir / "invalid-png-truncated.png",
               cut(encode_png(gray, 28, 28, PNG_FORMAT_GRAY), 60));
    write_file(dir / "invalid-gif-magic.bin", std::string("GIF89a\x01\x00\x01\x00", 10));
}

void write_envelopes(const fs::path& dir) {
    const std::string s = "\x1e";
    const std::string payload(784, '\x80');
    const std::string f32(16, '\0');
    const std::vector<std::pair<std::string, std::string>> seeds = {
        {"request-echo", "DPP01" + s + "echo" + s + "0123456789abcdef0123456789abcdef" + s +
                             R"({"text":"hello","deadline_ms":1700000000000})"},
        {"request-predict-image",
         "DPP01" + s + "infer.predict" + s + "c0ffee" + s +
             R"({"payloads":[{"name":"image","dtype":"bytes","shape":[]}]})" + s +
             "\x89PNG\r\n\x1a\n"},
        {"request-u8-28x28", "DPP01" + s + "augment" + s + "id1" + s +
                                 R"({"payloads":[{"name":"x","dtype":"u8","shape":[28,28]}]})" + s +
                                 payload},
        {"request-two-payloads", "DPP01" + s + "evaluate" + s + "id2" + s +
                                     R"({"payloads":[{"name":"a","dtype":"f32","shape":[2,2]},)"
                                     R"({"name":"b","dtype":"i64","shape":[0]}]})" +
                                     s + f32 + s},
        {"reply-ok", "DPP01" + s + "OK" + s + "id3" + s + R"({"digit":7,"confidence":0.99})"},
        {"reply-error", "DPP01" + s + "INVALID_ARGUMENT" + s + "id4" + s +
                            R"({"message":"bad image","context":{"field":"image"}})"},
        {"reply-unavailable", "DPP01" + s + "UNAVAILABLE" + s + "id5" + s + "{}"},
        {"invalid-tag", "DPP02" + s + "echo" + s + "id" + s + "{}"},
        {"invalid-too-few-frames", "DPP01" + s + "echo"},
        {"invalid-header-not-object", "DPP01" + s + "echo" + s + "id" + s + "[1,2]"},
        {"invalid-header-json", "DPP01" + s + "echo" + s + "id" + s + "{\"a\":"},
        {"invalid-size-mismatch", "DPP01" + s + "x" + s + "id" + s +
                                      R"({"payloads":[{"name":"x","dtype":"u16","shape":[3]}]})" +
                                      s + "abc"},
        {"invalid-shape-overflow",
         "DPP01" + s + "x" + s + "id" + s +
             R"({"payloads":[{"name":"x","dtype":"f64","shape":[9223372036854775807,4]}]})" + s},
        {"invalid-deadline", "DPP01" + s + "x" + s + "id" + s + R"({"deadline_ms":-5})"},
        {"mdp-ready-prefetch",
         std::string("") + s + "MDPW01" + s + "\x01" + s + "digitpipe.infer" + s + "16"},
        {"mmi-services-lines",
         "200" + s + "digitpipe.echo 2 0 0 0" + s + "digitpipe.infer 1 1 3" + s + "x 1 2 3 4 5"},
    };
    for (const auto& [name, bytes] : seeds) write_file(dir / name, bytes);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    try {
        const fs::path corpus = argv[1];
        write_images(corpus / "image");
        write_envelopes(corpus / "envelope");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_corpus: %s\n", e.what());
        return 1;
    }
    return 0;
}
