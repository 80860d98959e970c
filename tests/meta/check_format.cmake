# Every C++ file of the project is formatted as .clang-format says (clang-format --dry-run
# --Werror); the output names the files and lines that are not.
file(GLOB_RECURSE files RELATIVE ${ROOT}
     ${ROOT}/src/*.cc ${ROOT}/src/*.h ${ROOT}/tests/*.cc ${ROOT}/tests/*.h ${ROOT}/bench/*.cc ${ROOT}/fuzz/*.cc ${ROOT}/fuzz/*.h)
list(FILTER files EXCLUDE REGEX "node_modules")
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files} WORKING_DIRECTORY ${ROOT}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "not formatted as .clang-format says (clang-format -i fixes it):\n${err}")
endif()
list(LENGTH files n)
message(STATUS "${n} files formatted as .clang-format says")
