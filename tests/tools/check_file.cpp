// Checks that a model file or training checkpoint is complete and intact (magic, version, length,
// checksum, every section; a model file is also loaded).  check_file <path>...   Exit 0 when all are.
#include <mlp/io/model_file.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  int bad = 0;
  for (int i = 1; i < argc; ++i) {
    try {
      const std::string bytes = mlp::read_text_file(argv[i]);
      if (bytes.rfind(mlp::kCheckpointMagic, 0) == 0) {
        mlp::ContainerReader(bytes, argv[i], mlp::kCheckpointMagic, mlp::kModelFormatVersion,
                             "an mlp training checkpoint");
      } else {
        mlp::load_model<float>(argv[i]);
      }
      std::printf("ok %s\n", argv[i]);
    } catch (const mlp::Error& e) {
      std::printf("BAD %s\n", e.what());
      ++bad;
    }
  }
  return bad == 0 ? 0 : 1;
}
