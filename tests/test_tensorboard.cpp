#include "helpers.hpp"

#include <mlp/detail/crc32c.hpp>
#include <mlp/model/parameterized_mlp.hpp>
#include <mlp/optim/sgd.hpp>
#include <mlp/train/tensorboard_logger.hpp>

#include <cstring>

namespace {

std::uint64_t le(const std::string& s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)])} << (8 * i);
  return v;
}

// A small protobuf reader for the fields the logger writes.
struct Field {
  int number;
  int wire;
  std::uint64_t varint = 0;
  std::string bytes;
};

std::vector<Field> parse_proto(const std::string& s) {
  std::vector<Field> fields;
  std::size_t at = 0;
  auto varint = [&]() {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(s.at(at++));
      v |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return v;
    }
  };
  while (at < s.size()) {
    const std::uint64_t key = varint();
    Field f{static_cast<int>(key >> 3), static_cast<int>(key & 7), 0, {}};
    if (f.wire == 0) f.varint = varint();
    if (f.wire == 1) f.bytes = s.substr(at, 8), at += 8;
    if (f.wire == 5) f.bytes = s.substr(at, 4), at += 4;
    if (f.wire == 2) {
      const std::uint64_t n = varint();
      f.bytes = s.substr(at, n);
      at += n;
    }
    fields.push_back(f);
  }
  return fields;
}

// Reads every TFRecord, checking both masked CRCs.
std::vector<std::string> read_records(const std::string& file) {
  std::vector<std::string> records;
  for (std::size_t at = 0; at < file.size();) {
    const std::uint64_t length = le(file, at, 8);
    CHECK(le(file, at + 8, 4) == mlp::detail::masked_crc32c(file.data() + at, 8));
    const std::string data = file.substr(at + 12, length);
    CHECK(le(file, at + 12 + length, 4) == mlp::detail::masked_crc32c(data.data(), data.size()));
    records.push_back(data);
    at += 12 + length + 4;
  }
  return records;
}

}  // namespace

TEST_CASE("CRC-32C matches its published check values") {
  CHECK(mlp::detail::crc32c("123456789", 9) == 0xE3069283u);
  CHECK(mlp::detail::crc32c("", 0) == 0u);
  const std::string zeros(32, '\0');
  CHECK(mlp::detail::crc32c(zeros.data(), 32) == 0x8A9136AAu);  // RFC 3720, 32 bytes of zeros
  const std::string ones(32, '\xff');
  CHECK(mlp::detail::crc32c(ones.data(), 32) == 0x62A8AB43u);   // RFC 3720, 32 bytes of 0xff
  const std::uint32_t crc = 0xE3069283u;
  CHECK(mlp::detail::masked_crc32c("123456789", 9) == ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST_CASE("the TensorBoard logger writes TFRecords of Events that read back") {
  mlp_test::TempDir dir("tensorboard");
  mlp::ParameterizedMLP<float> model(mlp::MlpSpec{3, {4}, 2}, 1);
  mlp::SGD<float> sgd(model.parameters(), {});
  mlp::History history;
  mlp::TrainContext<float> ctx{model, sgd, history};
  mlp::TensorBoardLogger<float> logger(dir.path());
  logger.on_train_begin(ctx);
  for (int e = 1; e <= 2; ++e) {
    mlp::EpochLog log;
    log.epoch = e;
    log.train_loss = 1.0 / e;
    log.val_loss = 2.0 / e;
    log.train_acc = 0.5;
    log.val_acc = 0.25;
    log.lr = 1e-3;
    history.epochs.push_back(log);
    ctx.log = &history.epochs.back();
    logger.on_epoch_end(ctx);
  }
  CHECK(logger.path().filename().string().rfind("events.out.tfevents.", 0) == 0);
  const auto records = read_records(mlp::read_text_file(logger.path()));
  REQUIRE(records.size() == 3);
  const auto first = parse_proto(records[0]);
  REQUIRE(first.size() == 2);
  CHECK(first[0].number == 1);  // wall_time, a double
  CHECK(first[0].wire == 1);
  CHECK(first[1].number == 3);  // file_version
  CHECK(first[1].bytes == "brain.Event:2");
  const auto second = parse_proto(records[2]);
  REQUIRE(second.size() == 3);
  CHECK(second[1].number == 2);
  CHECK(second[1].varint == 2);  // step = epoch 2
  CHECK(second[2].number == 5);  // summary
  std::vector<std::pair<std::string, float>> scalars;
  for (const Field& value : parse_proto(second[2].bytes)) {
    CHECK(value.number == 1);
    const auto parts = parse_proto(value.bytes);
    float v = 0;
    std::memcpy(&v, parts[1].bytes.data(), 4);
    scalars.push_back({parts[0].bytes, v});
  }
  REQUIRE(scalars.size() == 7);
  CHECK(scalars[0].first == "loss/train");
  CHECK(scalars[0].second == 0.5f);
  CHECK(scalars[1].first == "loss/val");
  CHECK(scalars[1].second == 1.0f);
  CHECK(scalars[4].first == "lr");

  // A new run in the same folder (a resume) replaces the old event file and replays the history.
  mlp::TensorBoardLogger<float> again(dir.path());
  again.on_train_begin(ctx);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 1);
  CHECK(read_records(mlp::read_text_file(again.path())).size() == 3);
}
