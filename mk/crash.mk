# Crash-safety test helper: tests/crash/img_crash_writer.c writes to an
# image until tests/integration/test_img_crash.py kills it.  Linked with
# the block layer alone (and logging), so it builds whatever else is in
# progress in src/.
CRASH_WRITER := build/tests/img_crash_writer
CRASH_OBJS := $(filter build/obj/src/block/%,$(LIB_OBJS)) build/obj/src/util/log.o

$(CRASH_WRITER): tests/crash/img_crash_writer.c $(CRASH_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(CRASH_OBJS) $(LIBS)

integration: $(CRASH_WRITER)
