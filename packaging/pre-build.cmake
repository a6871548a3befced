# Run by cpack (CPACK_PRE_BUILD_SCRIPTS) once the tree is installed into the
# staging directory, before it is packed; one subdirectory per component
# (echod, tools).
#
# .deb: each package gets the Debian changelog, gzipped as Debian policy
# wants (/usr/share/doc/PACKAGE/changelog.Debian.gz), and its lintian
# overrides; the .rpm carries its changelog in the package header instead.
# .rpm: the units move to Fedora's unit directory (%{_unitdir},
# /usr/lib/systemd/system), whatever the build machine's systemd.pc says.
set(_names "echod;tools")
set(_pkgs "echod;echod-tools")
foreach(_component _package IN ZIP_LISTS _names _pkgs)
  set(_root "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/${_component}")
  if(NOT IS_DIRECTORY "${_root}")
    message(FATAL_ERROR "pre-build.cmake: no staging directory ${_root}")
  endif()
  if(CPACK_GENERATOR STREQUAL "DEB")
    set(_doc "${_root}${CPACK_ECHOD_DATAROOTDIR}/doc/${_package}")
    file(MAKE_DIRECTORY "${_doc}")
    execute_process(COMMAND gzip -9n -c "${CPACK_ECHOD_DEB_CHANGELOG}"
                    OUTPUT_FILE "${_doc}/changelog.Debian.gz"
                    RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "gzip of ${CPACK_ECHOD_DEB_CHANGELOG} failed: ${_rc}")
    endif()
    file(CHMOD "${_doc}/changelog.Debian.gz" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    set(_overrides "${_root}${CPACK_ECHOD_DATAROOTDIR}/lintian/overrides")
    file(MAKE_DIRECTORY "${_overrides}")
    # The overrides name the package they apply to.
    file(READ "${CPACK_ECHOD_LINTIAN_OVERRIDES}" _text)
    string(REGEX REPLACE "(^|\n)echod:" "\\1${_package}:" _text "${_text}")
    file(WRITE "${_overrides}/${_package}" "${_text}")
    file(CHMOD "${_overrides}/${_package}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  elseif(CPACK_GENERATOR STREQUAL "RPM" AND IS_DIRECTORY "${_root}${CPACK_ECHOD_UNIT_DIR}"
         AND NOT CPACK_ECHOD_UNIT_DIR STREQUAL CPACK_ECHOD_RPM_UNIT_DIR)
    get_filename_component(_parent "${_root}${CPACK_ECHOD_RPM_UNIT_DIR}" DIRECTORY)
    file(MAKE_DIRECTORY "${_parent}")
    file(RENAME "${_root}${CPACK_ECHOD_UNIT_DIR}" "${_root}${CPACK_ECHOD_RPM_UNIT_DIR}")
  endif()
endforeach()
