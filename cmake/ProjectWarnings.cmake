# Warning flags for the project's own programs and tests (never put on the `mlp` target itself).
add_library(mlp_project_options INTERFACE)
target_compile_options(mlp_project_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wdouble-promotion -Wnon-virtual-dtor -Wold-style-cast
  $<$<BOOL:${MLP_WARNINGS_AS_ERRORS}>:-Werror>)
target_link_libraries(mlp_project_options INTERFACE mlp::mlp)

# mlp_program(name source...): an example, test or benchmark program built with the warnings.
function(mlp_program name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE mlp_project_options)
endfunction()
