# Run by cpack (CPACK_PRE_BUILD_SCRIPTS) once the tree is installed into the
# staging directory, before it is packed. The .deb gets the Debian changelog,
# gzipped as Debian policy wants (/usr/share/doc/echod/changelog.Debian.gz),
# and its lintian overrides; the .rpm carries its changelog in the package
# header instead.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(_doc "${CPACK_TEMPORARY_INSTALL_DIRECTORY}${CPACK_ECHOD_DOCDIR}")
  file(MAKE_DIRECTORY "${_doc}")
  execute_process(COMMAND gzip -9n -c "${CPACK_ECHOD_DEB_CHANGELOG}"
                  OUTPUT_FILE "${_doc}/changelog.Debian.gz"
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip of ${CPACK_ECHOD_DEB_CHANGELOG} failed: ${_rc}")
  endif()
  file(CHMOD "${_doc}/changelog.Debian.gz" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  set(_overrides "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/usr/share/lintian/overrides")
  file(MAKE_DIRECTORY "${_overrides}")
  file(COPY_FILE "${CPACK_ECHOD_LINTIAN_OVERRIDES}" "${_overrides}/echod")
  file(CHMOD "${_overrides}/echod" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
