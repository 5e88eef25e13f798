# cmake -DFOLDER=<path> -P expect_folder.cmake: fails unless the folder exists.
if(NOT IS_DIRECTORY "${FOLDER}")
  message(FATAL_ERROR "'${FOLDER}' is not a folder")
endif()
