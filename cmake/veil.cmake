# veil_library(NAME DEPS <veil libs> [LIBS <other libs>])
#
# Builds src/<NAME>/*.cc (minus tests) into the static library veil_<NAME>, and the tests next to
# it into one GoogleTest binary: *_test.cc are labelled `unit`, *_itest.cc `integration`.
# A library may include only the headers of the libraries it names in DEPS: the layer check
# (tools/check_layers.sh, run by ctest) enforces the direction of dependencies.
function(veil_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc
                                   ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(i)?test\\.cc$")
  add_library(veil_${name} STATIC ${srcs})
  target_include_directories(veil_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  set(deps)
  foreach(d IN LISTS ARG_DEPS)
    list(APPEND deps veil_${d})
  endforeach()
  target_link_libraries(veil_${name} PUBLIC ${deps} ${ARG_LIBS})

  foreach(kind test itest)
    file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_${kind}.cc
                                      ${CMAKE_CURRENT_SOURCE_DIR}/*/*_${kind}.cc)
    if(tests)
      if(kind STREQUAL "test")
        set(label unit)
      else()
        set(label integration)
      endif()
      set(exe veil_${name}_${kind})
      add_executable(${exe} ${tests})
      target_link_libraries(${exe} PRIVATE veil_${name} GTest::gtest GTest::gtest_main)
      target_compile_definitions(${exe} PRIVATE VEIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                                VEIL_BINARY_DIR="${PROJECT_BINARY_DIR}")
      gtest_discover_tests(${exe} TEST_PREFIX "${name}." PROPERTIES LABELS ${label}
                           DISCOVERY_TIMEOUT 60)
    endif()
  endforeach()
endfunction()
