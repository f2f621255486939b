# Installation: the library (export set framebusTargets, namespace framebus::), the public
# headers, the `framebus` tool, a CMake package (find_package(framebus)) and framebus.pc.
# Included at the end of the top-level CMakeLists.txt, once every target exists.

include(CMakePackageConfigHelpers)

set(FRAMEBUS_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/framebus"
    CACHE STRING "Where framebusConfig.cmake is installed, relative to the prefix")
set(FRAMEBUS_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where framebus.pc is installed, relative to the prefix")

install(TARGETS framebus
  EXPORT framebusTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Only the modules that were built: a header of a module left out would declare what the library
# does not define.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/framebus
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp"
  PATTERN "decode" EXCLUDE
  PATTERN "classify" EXCLUDE
  PATTERN "worker.hpp" EXCLUDE
  PATTERN "children.hpp" EXCLUDE
  PATTERN "pipeline.hpp" EXCLUDE
  PATTERN "pipeline_options.hpp" EXCLUDE
  PATTERN "decoder_status.hpp" EXCLUDE
  PATTERN "decoder_process.hpp" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/include/framebus/modules.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/framebus)
if(FRAMEBUS_BUILD_DECODE)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/framebus/decode DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/framebus)
  install(FILES ${PROJECT_SOURCE_DIR}/include/framebus/pipeline/decoder_status.hpp
                ${PROJECT_SOURCE_DIR}/include/framebus/pipeline/decoder_process.hpp
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/framebus/pipeline)
endif()
if(FRAMEBUS_BUILD_CLASSIFY)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/framebus/classify DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/framebus)
  install(FILES ${PROJECT_SOURCE_DIR}/include/framebus/pipeline/worker.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/framebus/pipeline)
endif()
# The pipeline needs both modules.
if(FRAMEBUS_BUILD_DECODE AND FRAMEBUS_BUILD_CLASSIFY)
  foreach(_header children pipeline pipeline_options)
    install(FILES ${PROJECT_SOURCE_DIR}/include/framebus/pipeline/${_header}.hpp
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/framebus/pipeline)
  endforeach()
endif()

if(TARGET framebus_cli)
  install(TARGETS framebus_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT framebusTargets
  NAMESPACE framebus::
  FILE framebusTargets.cmake
  DESTINATION ${FRAMEBUS_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/framebusConfig.cmake.in
  ${PROJECT_BINARY_DIR}/framebusConfig.cmake
  INSTALL_DESTINATION ${FRAMEBUS_INSTALL_CMAKEDIR})
# 0.x releases may break the API between minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/framebusConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_SOURCE_DIR}/cmake/opencv_dnn.cmake
  ${PROJECT_BINARY_DIR}/framebusConfig.cmake
  ${PROJECT_BINARY_DIR}/framebusConfigVersion.cmake
  DESTINATION ${FRAMEBUS_INSTALL_CMAKEDIR})

# framebus.pc locates the prefix from its own directory (${pcfiledir}), so that it stays right
# under `cmake --install --prefix P` and DESTDIR, which are unknown at configure time.
if(IS_ABSOLUTE "${FRAMEBUS_INSTALL_PKGCONFIGDIR}")
  set(FRAMEBUS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _framebus_pc_up "/prefix/${FRAMEBUS_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _framebus_pc_up "${_framebus_pc_up}")
  set(FRAMEBUS_PC_PREFIX "\${pcfiledir}/${_framebus_pc_up}")
endif()
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(FRAMEBUS_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(FRAMEBUS_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
if(FRAMEBUS_BUILD_DECODE)
  set(FRAMEBUS_PC_REQUIRES_PRIVATE "Requires.private: libavformat libavcodec libswscale libavutil")
else()
  set(FRAMEBUS_PC_REQUIRES_PRIVATE "")
endif()
# OpenCV's Debian -dev packages have no opencv4.pc (only the libopencv-dev meta package does), so
# the classifier module names its libraries directly.
if(FRAMEBUS_BUILD_CLASSIFY)
  if(FRAMEBUS_BUILD_DECODE)
    # The pipeline's queue topology reads with videoio and imgcodecs.
    set(FRAMEBUS_PC_LIBS_PRIVATE
        "Libs.private: -lopencv_videoio -lopencv_imgcodecs -lopencv_dnn -lopencv_imgproc -lopencv_core")
  else()
    set(FRAMEBUS_PC_LIBS_PRIVATE "Libs.private: -lopencv_dnn -lopencv_imgproc -lopencv_core")
  endif()
else()
  set(FRAMEBUS_PC_LIBS_PRIVATE "")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/framebus.pc.in ${PROJECT_BINARY_DIR}/framebus.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/framebus.pc DESTINATION ${FRAMEBUS_INSTALL_PKGCONFIGDIR})
