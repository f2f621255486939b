# Installs a framebus build into a temporary prefix, then builds and runs tests/tools/consumer
# against it twice: with find_package(framebus) and with pkg-config.
#
#   cmake -DBUILD_DIR=<framebus build> -DCONSUMER_DIR=<tests/tools/consumer> -DWORK_DIR=<scratch>
#         -DGENERATOR=<generator> -DCXX_COMPILER=<c++> -P install_test.cmake

foreach(var BUILD_DIR CONSUMER_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command; on failure prints what it wrote and stops with `what`.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}):\n  ${command}\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

foreach(expected bin/framebus include/framebus/framebus.hpp include/framebus/channel/admin.hpp)
  if(NOT EXISTS ${prefix}/${expected})
    message(FATAL_ERROR "install did not produce ${prefix}/${expected}")
  endif()
endforeach()
file(GLOB_RECURSE config_files ${prefix}/*/framebusConfig.cmake)
file(GLOB_RECURSE pc_files ${prefix}/*/framebus.pc)
if(NOT config_files OR NOT pc_files)
  message(FATAL_ERROR "install did not produce framebusConfig.cmake and framebus.pc under ${prefix}")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
get_filename_component(libdir ${pc_dir} DIRECTORY)

run("installed framebus --version" ${prefix}/bin/framebus --version)

# 1. find_package(framebus)
set(cmake_build ${WORK_DIR}/find_package)
run("configure consumer with find_package" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${cmake_build}
    -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix})
run("build consumer with find_package" ${CMAKE_COMMAND} --build ${cmake_build})
run("run consumer built with find_package" ${cmake_build}/consumer)

# 2. pkg-config
find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
foreach(what cflags libs)
  execute_process(COMMAND ${PKG_CONFIG} --${what} framebus RESULT_VARIABLE rc
                  OUTPUT_VARIABLE pc_${what} ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --${what} framebus failed:\n${err}")
  endif()
  separate_arguments(pc_${what} UNIX_COMMAND "${pc_${what}}")
endforeach()
run("build consumer with pkg-config" ${CXX_COMPILER} -std=c++20 ${pc_cflags}
    ${CONSUMER_DIR}/main.cpp -o ${WORK_DIR}/pkgconfig_consumer ${pc_libs} -Wl,-rpath,${libdir})
run("run consumer built with pkg-config" ${WORK_DIR}/pkgconfig_consumer)
