# CPACK_PROJECT_CONFIG_FILE: read by cpack for each generator. The .deb's
# binaries are stripped by CPack as it splits their symbols into -dbgsym
# .ddeb packages; the .rpm has no -debuginfo package yet (see
# CMakeLists.txt), so its binaries are stripped here.
if(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_STRIP_FILES TRUE)
endif()
