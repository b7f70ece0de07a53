# Veil's fuzz targets (fuzz/*_fuzz.cc), two builds from one source (docs/fuzzing.md):
#   - default (any compiler): each target is a plain program whose main() replays its committed
#     corpus; ctest runs it (label unit), so the corpus stays a regression test;
#   - VEIL_FUZZ=ON (clang only, `make fuzz`): every library is compiled with
#     -fsanitize=fuzzer-no-link,address,undefined and each target is a libFuzzer binary
#     (-DVEIL_LIBFUZZER, linked with -fsanitize=fuzzer); ctest then replays the corpus through
#     libFuzzer's own driver (-runs=0).
# UB is fatal (-fno-sanitize-recover=all): a sanitizer report ends the run with a crash input, not
# a line in a log nobody reads.
if(VEIL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VEIL_FUZZ=ON needs clang for libFuzzer (CXX=clang++-14), not "
                        "${CMAKE_CXX_COMPILER_ID}; `make fuzz` configures it")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -g)
  # clang 14 workarounds, fuzz build only: GCC-only warning names in pragmas are not errors, and
  # crypto/internal/xts_vaes.cc takes its portable path (clang 14's __builtin_cpu_supports knows
  # neither "vaes" nor "vpclmulqdq"); no fuzz target reaches the XTS engines.
  add_compile_options(-Wno-unknown-warning-option)
  add_compile_definitions(VEIL_XTS_PORTABLE)
  add_link_options(-fsanitize=address,undefined)
endif()

# veil_fuzz_target(NAME LIBS <libs> TEST <ctest name> CORPUS <dir> [LABEL <label>]
#                  [REPLAY_ARGS <args>...])
#
# Builds fuzz/NAME.cc against LIBS as described above, and a ctest test replaying CORPUS, labelled
# LABEL (default unit; integration for a target that drives a real outside library). REPLAY_ARGS
# go before CORPUS to the plain replay program only (libFuzzer would take them for inputs).
function(veil_fuzz_target name)
  cmake_parse_arguments(ARG "" "TEST;CORPUS;LABEL" "LIBS;REPLAY_ARGS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${name} ${PROJECT_SOURCE_DIR}/fuzz/${name}.cc)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  if(VEIL_FUZZ)
    target_compile_definitions(${name} PRIVATE VEIL_LIBFUZZER)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    add_test(NAME ${ARG_TEST} COMMAND ${name} -runs=0 ${ARG_CORPUS})
  else()
    add_test(NAME ${ARG_TEST} COMMAND ${name} ${ARG_REPLAY_ARGS} ${ARG_CORPUS})
  endif()
  set_tests_properties(${ARG_TEST} PROPERTIES LABELS ${ARG_LABEL})
endfunction()
