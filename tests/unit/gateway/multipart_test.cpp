// multipart/form-data parsing of the gateway (web/gateway/multipart.hpp): boundaries as
// browsers and curl send them, file parts with binary content, and malformed bodies refused
// with a message that says what was found.
#include "multipart.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

using framework::StatusCode;

std::string part(const std::string& boundary, const std::string& name, const std::string& body,
                 const std::string& extra_headers = "") {
    return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
           "\"; filename=\"digit.png\"\r\nContent-Type: image/png\r\n" + extra_headers + "\r\n" +
           body + "\r\n";
}

TEST(MultipartBoundaryTest, ReadsPlainAndQuotedBoundaries) {
    EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7Y"),
              "----WebKitFormBoundaryx7Y");
    EXPECT_EQ(*multipart_boundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
    EXPECT_EQ(*multipart_boundary("multipart/form-data; charset=utf-8; boundary=xyz"), "xyz");
}

TEST(MultipartBoundaryTest, RefusesOtherTypesAndMissingOrOverlongBoundaries) {
    EXPECT_FALSE(multipart_boundary("application/json; boundary=x"));
    EXPECT_FALSE(multipart_boundary("multipart/form-data"));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary="));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"unterminated"));
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'b')));
}

TEST(MultipartTest, SplitsPartsWithBinaryContentPreambleAndEpilogue) {
    const std::string binary("\x89PNG\r\n\x1a\n\0\r\n--not-the-boundary\r\n", 33);
    const std::string body = "preamble to ignore\r\n" + part("XyZ", "file", binary) +
                             "--XyZ\r\nContent-Disposition: form-data; name=note\r\n\r\nhello\r\n" +
                             "--XyZ--\r\nepilogue";
    const auto parts = parse_multipart(body, "XyZ");
    ASSERT_TRUE(parts) << parts.status().message();
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].name, "file");
    EXPECT_EQ((*parts)[0].filename, "digit.png");
    EXPECT_EQ((*parts)[0].content_type, "image/png");
    EXPECT_EQ((*parts)[0].body, binary);
    EXPECT_EQ((*parts)[1].name, "note");
    EXPECT_FALSE((*parts)[1].filename.has_value());
    EXPECT_EQ((*parts)[1].body, "hello");
    EXPECT_EQ(*multipart_field(*parts, "file"), binary);
}

TEST(MultipartTest, RefusesMalformedBodiesSayingWhere) {
    const std::pair<std::string, const char*> cases[] = {
        {"no boundary at all", "does not contain its boundary"},
        {part("b", "file", "x") + "--b", "closing boundary"},
        {part("b", "file", "x"), "not terminated"},
        {"--b\r\nContent-Disposition: form-data; name=file\r\n\r\nunterminated", "not terminated"},
        {"--b\r\nContent-Type: image/png\r\n\r\nx\r\n--b--", "no Content-Disposition"},
        {"--b\r\nContent-Disposition: attachment; name=file\r\n\r\nx\r\n--b--", "not form-data"},
        {"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "has no name"},
        {"--b\r\nno colon here\r\n\r\nx\r\n--b--", "malformed header"},
        {"--bjunk\r\n", "not followed by CRLF"},
        {"--b\r\nContent-Disposition: form-data; name=" + std::string(9000, 'n'), "blank line"},
    };
    for (const auto& [body, expected] : cases) {
        const auto parts = parse_multipart(body, "b");
        ASSERT_FALSE(parts) << body.substr(0, 60);
        EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(parts.status().message().find(expected), std::string::npos)
            << body.substr(0, 60) << " -> " << parts.status().message();
    }
}

TEST(MultipartTest, BoundsThePartCount) {
    std::string body;
    for (int i = 0; i < 65; ++i) body += part("b", "f" + std::to_string(i), "x");
    body += "--b--";
    const auto parts = parse_multipart(body, "b");
    ASSERT_FALSE(parts);
    EXPECT_NE(parts.status().message().find("more than 64"), std::string::npos);
}

TEST(MultipartFieldTest, SaysWhichFieldsItFoundWhenTheFileIsMissing) {
    const std::string body = part("b", "image", "x") + part("b", "other", "y") + "--b--";
    const auto parts = parse_multipart(body, "b");
    ASSERT_TRUE(parts);
    const auto file = multipart_field(*parts, "file");
    ASSERT_FALSE(file);
    EXPECT_EQ(file.status().message(), "multipart: no field 'file' (found: 'image', 'other')");

    const auto twice =
        parse_multipart(part("b", "file", "x") + part("b", "file", "y") + "--b--", "b");
    ASSERT_TRUE(twice);
    EXPECT_FALSE(multipart_field(*twice, "file"));
    const auto empty = parse_multipart(part("b", "file", "") + "--b--", "b");
    ASSERT_TRUE(empty);
    const auto no_bytes = multipart_field(*empty, "file");
    ASSERT_FALSE(no_bytes);
    EXPECT_NE(no_bytes.status().message().find("is empty"), std::string::npos);
}

}  // namespace
}  // namespace digitpipe::gateway
