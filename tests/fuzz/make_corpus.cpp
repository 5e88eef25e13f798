// Writes the fuzzers' seed corpora: small, valid inputs of every format (and a few near misses),
// so fuzzing starts from the interesting paths.   make_fuzz_corpus <dir>   (see scripts/fuzz.sh)
#include "../data_files.hpp"
#include "fuzz_setup.hpp"

#include <mlp_app/run_config.hpp>

#include <mlp/mlp.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string bytes_of(const mlp_test::Bytes& b) { return std::string(b.begin(), b.end()); }

std::string gz_of(const mlp_test::Bytes& b, const std::filesystem::path& scratch) {
  mlp_test::write_gz(scratch.string(), b);
  const auto back = mlp_test::read_raw(scratch.string());
  return std::string(back.begin(), back.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus <dir>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::filesystem::path scratch = dir / "scratch.tmp";
  std::filesystem::create_directories(dir);

  // IDX: images and labels, raw and gzip.
  const auto images = mlp_test::idx_images(3, 4, 3, 5);
  const auto labels = mlp_test::idx_labels({1, 9, 0});
  write(dir / "idx" / "images.idx", bytes_of(images));
  write(dir / "idx" / "labels.idx", bytes_of(labels));
  write(dir / "idx" / "images.idx.gz", gz_of(images, scratch));
  write(dir / "idx" / "labels.idx.gz", gz_of(labels, scratch));

  // CIFAR-10: two records, raw and gzip.
  mlp_test::Bytes cifar;
  mlp_test::append_cifar_record(cifar, 3);
  mlp_test::append_cifar_record(cifar, 7);
  write(dir / "cifar10" / "batch.bin", bytes_of(cifar));
  write(dir / "cifar10" / "batch.bin.gz", gz_of(cifar, scratch));

  // Model files: the first byte selects "as is" (0) or "checksum repaired" (1).
  for (const bool bn : {false, true}) {
    mlp::MlpSpec spec{4, {3}, 2};
    spec.batch_norm = bn;
    spec.dropout = bn ? 0.25 : 0.0;
    mlp::ParameterizedMLP<float> model(spec, 1);
    mlp::save_model(scratch, model, {{"dataset", "fashion-mnist"}, {"mean", "0.5"}});
    const std::string file = mlp::read_text_file(scratch);
    write(dir / "model_file" / (bn ? "bn.mlp" : "plain.mlp"), std::string(1, '\0') + file);
    write(dir / "model_file" / (bn ? "bn-fixed.mlp" : "plain-fixed.mlp"), std::string(1, '\1') + file);
  }

  // Training checkpoints of the checkpoint fuzzer's own setup, after one and two epochs.
  {
    fuzz::TinySetup setup;
    for (int epochs = 1; epochs <= 2; ++epochs) {
      setup.trainer.fit(setup.loader, &setup.loader, epochs);
      setup.trainer.save_checkpoint(scratch);
      const std::string file = mlp::read_text_file(scratch);
      write(dir / "checkpoint" / ("epoch" + std::to_string(epochs) + ".ckpt"), std::string(1, '\0') + file);
      write(dir / "checkpoint" / ("epoch" + std::to_string(epochs) + "-fixed.ckpt"), std::string(1, '\1') + file);
    }
  }

  // JSON: a run configuration, an epoch log, an evaluation, odds and ends.
  mlp::app::RunConfig config;
  config.hidden = {32};
  write(dir / "json" / "config.json", config.to_json().dump(2));
  write(dir / "json" / "epoch.json",
        R"({"epoch": 3, "train_loss": 0.5, "train_acc": 0.8, "val_loss": null, "val_acc": 0.7, "lr": 0.001, "seconds": 1.5, "penalty": 0, "steps": 300})");
  write(dir / "json" / "eval.json", R"({"loss": 0.3, "accuracy": 0.9, "samples": 4, "confusion": [[2, 0], [1, 1]]})");
  write(dir / "json" / "misc.json", R"(["a\u00e9\n", -1.5e-3, true, false, null, {"": {}}, []])");

  // Command lines of the train program, one argument per line.
  write(dir / "flags" / "typical.txt", "--hidden\n256,128\n--batch-norm\n--dropout\n0.2\n--lr\n1e-3\n--epochs\n30");
  write(dir / "flags" / "equals.txt", "--optimizer=sgd\n--momentum=0.9\n--nesterov\n--schedule=cosine\n--patience=5");
  write(dir / "flags" / "bad.txt", "--lr\nfast\n--hidden\n0\n--unknown");

  std::filesystem::remove(scratch);
  std::printf("wrote seed corpora for idx, cifar10, model_file, checkpoint, json and flags into %s\n",
              dir.string().c_str());
  return 0;
}
