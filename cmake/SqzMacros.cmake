# Small helpers shared by the project's CMakeLists.

# sqz_add_library(name SRCS... [LINK libs...] [DEPENDS targets...])
# A library of the compiler: links libMLIR.so / libLLVM.so (never static components).
function(sqz_add_library name)
  cmake_parse_arguments(ARG "" "" "LINK;DEPENDS" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK} MLIR LLVM)
endfunction()
