// Counts heap allocations made by this thread, so tests can prove a hot loop allocates nothing.
// The counting operator new lives in alloc_counter.cpp (one definition for the test binary).
#pragma once

#include <cstddef>

namespace mlp_test {

std::size_t allocation_count();  // allocations so far on this thread

// False in the ThreadSanitizer build (MLP_TEST_NO_ALLOCATION_COUNTER), whose runtime defines the
// allocation functions itself: there the probes count nothing and their tests do not apply.
bool counts_allocations();

// Allocations between construction and count().
class AllocationProbe {
 public:
  AllocationProbe() : start_(allocation_count()) {}
  std::size_t count() const { return allocation_count() - start_; }

 private:
  std::size_t start_;
};

}  // namespace mlp_test
