# Project-wide warning and sanitizer flags, applied to every target defined after this file.
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wno-missing-field-initializers)
if(FRAMEBUS_WERROR)
  add_compile_options(-Werror)
endif()
if(FRAMEBUS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
# ThreadSanitizer cannot share a process with AddressSanitizer (both own the shadow memory).
if(FRAMEBUS_TSAN)
  if(FRAMEBUS_SANITIZE)
    message(FATAL_ERROR "FRAMEBUS_TSAN and FRAMEBUS_SANITIZE cannot be combined: ThreadSanitizer "
                        "and AddressSanitizer cannot run in one process; use two build trees")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
