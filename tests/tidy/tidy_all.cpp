// One translation unit that instantiates the library's templates for float and double, so that
// clang-tidy (scripts/tidy.sh) analyzes every header's code, not only what some test happens to use.
#include <mlp/mlp.hpp>
#include <mlp_app/run.hpp>

template class mlp::Linear<float>;
template class mlp::Linear<double>;
template class mlp::ReLU<float>;
template class mlp::LeakyReLU<float>;
template class mlp::Sigmoid<float>;
template class mlp::Tanh<float>;
template class mlp::BatchNorm1d<float>;
template class mlp::BatchNorm1d<double>;
template class mlp::BatchNorm2d<float>;
template class mlp::Flatten<float>;
template class mlp::Conv2d<float>;
template class mlp::Conv2d<double>;
template class mlp::MaxPool2d<float>;
template class mlp::MaxPool2d<double>;
template class mlp::AvgPool2d<float>;
template class mlp::AvgPool2d<double>;
template class mlp::BatchNorm2d<double>;
template class mlp::Dropout<float>;
template class mlp::Sequential<float>;
template class mlp::ParameterizedMLP<float>;
template class mlp::SoftmaxCrossEntropy<float>;
template class mlp::SoftmaxCrossEntropy<double>;
template class mlp::SGD<float>;
template class mlp::Adam<float>;
template class mlp::AdamW<float>;
template class mlp::RMSprop<float>;
template class mlp::Adagrad<float>;
template class mlp::DataLoader<float>;
template class mlp::Trainer<float>;
template class mlp::EarlyStopping<float>;
template class mlp::BestCheckpoint<float>;
template class mlp::ReduceLROnPlateau<float>;
template class mlp::CsvLogger<float>;
template class mlp::TensorBoardLogger<float>;
template class mlp::ProgressBar<float>;
template class mlp::LayerRegistry<float>;
template class mlp::TopKAccuracy<float>;
template mlp::LoadedModel<float> mlp::load_model<float>(const std::filesystem::path&);
template void mlp::save_model<float>(const std::filesystem::path&, const mlp::Sequential<float>&, const mlp::TextSection&);
template void mlp::matmul<float>(Eigen::Ref<mlp::Matrix<float>>, const Eigen::Ref<const mlp::Matrix<float>>&,
                                 const Eigen::Ref<const mlp::Matrix<float>>&, mlp::MatmulWorkspace<float>&,
                                 const mlp::MatmulOptions&);
template void mlp::matmul<double>(Eigen::Ref<mlp::Matrix<double>>, const Eigen::Ref<const mlp::Matrix<double>>&,
                                  const Eigen::Ref<const mlp::Matrix<double>>&, mlp::MatmulWorkspace<double>&,
                                  const mlp::MatmulOptions&);
template mlp::EvalResult mlp::evaluate<float>(mlp::Sequential<float>&, mlp::DataLoader<float>&,
                                             const std::vector<mlp::Metric<float>*>&);

int main() {
  mlp::app::RunResult result;  // run_training and friends are inline functions; referencing them is enough
  (void)&mlp::app::run_training;
  (void)&mlp::app::load_finished_run;
  (void)result;
  return 0;
}
