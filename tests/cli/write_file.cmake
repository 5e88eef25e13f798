# cmake -DFILE=<path> -DCONTENT=<text> -P write_file.cmake: writes CONTENT to the file, creating its folder.
file(WRITE ${FILE} "${CONTENT}")
