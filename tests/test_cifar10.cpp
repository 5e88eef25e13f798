#include "data_files.hpp"
#include "helpers.hpp"

#include <mlp/core/utf8.hpp>
#include <mlp/data/cifar10.hpp>
#include <mlp/data/datasets.hpp>

using namespace mlp_test;

TEST_CASE("CIFAR-10 batches load into 3072 x N channel-major columns") {
  TempDir dir("cifar_ok");
  write_cifar_dataset(dir.path().string(), 4, 6);
  const auto data = mlp::load_dataset(mlp::DatasetKind::Cifar10, dir.path());
  CHECK(data.train.size() == 20);
  CHECK(data.test.size() == 6);
  CHECK(data.train.shape == mlp::ImageShape{3, 32, 32});
  CHECK(data.train.class_names.size() == 10);
  CHECK(data.train.class_names[1] == "automobile");
  // Record 0 of batch 1 has label 1: red plane 10, green 11, blue 12.
  CHECK(data.train.labels[0] == 1);
  CHECK(data.train.pixels(0, 0) == 10);
  CHECK(data.train.pixels(1024, 0) == 11);
  CHECK(data.train.pixels(3071, 0) == 12);
  // Batches are concatenated in order: the first record of batch 2 has label 2.
  CHECK(data.train.labels[4] == 2);
  CHECK(data.test.labels[5] == 5);
}

TEST_CASE("CIFAR-10 reader names truncated records and bad labels") {
  TempDir dir("cifar_bad");
  Bytes b;
  append_cifar_record(b, 3);
  append_cifar_record(b, 4);
  b.resize(b.size() - 100);
  write_raw(dir.file("short.bin"), b);
  mlp::Pixels p;
  mlp::Labels y;
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_batch(dir.file("short.bin"), p, y),
                       doctest::Contains("short.bin' is truncated or not a CIFAR-10 batch: its "
                                         "6046 bytes are not a whole number of 3,073-byte records"),
                       mlp::IoError);
  Bytes bad;
  append_cifar_record(bad, 2);
  append_cifar_record(bad, 11);
  write_raw(dir.file("label.bin"), bad);
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_batch(dir.file("label.bin"), p, y),
                       doctest::Contains("label.bin': label 11 of record 1 is out of range"),
                       mlp::IoError);
  write_raw(dir.file("empty.bin"), {});
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_batch(dir.file("empty.bin"), p, y),
                       doctest::Contains("holds no CIFAR-10 records"), mlp::IoError);
}

TEST_CASE("CIFAR-10 class names need exactly ten lines") {
  TempDir dir("cifar_meta");
  {
    std::ofstream meta(dir.file("batches.meta.txt"));
    meta << "cat\ndog\n";
  }
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")),
                       doctest::Contains("lists 2 class names, expected 10"), mlp::IoError);
  // A name twice, a name of thousands of characters (it went into every label of a picture) and a
  // file far longer than ten names.
  const auto write = [&](const std::string& text) {
    std::ofstream meta(dir.file("batches.meta.txt"), std::ios::trunc);
    meta << text;
  };
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\na\n");
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")), doctest::Contains("names the class 'a' twice"),
                       mlp::IoError);
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\n" + std::string(65, 'j') + "\n");
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")),
                       doctest::Contains("has a class name of 65 characters (at most 64)"), mlp::IoError);
  write(std::string(5000, 'x'));
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")),
                       doctest::Contains("holds 5000 bytes: a list of 10 class names is far shorter (at most 4096)"),
                       mlp::IoError);
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\n" + std::string(64, 'j') + "\n");
  CHECK(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")).back() == std::string(64, 'j'));
  // (a Latin-1 name or a control character made the study's SVGs, report.md and summary.json invalid)
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\ncaf\xe9\n");
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")),
                       doctest::Contains("has a class name that is not UTF-8 text (byte 0xe9 at offset 3 of the name)"),
                       mlp::IoError);
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\nauto\x01mobile\n");
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")),
                       doctest::Contains("has a class name holding a control character (0x01 at offset 4 of the name)"),
                       mlp::IoError);
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\ncat\xef\xbf\xbe\n");  // (valid UTF-8, but not an XML character)
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")),
                       doctest::Contains("holding U+FFFE or U+FFFF, not characters of text (0xef at offset 3"),
                       mlp::IoError);
  write("a\nb\nc\nd\ne\nf\ng\nh\ni\ncaf\xc3\xa9\t<&>\n");  // UTF-8, a tab, and characters SVG escapes
  CHECK(mlp::read_cifar10_class_names(dir.file("batches.meta.txt")).back() == "caf\xc3\xa9\t<&>");
}

TEST_CASE("first_invalid_utf8 finds overlong forms, surrogates, cut sequences and code points past U+10FFFF") {
  using mlp::detail::first_invalid_utf8;
  CHECK(first_invalid_utf8("plain") == 5);
  CHECK(first_invalid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 9);  // e-acute, euro, an emoji
  CHECK(first_invalid_utf8("a\xc0\xaf") == 1);                    // overlong '/'
  CHECK(first_invalid_utf8("ab\xe0\x80\xaf") == 2);              // overlong, 3 bytes
  CHECK(first_invalid_utf8("\xed\xa0\x80") == 0);                // a surrogate
  CHECK(first_invalid_utf8("\xf4\x90\x80\x80") == 0);           // past U+10FFFF
  CHECK(first_invalid_utf8("x\xe2\x82") == 1);                    // cut short
  CHECK(first_invalid_utf8("\x80") == 0);                          // a continuation byte alone
  CHECK(first_invalid_utf8("\xf4\x8f\xbf\xbf") == 4);           // U+10FFFF itself
}

TEST_CASE("gzip-compressed CIFAR-10 batches are read too") {
  TempDir dir("cifar_gz");
  Bytes b;
  for (int i = 0; i < 3; ++i) append_cifar_record(b, i);
  write_gz(dir.file("batch.bin"), b);
  mlp::Pixels p;
  mlp::Labels y;
  mlp::read_cifar10_batch(dir.file("batch.bin"), p, y);
  CHECK(p.cols() == 3);
  CHECK(y[2] == 2);
  CHECK(p(2048, 2) == 22);
}

TEST_CASE("a gzip-compressed CIFAR-10 batch without its gzip trailer is refused") {
  TempDir dir("cifar_trailer");
  Bytes b;
  for (int i = 0; i < 3; ++i) append_cifar_record(b, i);
  write_gz(dir.file("batch.bin.gz"), b);
  const Bytes gz = read_raw(dir.file("batch.bin.gz"));
  write_raw(dir.file("cut.bin.gz"), Bytes(gz.begin(), gz.end() - 8));
  mlp::Pixels p;
  mlp::Labels y;
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_batch(dir.file("cut.bin.gz"), p, y),
                       contains("'" + dir.file("cut.bin.gz") + "' is corrupt or truncated: the gzip stream "
                                "fails (unexpected end of file: the rest of the stream or its 8-byte "
                                "trailer is missing)"),
                       mlp::IoError);
}

TEST_CASE("CIFAR-10 batches larger than 10,000 records are refused without reading the rest") {
  TempDir dir("cifar_bomb");
  mlp::Pixels p;
  mlp::Labels y;
  // Exactly 10,000 records (zeros: label 0, black) is a whole batch file.
  write_sparse(dir.file("full.bin"), "", 10000 * 3073);
  mlp::read_cifar10_batch(dir.file("full.bin"), p, y);
  CHECK(p.cols() == 10000);
  // One more record is refused by its size, before anything is read.
  write_sparse(dir.file("big.bin"), "", 10001 * 3073);
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_batch(dir.file("big.bin"), p, y),
                       contains("'" + dir.file("big.bin") + "' is too large for a CIFAR-10 batch: a batch "
                                "holds at most 10,000 records of 3,073 bytes (30730000 bytes), but the "
                                "file has 30733073 bytes"),
                       mlp::IoError);
  // 20,000 records of zeros compress to about 60 KB: inflating stops after the first 10,000.
  write_gz(dir.file("bomb.bin.gz"), Bytes(20000 * 3073, 0));
  CHECK_THROWS_WITH_AS(mlp::read_cifar10_batch(dir.file("bomb.bin.gz"), p, y),
                       contains("'" + dir.file("bomb.bin.gz") + "' is too large for a CIFAR-10 batch: a "
                                "batch holds at most 10,000 records of 3,073 bytes (30730000 bytes), but "
                                "its decompressed data goes on past that"),
                       mlp::IoError);
}
