# Finds the OpenCV modules the classifier module needs (core, imgproc, dnn) and defines the
# imported target framebus_opencv_dnn (GLOBAL: the tests use it too). Debian's
# libopencv-{core,imgproc,dnn}-dev carry neither OpenCVConfig.cmake nor opencv4.pc (those come
# with the libopencv-dev meta package, which pulls in every OpenCV module), so the headers and
# libraries are looked up directly when no CMake package is found. Used by src/CMakeLists.txt and by the installed framebusConfig.cmake.
if(TARGET framebus_opencv_dnn)
  return()
endif()

find_package(OpenCV QUIET COMPONENTS core imgproc dnn)
if(OpenCV_FOUND)
  add_library(framebus_opencv_dnn INTERFACE IMPORTED GLOBAL)
  target_link_libraries(framebus_opencv_dnn INTERFACE opencv_core opencv_imgproc opencv_dnn)
  return()
endif()

find_path(FRAMEBUS_OPENCV_INCLUDE_DIR opencv2/dnn.hpp PATH_SUFFIXES opencv4)
find_library(FRAMEBUS_OPENCV_CORE_LIBRARY opencv_core)
find_library(FRAMEBUS_OPENCV_IMGPROC_LIBRARY opencv_imgproc)
find_library(FRAMEBUS_OPENCV_DNN_LIBRARY opencv_dnn)
if(NOT FRAMEBUS_OPENCV_INCLUDE_DIR OR NOT FRAMEBUS_OPENCV_CORE_LIBRARY OR NOT FRAMEBUS_OPENCV_IMGPROC_LIBRARY
   OR NOT FRAMEBUS_OPENCV_DNN_LIBRARY)
  message(FATAL_ERROR "framebus: the classifier module needs OpenCV's core, imgproc and dnn modules "
                      "(Debian: libopencv-dnn-dev libopencv-imgproc-dev libopencv-core-dev), or "
                      "-DFRAMEBUS_BUILD_CLASSIFY=OFF")
endif()
add_library(framebus_opencv_dnn INTERFACE IMPORTED GLOBAL)
# SYSTEM (the default for imported targets): OpenCV's headers warn under the project's flags.
set_target_properties(framebus_opencv_dnn PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${FRAMEBUS_OPENCV_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES
    "${FRAMEBUS_OPENCV_DNN_LIBRARY};${FRAMEBUS_OPENCV_IMGPROC_LIBRARY};${FRAMEBUS_OPENCV_CORE_LIBRARY}")
