// The CNN against an MLP with about as many parameters (and BatchNorm too), so that the one
// difference is convolution: accuracy over seeds, per class, the confusions between similar
// classes (shirt and T-shirt, pullover and coat), size, time; and why convolution helps, said only
// as far as the paired intervals show that it does.
#pragma once

#include "aggregate.hpp"
#include "cost.hpp"
#include "wording.hpp"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace study {

struct CnnContext {
  std::vector<std::string> class_names;
  mlp::Shape input{1, 28, 28};
};

inline mlp::Index class_index(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<mlp::Index>(it - names.begin());
}

// | class | MLP | CNN | difference [95% CI] | verdict |, and the classes that gain or lose.
inline std::string per_class_table(const SeedRuns& cnn, const SeedRuns& mlp, const std::vector<std::string>& names,
                                   std::vector<std::string>& gains, std::vector<std::string>& losses) {
  std::ostringstream s;
  s << "| class | MLP [480, 96] | CNN | CNN - MLP, mean [95% CI] | verdict |\n| --- | --- | --- | --- | --- |\n";
  for (std::size_t k = 0; k < names.size(); ++k) {
    const Metric acc = metric::class_acc(static_cast<mlp::Index>(k));
    const auto d = paired(cnn, mlp, acc);
    s << "| " << names[k] << " | " << mean_sd(over_seeds(mlp, acc), kAccuracy, false) << " | "
      << mean_sd(over_seeds(cnn, acc), kAccuracy, false) << " | " << interval_cell(d, kAccuracy) << " | "
      << verdict(d, true) << " |\n";
    if (shows(d, 1)) gains.push_back(names[k]);
    if (shows(d, -1)) losses.push_back(names[k]);
  }
  return s.str();
}

// Test images of two classes mistaken for each other, with each model, compared.
inline std::string confusion_sentence(const SeedRuns& cnn, const SeedRuns& mlp, const std::vector<std::string>& names,
                                      const std::string& a, const std::string& b) {
  const mlp::Index i = class_index(names, a), j = class_index(names, b);
  if (i < 0 || j < 0) return "";
  const Metric m = metric::confusions_between(i, j);
  const double with_mlp = over_seeds(mlp, m).mean;
  return a + " and " + b + " were mistaken for each other in " + count_text(with_mlp) +
         (with_mlp == 1.0 ? " test image" : " test images") + " with the MLP and " + count_text(over_seeds(cnn, m).mean) +
         " with the CNN (" + means_over(std::min(cnn.size(), mlp.size())) + "); " +
         "the CNN's count is " + compare(paired(cnn, mlp, m), kCount, "higher", "lower", "the MLP's") + ". ";
}

inline std::string list_text(const std::vector<std::string>& items) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return text;
}

// Why convolution helps, worded by what the intervals show.
inline std::string convolution_explanation(const mlp::app::MeanInterval& acc, const ModelCost& c,
                                           const std::vector<std::string>& gains) {
  std::ostringstream s;
  if (effect_sign(acc) > 0) {
    s << "Why convolution helps here, at about the same number of parameters: an image's evidence is local (an edge, "
         "a collar, a sleeve's end), and a 3x3 filter looks only at neighbouring pixels (locality); the same "
      << fmt("%.0f", c.conv_parameters) << " convolution parameters are applied at every position of the image "
         "(weight sharing), so a detector learned in one place works everywhere, and a shifted garment gives shifted "
         "feature maps (translation equivariance; the max-pools add some invariance to small shifts). The MLP has to "
         "learn each position's detector separately from 784 independent inputs, with no notion of which pixels are "
         "neighbours.";
    if (!gains.empty()) s << " The classes with a detectable gain, " << list_text(gains) << ", are the ones told apart by such local details.";
  } else if (effect_sign(acc) < 0) {
    s << "With these seeds the CNN's test accuracy is lower than the matched MLP's, so the usual arguments for "
         "convolution (locality, weight sharing, translation equivariance) are not borne out by this run of the study.";
  } else if (no_spread(acc)) {
    s << "The test accuracy differs by the same amount in every seed (no spread, so no interval and no verdict), so "
         "these numbers do not show that convolution helps; the arguments usually given for it (locality, weight "
         "sharing, translation equivariance) remain to be shown with more seeds or epochs.";
  } else {
    s << "No difference in test accuracy is detectable here (" << seeds_text(acc.n) << "), so these numbers do not "
         "show that convolution helps; the arguments usually given for it (locality, weight sharing, translation "
         "equivariance) remain to be shown with more seeds or epochs.";
  }
  return s.str();
}

inline std::string observe_cnn(const StudyResults& R, const CnnContext& ctx) {
  const SeedRuns* cnn = runs_of(R, "cnn");
  const SeedRuns* mlp = runs_of(R, "mlp_matched");
  if (cnn == nullptr || mlp == nullptr) {
    return std::string("No comparison yet: ") + (cnn == nullptr ? "`cnn`" : "`mlp_matched`") +
           " has no finished cell (see Cells above).\n";
  }
  const auto& names = ctx.class_names;
  const mlp::Index classes = static_cast<mlp::Index>(names.size());
  const ModelCost cc = model_cost(cnn->begin()->second.config, ctx.input, classes);
  const ModelCost mc = model_cost(mlp->begin()->second.config, ctx.input, classes);
  const auto acc = paired(*cnn, *mlp, metric::test_acc);
  std::ostringstream s;
  s << "The CNN (" << cnn->begin()->second.config.arch << ") has " << cnn->begin()->second.parameters
    << " parameters, the matched MLP (hidden layers [480, 96] with BatchNorm) " << mlp->begin()->second.parameters
    << "; per image the CNN does " << fmt("%.1f", cc.macs / 1e6) << " million multiply-adds, the MLP "
    << fmt("%.2f", mc.macs / 1e6) << " million. Test accuracy of the best checkpoint: CNN "
    << mean_sd(over_seeds(*cnn, metric::test_acc), kAccuracy) << ", MLP " << mean_sd(over_seeds(*mlp, metric::test_acc), kAccuracy)
    << "; the CNN's is " << compare(acc, kAccuracy, "higher", "lower", "the MLP's") << ". Its test loss ("
    << mean_sd(over_seeds(*cnn, metric::test_loss), kLoss, false) << ") is "
    << compare(paired(*cnn, *mlp, metric::test_loss), kLoss, "higher", "lower", "the MLP's ("
               + loss4(over_seeds(*mlp, metric::test_loss).mean) + ")")
    << ". Training took " << secs(over_seeds(*cnn, metric::seconds).mean) << " per seed for the CNN, which is "
    << compare(paired(*cnn, *mlp, metric::seconds), kSeconds, "longer", "shorter",
               "the MLP's " + secs(over_seeds(*mlp, metric::seconds).mean))
    << ".\n\nPer-class test accuracy (best checkpoints, paired by seed):\n\n";
  std::vector<std::string> gains, losses;
  s << per_class_table(*cnn, *mlp, names, gains, losses) << "\n";
  s << "Classes where the CNN's accuracy is detectably above the MLP's (interval above 0): "
    << (gains.empty() ? "none" : list_text(gains)) << "; detectably below: " << (losses.empty() ? "none" : list_text(losses)) << ". "
    << confusion_sentence(*cnn, *mlp, names, "Shirt", "T-shirt/top")
    << confusion_sentence(*cnn, *mlp, names, "Pullover", "Coat") << "\n\n"
    << convolution_explanation(acc, cc, gains) << "\n";
  return s.str();
}

}  // namespace study
