// The three body forms of POST /api/predict (web/gateway/predict_input.hpp).
#include "predict_input.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

using framework::StatusCode;

TEST(PredictInputTest, ClassifiesContentTypes) {
    EXPECT_EQ(classify_predict_body("application/json"), BodyFormat::kJson);
    EXPECT_EQ(classify_predict_body("Application/JSON; charset=utf-8"), BodyFormat::kJson);
    EXPECT_EQ(classify_predict_body("multipart/form-data; boundary=x"), BodyFormat::kMultipart);
    EXPECT_EQ(classify_predict_body("image/png"), BodyFormat::kImage);
    EXPECT_EQ(classify_predict_body("image/jpeg"), BodyFormat::kImage);
    EXPECT_EQ(classify_predict_body("image/gif"), BodyFormat::kUnsupported);
    EXPECT_EQ(classify_predict_body("text/plain"), BodyFormat::kUnsupported);
    EXPECT_EQ(classify_predict_body(""), BodyFormat::kUnsupported);
}

TEST(PredictInputTest, ExtractsTheImageFromEachForm) {
    EXPECT_EQ(*extract_predict_image(BodyFormat::kJson, "application/json",
                                     R"({"image": "data:image/png;base64,Zm9v", "extra": 1})"),
              "foo");
    EXPECT_EQ(*extract_predict_image(BodyFormat::kJson, "application/json", R"({"image":"Zm9v"})"),
              "foo");
    EXPECT_EQ(*extract_predict_image(
                  BodyFormat::kMultipart, "multipart/form-data; boundary=b",
                  "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nbytes\r\n--b--"),
              "bytes");
    EXPECT_EQ(*extract_predict_image(BodyFormat::kImage, "image/png", "\x89PNG"), "\x89PNG");
}

TEST(PredictInputTest, NamesTheFieldAtFault) {
    const std::pair<std::string, const char*> json_cases[] = {
        {"{\"image\":", "body: malformed JSON at byte"},
        {"[1, 2]", "body: expected a JSON object, got array"},
        {"{}", "image: missing"},
        {R"({"image": 7})", "image: expected a string (data URL or base64), got number"},
        {R"({"image": null})", "got null"},
        {R"({"image": "not base64!"})", "image: base64: invalid"},
        {"{\"image\": \"\xff\"}", "malformed JSON"},
    };
    for (const auto& [body, expected] : json_cases) {
        const auto image = extract_predict_image(BodyFormat::kJson, "application/json", body);
        ASSERT_FALSE(image) << body;
        EXPECT_EQ(image.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(image.status().message().find(expected), std::string::npos)
            << body << " -> " << image.status().message();
    }
    const auto empty = extract_predict_image(BodyFormat::kImage, "image/png", "");
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
    const auto no_boundary =
        extract_predict_image(BodyFormat::kMultipart, "multipart/form-data", "x");
    ASSERT_FALSE(no_boundary);
    EXPECT_NE(no_boundary.status().message().find("boundary"), std::string::npos);
}

}  // namespace
}  // namespace digitpipe::gateway
