# The display (src/ui/display.c, screendump.c): PNG through libpng.
LIBS += -lpng
