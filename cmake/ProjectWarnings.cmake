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

# mlp_cli_program(name source...): a program with command-line flags (cxxopts, examples/common/).
# OpenMP, when available, lets Eigen's matrix products use the threads given with --threads.
function(mlp_cli_program name)
  find_package(cxxopts REQUIRED)
  find_package(OpenMP)
  mlp_program(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE cxxopts::cxxopts mlp_app)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/examples)
  if(OpenMP_CXX_FOUND)
    target_link_libraries(${name} PRIVATE OpenMP::OpenMP_CXX)
  endif()
endfunction()
