# `cmake --install <build> --prefix P`: what a project outside this repository builds against
# (docs/package.md). Installs the public headers (not the tests' *_test_support.hpp / test_client.hpp,
# which need GoogleTest), libwaitless.a with the llhttp parser it is built on (libwaitless_llhttp.a and
# its llhttp.h), a CMake package (find_package(waitless): target waitless::waitless) and waitless.pc.
#
# The library is static, so its dependencies travel as the consumer's link items: waitlessConfig.cmake
# finds each one again (find_dependency / pkg-config) and waitless.pc names them in Requires.
# Compiler: a Release build holds ThinLTO bitcode (CMakeLists.txt), which only the same clang with its
# lld can link, and a sanitized build needs the same sanitizer runtime: both are recorded here and
# checked by waitlessConfig.cmake; other builds only warn on another compiler.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WAITLESS_PKG_CXX_ID ${CMAKE_CXX_COMPILER_ID})
string(REGEX MATCH "^[0-9]+" WAITLESS_PKG_CXX_MAJOR ${CMAKE_CXX_COMPILER_VERSION})
set(WAITLESS_PKG_LTO OFF)
if(CMAKE_INTERPROCEDURAL_OPTIMIZATION)
  set(WAITLESS_PKG_LTO ON)
endif()
# Link flags an installed consumer needs that the build tree sets globally (add_link_options).
set(WAITLESS_PKG_LINK_FLAGS "")
if(WAITLESS_PKG_LTO AND WAITLESS_LLD)
  list(APPEND WAITLESS_PKG_LINK_FLAGS --ld-path=${WAITLESS_LLD})
endif()
if(WAITLESS_SANITIZE)
  list(APPEND WAITLESS_PKG_LINK_FLAGS -fsanitize=${WAITLESS_SANITIZE})
endif()
foreach(flag ${WAITLESS_PKG_LINK_FLAGS})
  target_link_options(waitless INTERFACE $<INSTALL_INTERFACE:${flag}>)
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/waitless/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/waitless
        FILES_MATCHING PATTERN "*.hpp"
        PATTERN "*test_support.hpp" EXCLUDE
        PATTERN "test_client.hpp" EXCLUDE)
install(FILES ${LLHTTP_INCLUDE_DIR}/llhttp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/waitless/llhttp)
install(TARGETS waitless llhttp EXPORT waitlessTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(WAITLESS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/waitless)
install(EXPORT waitlessTargets NAMESPACE waitless:: DESTINATION ${WAITLESS_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/waitlessConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/waitlessConfig.cmake INSTALL_DESTINATION ${WAITLESS_CMAKE_DIR})
# Before 1.0 a minor version may break the API: only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/waitlessConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/waitlessConfig.cmake ${PROJECT_BINARY_DIR}/waitlessConfigVersion.cmake
        DESTINATION ${WAITLESS_CMAKE_DIR})

# pkg-config: prefix relative to the .pc file, so the package works wherever --prefix put it.
list(JOIN WAITLESS_PKG_LINK_FLAGS " " WAITLESS_PKG_LINK_FLAGS_STRING)
configure_file(${CMAKE_CURRENT_LIST_DIR}/waitless.pc.in ${PROJECT_BINARY_DIR}/waitless.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/waitless.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
