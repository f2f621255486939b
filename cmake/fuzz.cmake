# libFuzzer build (FRAMEBUS_BUILD_FUZZ=ON, see scripts/fuzz): every target, the library included,
# gets the fuzzer's coverage instrumentation plus ASan and UBSan, so that a bug is reported where
# it happens rather than where its damage shows. Only the fuzz executables link libFuzzer's main.
if(NOT FRAMEBUS_BUILD_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "FRAMEBUS_BUILD_FUZZ needs clang for libFuzzer "
                      "(configure with CXX=clang++-14, as scripts/fuzz does), not ${CMAKE_CXX_COMPILER_ID}")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
