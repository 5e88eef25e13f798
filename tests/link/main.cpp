#include <cmath>
#include <cstdio>

double unit_a_loss();
double unit_b_loss();

int main() {
  const double a = unit_a_loss(), b = unit_b_loss();
  std::printf("unit a loss %.4f, unit b loss %.4f\n", a, b);
  return std::isfinite(a) && std::isfinite(b) ? 0 : 1;
}
