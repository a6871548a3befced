# CPACK_PROJECT_CONFIG_FILE: read by cpack for each generator. The .deb's
# binaries are stripped by CPack as it splits their symbols into -dbgsym
# .ddeb packages, and the .rpm's by rpmbuild's find-debuginfo as it makes the
# -debuginfo .rpms. Without those (see CMakeLists.txt) they are stripped here.
if(CPACK_GENERATOR STREQUAL "RPM" AND NOT CPACK_ECHOD_RPM_DEBUGINFO)
  set(CPACK_STRIP_FILES TRUE)
endif()
