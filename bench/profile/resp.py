"""A minimal RESP client over a raw socket for the profiling drivers (no client library
needed, and nothing between the driver and the server's instruction counts)."""
import socket


class Conn:
    """One connection: `call` sends a command and reads its reply, `pipeline` sends many
    and reads their replies in order."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    @staticmethod
    def enc(*a):
        out = [b"*%d\r\n" % len(a)]
        for x in a:
            x = x if isinstance(x, bytes) else str(x).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(x), x))
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b":"):
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(line)

    def call(self, *a):
        self.s.sendall(self.enc(*a))
        return self.read()

    def pipeline(self, cmds, batch=10000):
        out = []
        for i in range(0, len(cmds), batch):
            part = cmds[i : i + batch]
            self.s.sendall(b"".join(self.enc(*c) for c in part))
            out.extend(self.read() for _ in part)
        return out
