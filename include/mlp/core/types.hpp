// Basic types shared by the whole library.
//
// Layout convention (the same everywhere): one sample per COLUMN. A batch X of B samples with F
// features is an F x B column-major matrix, and a Linear weight W is out x in, as in PyTorch.
#pragma once

#include <Eigen/Core>

#include <cstdint>

namespace mlp {

using Index = Eigen::Index;

template <class S = float>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class S = float>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S = float>
using RowVector = Eigen::Matrix<S, 1, Eigen::Dynamic>;

// One class id per column of X.
using Labels = Eigen::Matrix<std::int32_t, Eigen::Dynamic, 1>;

// Explicit train/eval switch: passed to every forward call, never hidden state.
enum class Mode { Train, Eval };

inline const char* to_string(Mode mode) { return mode == Mode::Train ? "train" : "eval"; }

// Bounds on counts read from files (checkpoints, summaries, run configurations): a larger value
// means a corrupt file, and checking it first keeps every conversion defined.
inline constexpr std::int64_t kMaxEpochs = 1000000;
inline constexpr std::int64_t kMaxSteps = std::int64_t{1} << 52;  // exact in a double

}  // namespace mlp
