# veil_test_code(TARGET)
#
# Test programs compile at -O0 in a Release build: their own code only sets up and checks, the
# libraries they call stay at -O2, and -O2 doubled their compile time (kms_service_itest.cc: 15 s
# of CPU at -O2, 7.4 s at -O0), which was half of a clean build.
function(veil_test_code target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-O0>)
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
endfunction()

# veil_library(NAME DEPS <veil libs> [LIBS <other libs>])
#
# Builds src/<NAME>/*.cc (minus tests) into the static library veil_<NAME>, and the tests next to
# it into one GoogleTest binary: *_test.cc are labelled `unit`, *_itest.cc `integration`.
# A library may include only the headers of the libraries it names in DEPS: the layer check
# (tools/check_layers.sh, run by ctest) enforces the direction of dependencies.
# A service's HTTP handlers (src/<svc>/api/) are not part of veil_<NAME>: they include http/,
# which the service library must not depend on; veil_api_library builds them.
function(veil_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc
                                   ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(i)?test\\.cc$")
  list(FILTER srcs EXCLUDE REGEX "/api/[^/]*$")
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
    list(FILTER tests EXCLUDE REGEX "/api/[^/]*$")
    if(tests)
      if(kind STREQUAL "test")
        set(label unit)
      else()
        set(label integration)
      endif()
      set(exe veil_${name}_${kind})
      add_executable(${exe} ${tests})
      target_link_libraries(${exe} PRIVATE veil_${name} GTest::gtest GTest::gtest_main)
      veil_test_code(${exe})
      target_compile_definitions(${exe} PRIVATE VEIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                                VEIL_BINARY_DIR="${PROJECT_BINARY_DIR}")
      gtest_discover_tests(${exe} TEST_PREFIX "${name}." PROPERTIES LABELS ${label}
                           DISCOVERY_TIMEOUT 60)
    endif()
  endforeach()
endfunction()

# veil_api_library(NAME DEPS <veil libs>)
#
# Builds src/<NAME>/api/*.cc (minus tests) into veil_<NAME>_api, linked to veil_<NAME>, veil_http
# and DEPS, with its tests (api/*_test.cc: unit, api/*_itest.cc: integration) in their own
# binaries, discovered under the test prefix "<NAME>_api.".
function(veil_api_library name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR}/api)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(i)?test\\.cc$")
  add_library(veil_${name}_api STATIC ${srcs})
  set(deps veil_${name} veil_http)
  foreach(d IN LISTS ARG_DEPS)
    list(APPEND deps veil_${d})
  endforeach()
  target_link_libraries(veil_${name}_api PUBLIC ${deps})
  foreach(kind test itest)
    file(GLOB tests CONFIGURE_DEPENDS ${dir}/*_${kind}.cc)
    if(tests)
      if(kind STREQUAL "test")
        set(label unit)
      else()
        set(label integration)
      endif()
      set(exe veil_${name}_api_${kind})
      add_executable(${exe} ${tests})
      target_link_libraries(${exe} PRIVATE veil_${name}_api GTest::gtest GTest::gtest_main)
      veil_test_code(${exe})
      target_compile_definitions(${exe} PRIVATE VEIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                                VEIL_BINARY_DIR="${PROJECT_BINARY_DIR}")
      gtest_discover_tests(${exe} TEST_PREFIX "${name}_api." PROPERTIES LABELS ${label}
                           DISCOVERY_TIMEOUT 60)
    endif()
  endforeach()
endfunction()
