# The run-time sandbox (src/util/sandbox.c): seccomp-bpf filters built
# with libseccomp (Debian libseccomp-dev).
LIBS += -lseccomp
