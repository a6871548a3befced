# Build one libFuzzer target with clang and run it for a bounded time.
#   cmake -DNAME=frame -DSOURCES=a.c|b.c -DINCLUDES=dir|dir -DSEED_CORPUS=dir
#         -DWORK_DIR=dir -DSECONDS=30 -P run_fuzz.cmake
# New inputs the fuzzer finds go to WORK_DIR/corpus, never into the source tree.
find_program(CLANG NAMES clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14)
if(NOT CLANG)
  message(FATAL_ERROR "fuzz.${NAME}: clang not found (install clang; libFuzzer needs it)")
endif()

string(REPLACE "|" ";" sources "${SOURCES}")
string(REPLACE "|" ";" includes "${INCLUDES}")
set(include_flags "")
foreach(dir IN LISTS includes)
  list(APPEND include_flags -I${dir})
endforeach()

file(MAKE_DIRECTORY ${WORK_DIR}/corpus)
set(binary ${WORK_DIR}/fuzz_${NAME})
execute_process(
  COMMAND ${CLANG} -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
          -fno-sanitize-recover=all ${include_flags} ${sources} -o ${binary}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz.${NAME}: building with ${CLANG} failed")
endif()

# The first directory receives new inputs; the seeds are only read.
execute_process(
  COMMAND ${binary} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=1024
          -artifact_prefix=${WORK_DIR}/ ${WORK_DIR}/corpus ${SEED_CORPUS}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz.${NAME}: the fuzzer found a failure (exit ${rc}); see ${WORK_DIR}/crash-* and the output above")
endif()
