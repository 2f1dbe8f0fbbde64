// Dashboard file resolution (web/gateway/static_files.hpp): the right file, type and caching
// for real paths, the single-page-app fallback, and no way out of the dashboard folder
// (dot-dot in any spelling, NUL, backslashes, symlinks).
#include "static_files.hpp"

#include <gtest/gtest.h>

#include "support/process.hpp"

namespace digitpipe::gateway {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
    void SetUp() override {
        root = dir.path() / "dist";
        fs::create_directories(root / "assets");
        dir.write("dist/index.html", "<!doctype html>");
        dir.write("dist/assets/app-1234.js", "console.log(1)");
        dir.write("dist/favicon.svg", "<svg/>");
        dir.write("secret.txt", "outside");
        fs::create_symlink(dir.path() / "secret.txt", root / "escape.txt");
    }

    test_support::TempDir dir;
    fs::path root;
};

TEST_F(StaticFilesTest, ServesIndexAssetsAndFilesWithTypeAndCaching) {
    const StaticFiles files(root);
    ASSERT_TRUE(files.available());
    const auto index = files.resolve("/");
    ASSERT_TRUE(index) << index.status().message();
    EXPECT_EQ(index->file, fs::canonical(root / "index.html"));
    EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(index->cache_control, "no-cache");

    const auto script = files.resolve("/assets/app-1234.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
    EXPECT_NE(script->cache_control.find("max-age="), std::string::npos);

    const auto icon = files.resolve("/favicon%2Esvg");  // percent-decoded before lookup
    ASSERT_TRUE(icon);
    EXPECT_EQ(icon->content_type, "image/svg+xml");
    EXPECT_EQ(icon->cache_control, "no-cache");
}

TEST_F(StaticFilesTest, FallsBackToIndexForAppRoutesButNotForMissingFiles) {
    const StaticFiles files(root);
    const auto route = files.resolve("/train/quick");
    ASSERT_TRUE(route);
    EXPECT_EQ(route->file.filename(), "index.html");
    const auto missing = files.resolve("/assets/gone.js");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.status().code(), framework::StatusCode::kNotFound);
}

TEST_F(StaticFilesTest, NeverResolvesOutsideTheFolder) {
    const StaticFiles files(root);
    for (const char* path :
         {"/../secret.txt", "/../../etc/passwd", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/etc/passwd",
          "/assets/..%2f..%2fsecret.txt", "/assets%2f..%2f..%2fsecret.txt", "/./index.html",
          "/a\\..\\secret.txt", "/index.html%00.js", "/%zz", "/escape.txt", "relative",
          "//..//secret.txt"}) {
        const auto file = files.resolve(path);
        EXPECT_FALSE(file) << path << " resolved to " << file->file;
        if (!file) {
            EXPECT_EQ(file.status().code(), framework::StatusCode::kNotFound) << path;
        }
    }
}

TEST(StaticFilesMissingTest, SaysTheDashboardIsNotBuilt) {
    const StaticFiles files("/nonexistent/dashboard/dist");
    EXPECT_FALSE(files.available());
    const auto file = files.resolve("/");
    ASSERT_FALSE(file);
    EXPECT_EQ(file.status().code(), framework::StatusCode::kNotFound);
    EXPECT_NE(file.status().message().find("deploy/setup.sh"), std::string::npos);
}

TEST(ContentTypeTest, KnowsTheDashboardsFileTypes) {
    EXPECT_EQ(content_type_for("a.css"), "text/css; charset=utf-8");
    EXPECT_EQ(content_type_for("a.JSON"), "application/json");
    EXPECT_EQ(content_type_for("a.png"), "image/png");
    EXPECT_EQ(content_type_for("favicon.ico"), "image/x-icon");
    EXPECT_EQ(content_type_for("f.woff2"), "font/woff2");
    EXPECT_EQ(content_type_for("app.js.map"), "application/json");
    EXPECT_EQ(content_type_for("robots.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(content_type_for("blob"), "application/octet-stream");
}

}  // namespace
}  // namespace digitpipe::gateway
