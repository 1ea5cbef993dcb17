"""Drive a guest's serial console through wirt's stdin/stdout pipes."""
import os
import select
import subprocess
import time


class GuestConsole:
    def __init__(self, args, log_path=None):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)
        self.buf = b""
        self.log = open(log_path, "wb") if log_path else None

    def _read_some(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return False
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return None
        if self.log:
            self.log.write(data)
            self.log.flush()
        self.buf += data
        return True

    def expect(self, text, timeout):
        """Wait until text appears; return everything up to and including it."""
        text = text.encode()
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(text)
            if i >= 0:
                out, self.buf = self.buf[:i + len(text)], self.buf[i + len(text):]
                return out.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("did not see %r; last output: %r" % (text, self.buf[-800:]))
            if self._read_some(min(left, 1.0)) is None:
                raise EOFError("wirt exited (status %s) before %r; last output: %r"
                               % (self.proc.wait(), text, self.buf[-800:]))

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def run(self, command, prompt="~ # ", timeout=120):
        """Run a shell command; return its output (without the echoed command)."""
        self.send(command)
        out = self.expect(prompt, timeout)
        lines = out.replace("\r", "").split("\n")
        # Drop the echoed command line and the prompt line.
        return "\n".join(l for l in lines[1:-1])

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read_some(0.5)
        return self.proc.poll()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
