# Networking: user-mode NAT through libslirp (Debian libslirp-dev).
LIBS += -lslirp
