"""A TCP port on 127.0.0.1 that nothing listens on right now (for hostfwd,
VNC and socket back ends in tests)."""
import socket


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
