# Checks the rules of docs/architecture.md that the link graph alone does not:
#   cmake -DSOURCE_DIR=... -DTOOLS=a;b;c -P check_boundaries.cmake
# 1. The tools (echocat, echoscan, echobench, echoctl) do not link libsystemd, libsodium, SQLite
#    or hiredis; echoscan and echoctl do not link OpenSSL either.
# 2. No file under src/proto includes ev.h, a socket header or a daemon header.
# 3. Nothing under src/common includes a header of another part.
# 4. The chat's building blocks (src/daemon/chat/) include no header of its session layer
#    (src/daemon/chat/session/), and the rest of the daemon includes only its service table,
#    chat_service.h: calls go down, from the session into the store, bus and auth.
set(failures "")

foreach(tool IN LISTS TOOLS)
  execute_process(COMMAND readelf -d ${tool} OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -d ${tool} failed (package binutils): ${err}")
  endif()
  foreach(library IN ITEMS libsystemd libsodium libsqlite3 libhiredis)
    if(dynamic MATCHES "${library}")
      list(APPEND failures "${tool} links ${library}")
    endif()
  endforeach()
  # OpenSSL (issue 19) reaches echod and the clients that speak TLS, never echoscan or echoctl.
  get_filename_component(tool_name ${tool} NAME)
  if(tool_name MATCHES "^(echoscan|echoctl)$" AND dynamic MATCHES "lib(ssl|crypto)\\.so")
    list(APPEND failures "${tool} links OpenSSL")
  endif()
endforeach()

file(GLOB proto_files ${SOURCE_DIR}/src/proto/*.c ${SOURCE_DIR}/src/proto/*.h)
if(NOT proto_files)
  list(APPEND failures "no files found under ${SOURCE_DIR}/src/proto")
endif()
foreach(file IN LISTS proto_files)
  file(STRINGS ${file} includes REGEX "^#[ \t]*include")
  foreach(line IN LISTS includes)
    if(line MATCHES "<(ev\\.h|sys/socket\\.h|netinet/|arpa/|netdb\\.h|sys/un\\.h|systemd/)")
      list(APPEND failures "${file}: ${line}")
    endif()
  endforeach()
endforeach()

# Headers of every part but common; common may include only its own.
file(GLOB other_headers RELATIVE ${SOURCE_DIR}/src
     ${SOURCE_DIR}/src/proto/*.h ${SOURCE_DIR}/src/daemon/*.h ${SOURCE_DIR}/src/daemon/*/*.h
     ${SOURCE_DIR}/src/echo*/*.h)
file(GLOB common_files ${SOURCE_DIR}/src/common/*.c ${SOURCE_DIR}/src/common/*.h)
foreach(file IN LISTS common_files)
  file(STRINGS ${file} includes REGEX "^#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" name "${line}")
    if(NOT EXISTS ${SOURCE_DIR}/src/common/${name} AND NOT name STREQUAL "version.h")
      list(APPEND failures "${file}: includes ${name}, which is not in src/common")
    endif()
  endforeach()
endforeach()

file(GLOB session_headers RELATIVE ${SOURCE_DIR}/src/daemon/chat/session
     ${SOURCE_DIR}/src/daemon/chat/session/*.h)
if(NOT session_headers)
  list(APPEND failures "no headers found under ${SOURCE_DIR}/src/daemon/chat/session")
endif()
file(GLOB below_session_files ${SOURCE_DIR}/src/daemon/chat/*.c ${SOURCE_DIR}/src/daemon/chat/*.h)
file(GLOB daemon_files ${SOURCE_DIR}/src/daemon/*.c ${SOURCE_DIR}/src/daemon/*.h)
foreach(file IN LISTS below_session_files daemon_files)
  list(FIND below_session_files "${file}" below)
  file(STRINGS ${file} includes REGEX "^#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" name "${line}")
    list(FIND session_headers "${name}" found)
    if(found EQUAL -1)
      continue()
    endif()
    if(NOT below EQUAL -1 OR NOT name STREQUAL "chat_service.h")
      list(APPEND failures "${file}: includes ${name} of the chat's session layer")
    endif()
  endforeach()
endforeach()

if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "architecture boundaries broken:\n  ${text}")
endif()
message(STATUS "boundaries hold: tools without libsystemd, codecs without sockets or loop, "
               "the chat's building blocks below its session layer")
