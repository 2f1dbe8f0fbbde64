// Strict base64 and data-URL decoding of the gateway (web/gateway/data_url.hpp): the RFC 4648
// test vectors, padding rules, and every way a client's text can fail to be an image.
#include "data_url.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

struct Vector {
    const char* encoded;
    const char* decoded;
};

class Base64VectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(Base64VectorTest, DecodesRfc4648VectorsPaddedAndUnpadded) {
    const auto& v = GetParam();
    const auto padded = decode_base64(v.encoded);
    ASSERT_TRUE(padded) << padded.status().message();
    EXPECT_EQ(*padded, v.decoded);
    std::string unpadded = v.encoded;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    const auto bare = decode_base64(unpadded);
    ASSERT_TRUE(bare) << bare.status().message();
    EXPECT_EQ(*bare, v.decoded);
}

INSTANTIATE_TEST_SUITE_P(Rfc4648, Base64VectorTest,
                         ::testing::Values(Vector{"", ""}, Vector{"Zg==", "f"},
                                           Vector{"Zm8=", "fo"}, Vector{"Zm9v", "foo"},
                                           Vector{"Zm9vYg==", "foob"}, Vector{"Zm9vYmE=", "fooba"},
                                           Vector{"Zm9vYmFy", "foobar"}));

TEST(Base64Test, DecodesBinaryWithTheWholeAlphabet) {
    const auto bytes = decode_base64("AP+/+w==");
    ASSERT_TRUE(bytes);
    EXPECT_EQ(*bytes, std::string("\x00\xff\xbf\xfb", 4));
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
    for (const char* bad : {"Zm9v!", "Zm 9v", "Zm9v\n", "Zm9-", "Zm9_", "Z", "Zm9vY",
                            "Zg=", "Zg===", "Z===", "====", "Zg==Zg==", "=Zg", "Zh=="}) {
        const auto decoded = decode_base64(bad);
        EXPECT_FALSE(decoded) << "'" << bad << "' decoded";
        if (!decoded) {
            EXPECT_EQ(decoded.status().code(), framework::StatusCode::kInvalidArgument);
            EXPECT_EQ(decoded.status().message().rfind("base64: ", 0), 0u)
                << decoded.status().message();
        }
    }
}

TEST(Base64Test, NamesTheOffendingCharacterAndItsOffset) {
    const auto decoded = decode_base64("Zm9*");
    ASSERT_FALSE(decoded);
    EXPECT_NE(decoded.status().message().find("'*' at offset 3"), std::string::npos)
        << decoded.status().message();
}

TEST(DataUrlTest, DecodesPngAndJpegDataUrlsAndBareBase64) {
    for (const char* text :
         {"data:image/png;base64,Zm9v", "data:image/jpeg;base64,Zm9v", "DATA:IMAGE/PNG;BASE64,Zm9v",
          "data:image/png;name=x.png;base64,Zm9v", "Zm9v"}) {
        const auto bytes = decode_image_text(text, "image");
        ASSERT_TRUE(bytes) << text << ": " << bytes.status().message();
        EXPECT_EQ(*bytes, "foo");
    }
}

TEST(DataUrlTest, RefusesOtherMediaTypesPlainTextAndBrokenUrlsNamingTheField) {
    const std::pair<const char*, const char*> cases[] = {
        {"data:image/gif;base64,Zm9v", "image/png or image/jpeg"},
        {"data:text/plain;base64,Zm9v", "got 'text/plain'"},
        {"data:image/png,Zm9v", "must be base64"},
        {"data:image/png;base64", "no ','"},
        {"data:image/png;base64,", "holds no data"},
        {"data:image/png;base64,Zm9*", "invalid '*'"},
        {"", "empty"},
        {"=", "base64"},
    };
    for (const auto& [text, expected] : cases) {
        const auto bytes = decode_image_text(text, "image");
        ASSERT_FALSE(bytes) << text;
        EXPECT_EQ(bytes.status().code(), framework::StatusCode::kInvalidArgument);
        EXPECT_EQ(bytes.status().message().rfind("image: ", 0), 0u) << bytes.status().message();
        EXPECT_NE(bytes.status().message().find(expected), std::string::npos)
            << text << " -> " << bytes.status().message();
    }
}

}  // namespace
}  // namespace digitpipe::gateway
