"""A small RFB (VNC) client written from the RFB protocol (RFC 6143) with
Python's socket and struct only: version 3.8, security None (VNC
authentication is only seen offered), raw encoding and the DesktopSize
pseudo-encoding, key events.  Tests use it as a real viewer of wirt's
VNC server."""
import socket
import struct

ENC_RAW = 0
ENC_DESKTOP_SIZE = -223
ENC_EXT_DESKTOP_SIZE = -308


class Rfb:
    """One viewer: Rfb(port) reads the version and the security types;
    init() finishes the handshake and asks for 32-bit XRGB pixels."""

    def __init__(self, port, host="127.0.0.1", timeout=20, sock=None):
        self.s = sock or socket.create_connection((host, port), timeout=timeout)
        version = self.recvn(12)
        assert version.startswith(b"RFB 003."), version
        self.s.sendall(b"RFB 003.008\n")
        n = self.recvn(1)[0]
        self.security = list(self.recvn(n))

    def close(self):
        self.s.close()

    def recvn(self, n):
        data = b""
        while len(data) < n:
            chunk = self.s.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def init(self, security=1):
        """Choose a security type; 0, or the failed SecurityResult."""
        self.s.sendall(bytes([security]))
        result = struct.unpack(">I", self.recvn(4))[0]
        if result:
            return result
        self.s.sendall(b"\x01")      # shared: other viewers stay
        self.w, self.h = struct.unpack(">HH", self.recvn(4))
        self.recvn(16)               # the server's pixel format
        name_len = struct.unpack(">I", self.recvn(4))[0]
        self.name = self.recvn(name_len)
        # SetPixelFormat: 32 bpp, depth 24, little-endian, true colour,
        # red at bit 16, green at 8, blue at 0 (XRGB).
        self.s.sendall(b"\x00\x00\x00\x00" +
                       struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        self.s.sendall(struct.pack(">BxHii", 2, 2, ENC_RAW, ENC_DESKTOP_SIZE))
        self.fb = bytearray(self.w * self.h * 4)
        return 0

    def request(self, incremental=False):
        self.s.sendall(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.w, self.h))

    def read_update(self):
        """The next FramebufferUpdate, applied: its (x, y, w, h, encoding)s."""
        while True:
            kind = self.recvn(1)[0]
            if kind == 0:
                break
            if kind == 1:            # SetColourMapEntries
                _, _, n = struct.unpack(">BHH", self.recvn(5))
                self.recvn(6 * n)
            elif kind == 3:          # ServerCutText
                self.recvn(3)
                self.recvn(struct.unpack(">I", self.recvn(4))[0])
            elif kind != 2:          # 2: Bell
                raise ValueError("unknown server message %d" % kind)
        self.recvn(1)
        rects = []
        for _ in range(struct.unpack(">H", self.recvn(2))[0]):
            x, y, w, h, enc = struct.unpack(">HHHHi", self.recvn(12))
            rects.append((x, y, w, h, enc))
            if enc == ENC_RAW:
                data = self.recvn(w * h * 4)
                for row in range(h):
                    o = ((y + row) * self.w + x) * 4
                    self.fb[o:o + w * 4] = data[row * w * 4:(row + 1) * w * 4]
            elif enc == ENC_DESKTOP_SIZE:
                self.w, self.h = w, h
                self.fb = bytearray(w * h * 4)
            elif enc == ENC_EXT_DESKTOP_SIZE:
                # x: why (1: this viewer asked), y: the status of the
                # request (0: done); then the screens.
                n = self.recvn(4)[0]
                self.screens = [struct.unpack(">IHHHHI", self.recvn(16)) for _ in range(n)]
                if y == 0:
                    self.w, self.h = w, h
                    self.fb = bytearray(w * h * 4)
            else:
                raise ValueError("unasked-for encoding %d" % enc)
        return rects

    def rgb(self):
        """The framebuffer as RGB bytes (as a PPM holds them)."""
        out = bytearray(self.w * self.h * 3)
        out[0::3] = self.fb[2::4]
        out[1::3] = self.fb[1::4]
        out[2::3] = self.fb[0::4]
        return bytes(out)

    def pixel(self, x, y):
        o = (y * self.w + x) * 4
        return (self.fb[o + 2], self.fb[o + 1], self.fb[o])

    def key(self, keysym, down):
        self.s.sendall(struct.pack(">BBxxI", 4, int(down), keysym))

    def set_encodings(self, *encodings):
        self.s.sendall(struct.pack(">BxH%di" % len(encodings), 2, len(encodings), *encodings))

    def set_desktop_size(self, w, h):
        """SetDesktopSize (ExtendedDesktopSize): one screen of w x h."""
        self.s.sendall(struct.pack(">BxHHBx", 251, w, h, 1) +
                       struct.pack(">IHHHHI", 0, 0, 0, w, h, 0))

    def pointer(self, x, y, buttons=0):
        """PointerEvent: buttons bit 0 left, 1 middle, 2 right."""
        self.s.sendall(struct.pack(">BBHH", 5, buttons, x, y))

    def tap(self, keysym):
        self.key(keysym, True)
        self.key(keysym, False)


class WebSocket:
    """RFB over a WebSocket (RFC 6455) as noVNC speaks it: binary frames,
    masked from the client.  Has the socket methods Rfb uses."""

    def __init__(self, host, port, path="/websockify", timeout=20):
        import base64
        import os
        self.s = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n"
                        % (path, host, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(1)
            if not chunk:
                raise EOFError("no WebSocket handshake")
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        self.pending = b""

    def settimeout(self, t):
        self.s.settimeout(t)

    def close(self):
        self.s.close()

    def sendall(self, data, opcode=2):
        import os
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else
                                struct.pack(">BH", 0x80 | 126, n) if n < 65536 else
                                struct.pack(">BQ", 0x80 | 127, n))
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.s.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def recv(self, n):
        while not self.pending:
            head = self._exact(2)
            if head is None:
                return b""
            length = head[1] & 0x7f
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(length) if length else b""
            if head[0] & 0x0f == 8:          # close
                return b""
            if head[0] & 0x0f in (1, 2, 0):
                self.pending += payload
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def recv_message(self):
        """One whole message (text or binary), or None when closed."""
        message = b""
        while True:
            head = self._exact(2)
            if head is None:
                return None
            length = head[1] & 0x7f
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(length) if length else b""
            if head[0] & 0x0f == 8:
                return None
            if head[0] & 0x0f in (0, 1, 2):
                message += payload
                if head[0] & 0x80:
                    return message
