# cmake -DFILE=<path> -P truncate_file.cmake: empties a file, as a crash or a full disk might leave it.
file(WRITE ${FILE} "")
