// Internal invariants (as opposed to caller input, which is validated with detail::require and
// reported with an exception). Active unless NDEBUG is defined; the `ci` preset keeps them on.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifdef NDEBUG
#define MLP_ASSERT(condition, message) ((void)0)
#else
#define MLP_ASSERT(condition, message)                                                      \
  ((condition) ? (void)0                                                                    \
               : (std::fprintf(stderr, "%s:%d: mlp internal assertion `%s` failed: %s\n", \
                               __FILE__, __LINE__, #condition, message),                   \
                  std::abort()))
#endif
