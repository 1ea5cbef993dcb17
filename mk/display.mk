# The display (src/ui/): PNG screendumps through libpng, VNC through
# libvncserver.
LIBS += -lpng -lvncserver
