#include "data_files.hpp"
#include "helpers.hpp"

#include <mlp/data/dataset.hpp>
#include <mlp_app/png.hpp>
#include <mlp_app/sample_grid.hpp>

#include <zlib.h>

#include <cstring>

namespace {

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t{static_cast<unsigned char>(s[at])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) |
         std::uint32_t{static_cast<unsigned char>(s[at + 3])};
}

struct Decoded {
  std::uint32_t width = 0, height = 0;
  int colour_type = -1;
  std::string raw;  // inflated IDAT
  std::vector<std::string> chunk_types;
};

// An independent little PNG reader: checks the signature and every chunk CRC, inflates IDAT.
Decoded decode_png(const std::string& png) {
  Decoded d;
  REQUIRE(png.size() > 8);
  REQUIRE(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  std::string idat;
  for (std::size_t at = 8; at < png.size();) {
    const std::uint32_t length = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    const std::string data = png.substr(at + 8, length);
    const std::uint32_t crc = be32(png, at + 8 + length);
    const std::string body = png.substr(at + 4, 4 + length);
    CHECK(crc == ::crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    d.chunk_types.push_back(type);
    if (type == "IHDR") {
      d.width = be32(data, 0);
      d.height = be32(data, 4);
      CHECK(data[8] == 8);  // bit depth
      d.colour_type = data[9];
    } else if (type == "IDAT") {
      idat += data;
    }
    at += 12 + length;
  }
  uLongf size = 1 << 24;
  d.raw.resize(size);
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(d.raw.data()), &size,
                     reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) == Z_OK);
  d.raw.resize(size);
  return d;
}

}  // namespace

TEST_CASE("the PNG writer's output decodes: signature, chunk CRCs, IDAT size and pixels") {
  mlp::app::Image image(5, 3, 1);
  for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<std::uint8_t>(i * 10);
  const Decoded d = decode_png(mlp::app::encode_png(image));
  CHECK(d.chunk_types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  CHECK(d.width == 5);
  CHECK(d.height == 3);
  CHECK(d.colour_type == 0);
  REQUIRE(d.raw.size() == 3 * (1 + 5));
  CHECK(d.raw[0] == 0);  // filter byte of row 0
  CHECK(static_cast<unsigned char>(d.raw[1 + 6 + 2]) == 70);  // row 1, x 2 = pixel 7

  mlp::app::Image rgb(4, 2, 3, 9);
  const Decoded c = decode_png(mlp::app::encode_png(rgb));
  CHECK(c.colour_type == 2);
  CHECK(c.raw.size() == 2 * (1 + 4 * 3));
}

TEST_CASE("write_png writes atomically and refuses malformed images") {
  mlp_test::TempDir dir("png");
  mlp::app::write_png(dir.file("a.png"), mlp::app::Image(2, 2, 3, 128));
  CHECK(decode_png(mlp::read_text_file(dir.file("a.png"))).width == 2);
  mlp::app::Image bad(2, 2, 1);
  bad.pixels.pop_back();
  CHECK_THROWS_WITH_AS(mlp::app::encode_png(bad), doctest::Contains("has 3 bytes, expected 4"),
                       mlp::InvalidArgument);
  CHECK_THROWS_AS(mlp::app::encode_png(mlp::app::Image(2, 2, 2)), mlp::InvalidArgument);
  CHECK_THROWS_WITH_AS(mlp::app::write_png(dir.file("a.png/folder/a.png"), mlp::app::Image(1, 1, 1)),
                       mlp_test::contains("cannot write '" + dir.file("a.png/folder/a.png") + "'"),
                       mlp::IoError);
}

TEST_CASE("the sample grid has one row per class with its label and the images enlarged") {
  mlp::Dataset d;
  d.name = "grid";
  d.shape = {1, 2, 2};
  d.class_names = {"A", "B"};
  d.pixels.resize(4, 4);
  d.pixels.col(0).setConstant(10);
  d.pixels.col(1).setConstant(20);
  d.pixels.col(2).setConstant(30);
  d.pixels.col(3).setConstant(40);
  d.labels.resize(4);
  d.labels << 0, 1, 0, 1;
  const mlp::app::Image grid = mlp::app::make_sample_grid(d, {0, 1, 2, 3}, 2, 3);
  CHECK(grid.channels == 3);
  // Label column = 1 char * 12 + 16 = 28 px; the first image of class 0 starts there.
  mlp::app::Image copy = grid;
  CHECK(*copy.at(28, 8) == 10);
  CHECK(*copy.at(28 + 5, 8 + 5) == 10);      // 3x enlarged: 6 x 6 pixels
  CHECK(*copy.at(28 + 6 + 4, 8) == 30);      // second image of class 0, after a 4 px gap
  CHECK(*copy.at(28, 8 + 6 + 4) == 20);      // class 1 is the next row
  bool has_ink = false;                       // the label "A" is drawn left of the images
  for (int y = 0; y < 20; ++y) {
    for (int x = 0; x < 28; ++x) has_ink = has_ink || *copy.at(x, y) == 30;
  }
  CHECK(has_ink);
}

TEST_CASE("atomic writes replace the file and leave no temporary behind") {
  mlp_test::TempDir dir("atomic");
  mlp::write_file_atomically(dir.file("f.txt"), "first");
  mlp::write_file_atomically(dir.file("f.txt"), "second");
  CHECK(mlp::read_text_file(dir.file("f.txt")) == "second");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 1);
  CHECK_THROWS_WITH_AS(mlp::read_text_file(dir.file("missing.txt")),
                       mlp_test::contains("cannot open '" + dir.file("missing.txt") + "'"),
                       mlp::IoError);
  mlp::write_file_atomically(dir.file("blocker"), "x");
  CHECK_THROWS_WITH_AS(mlp::ensure_directory(dir.path() / "blocker"),
                       doctest::Contains("cannot create folder"), mlp::IoError);
}
