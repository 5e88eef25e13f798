// Writes a changed copy of a model file, for the tests of programs that read one (evaluate):
//   edit_model <in> <out> [key=value ...] [--scale-weights F]
// key=value sets a metadata entry; --scale-weights multiplies every parameter by F (1e30 makes the
// logits overflow). The copy is a valid file: only what a program checks beyond the container changes.
#include <mlp/io/model_file.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: edit_model <in> <out> [key=value ...] [--scale-weights F]\n");
    return 2;
  }
  try {
    auto loaded = mlp::load_model<float>(argv[1]);
    for (int i = 3; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--scale-weights" && i + 1 < argc) {
        const float factor = std::strtof(argv[++i], nullptr);
        auto state = loaded.model.state_dict();
        for (const auto& p : loaded.model.parameters()) {
          for (auto& t : state) {
            if (t.name == p.name) t.value *= factor;
          }
        }
        loaded.model.load_state_dict(state);
        continue;
      }
      const auto eq = arg.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "edit_model: expected key=value, got '%s'\n", arg.c_str());
        return 2;
      }
      loaded.metadata[arg.substr(0, eq)] = arg.substr(eq + 1);
    }
    mlp::save_model(argv[2], loaded.model, loaded.metadata);
  } catch (const mlp::Error& e) {
    std::fprintf(stderr, "edit_model: %s\n", e.what());
    return 2;
  }
  return 0;
}
