# cmake -DFILE=<path> -DEXPECT=<regex> -P expect_file.cmake: fails unless the whole file matches.
file(READ ${FILE} content)
message("--- ${FILE} ---\n${content}")
if(NOT content MATCHES "${EXPECT}")
  message(FATAL_ERROR "${FILE} does not match: ${EXPECT}")
endif()
