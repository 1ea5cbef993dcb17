"""A small QMP client written from QEMU's protocol documentation
(docs/interop/qmp-spec), with Python's socket and json only: tests use it
to talk to wirt and to QEMU alike."""
import codecs
import json
import socket
import time


class QmpClient:
    def __init__(self, path, timeout=10.0, connect_wait=10.0):
        deadline = time.monotonic() + connect_wait
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = ""
        self.utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self.events = []
        self.decoder = json.JSONDecoder()
        self.greeting = self.recv()

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=None):
        """The next message (reply or event), parsed; None at EOF."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        while True:
            self.buf = self.buf.lstrip()
            if self.buf:
                try:
                    obj, end = self.decoder.raw_decode(self.buf)
                    self.buf = self.buf[end:]
                    return obj
                except ValueError:
                    pass
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += self.utf8.decode(data)

    def reply(self, timeout=None):
        """The next reply; events on the way are kept in self.events."""
        while True:
            msg = self.recv(timeout)
            if msg is None:
                return None
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def execute(self, command, arguments=None, id=None):
        req = {"execute": command}
        if arguments is not None:
            req["arguments"] = arguments
        if id is not None:
            req["id"] = id
        self.send_raw(json.dumps(req).encode() + b"\n")
        return self.reply()

    def negotiate(self):
        r = self.execute("qmp_capabilities")
        assert r == {"return": {}}, r
        return r

    def cmd(self, command, arguments=None):
        """Execute; return the "return" value, failing on an error."""
        r = self.execute(command, arguments)
        assert r is not None and "return" in r, (command, r)
        return r["return"]

    def wait_event(self, name, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %s event; have %r" % (name, self.events))
            msg = self.recv(left)
            if msg is None:
                raise EOFError("connection closed waiting for %s" % name)
            if "event" in msg:
                self.events.append(msg)
