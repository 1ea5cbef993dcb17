# The control plane (src/control/): the QMP monitor reports wirt's version
# in its greeting and in query-version.
build/obj/src/control/qmp_commands.o build/san/src/control/qmp_commands.o: CFLAGS += -DWIRT_VERSION='"$(WIRT_VERSION)"'
