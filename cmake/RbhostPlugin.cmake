# rb_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>])
# Builds an in-tree backend exactly as a third party would: against the SDK
# only, exporting nothing but the entry symbol, with no undefined symbols.
function(rb_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(rb_plugin_${name} MODULE ${P_SOURCES})
  set_target_properties(rb_plugin_${name} PROPERTIES
    OUTPUT_NAME ${name} PREFIX "" INSTALL_RPATH ""
    LIBRARY_OUTPUT_DIRECTORY "${RBHOST_PLUGIN_OUTPUT_DIR}")
  target_link_libraries(rb_plugin_${name} PRIVATE rbhost_sdk ${P_LIBRARIES})
  set(map "${PROJECT_SOURCE_DIR}/sdk/rbhost-plugin.map")
  target_link_options(rb_plugin_${name} PRIVATE "LINKER:--version-script=${map}" "LINKER:-z,defs")
  set_property(TARGET rb_plugin_${name} APPEND PROPERTY LINK_DEPENDS "${map}")
  install(TARGETS rb_plugin_${name} LIBRARY DESTINATION "${RBHOST_PLUGIN_RELDIR}")
endfunction()
