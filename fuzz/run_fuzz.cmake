# Build one libFuzzer target with clang and run it for SECONDS on a copy of
# its corpus (see fuzz/CMakeLists.txt). Fails on a missing clang, a build
# error, or anything the fuzzer finds.
if(NOT CLANG)
  message(FATAL_ERROR "clang not found: apt-get install clang (libFuzzer comes with it)")
endif()
set(binary "${WORK_DIR}/fuzz_${NAME}")
set(sources "")
foreach(source IN LISTS SOURCES)
  list(APPEND sources "${SOURCE_DIR}/${source}")
endforeach()
set(include_flags "")
foreach(dir IN LISTS INCLUDES)
  list(APPEND include_flags "-I${dir}")
endforeach()
execute_process(
  COMMAND ${CLANG} -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
          -fno-sanitize-recover=all ${include_flags} ${sources} -o ${binary} ${LIBS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building fuzz_${NAME} with ${CLANG} failed:\n${out}")
endif()

# libFuzzer writes new inputs into the first corpus directory: a scratch copy.
set(corpus "${WORK_DIR}/corpus-${NAME}")
file(REMOVE_RECURSE "${corpus}")
file(MAKE_DIRECTORY "${corpus}")
file(GLOB seeds "${SOURCE_DIR}/fuzz/corpus/${NAME}/*")
if(seeds)
  file(COPY ${seeds} DESTINATION "${corpus}")
endif()
execute_process(
  COMMAND ${binary} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048 -max_len=8192
          -print_final_stats=1 -artifact_prefix=${WORK_DIR}/${NAME}- ${corpus}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" runs "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz_${NAME} found a problem (inputs saved as ${WORK_DIR}/${NAME}-*):\n${out}")
endif()
message(STATUS "fuzz_${NAME}: ${SECONDS} s clean (${runs})")
