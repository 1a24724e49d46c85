#!/usr/bin/env python3
"""A small Kafka-protocol SASL endpoint for rkafka's client-core tests.

Answers ApiVersions (v0-3; a v4+ request gets the broker's v0-shaped
UNSUPPORTED_VERSION answer), SaslHandshake v1, SaslAuthenticate v0-2 and
Metadata v1, enough to test authentication end to end. The SCRAM server side
is the independent `scramp` implementation, so a passing exchange means our
client agrees with someone else's reading of RFC 5802/7677.

Test hooks:
- `--session-lifetime-ms N`: announce a session lifetime (KIP-368); a
  non-SASL request after it expired closes the connection, as Kafka does.
- `--expiry-grace-ms N`: close only N ms after expiry, so that a client that
  re-authenticates on time but is descheduled on a loaded machine still
  passes, while one that never re-authenticates is still caught.
- Metadata v1 answers carry, in `controller_id`, how many successful
  authentications this connection has made (so a test can see re-auth).

Prints "LISTENING <port>" on stdout once it accepts connections.
"""

import argparse
import socket
import struct
import sys
import threading
import time

from scramp import ScramException, ScramMechanism

UNSUPPORTED_VERSION = 35
UNSUPPORTED_SASL_MECHANISM = 33
ILLEGAL_SASL_STATE = 34
SASL_AUTHENTICATION_FAILED = 58

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA = 18, 17, 36, 3
SUPPORTED = {API_VERSIONS: (0, 3), SASL_HANDSHAKE: (0, 1), SASL_AUTHENTICATE: (0, 2), METADATA: (1, 1)}


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        v = self.d[self.p:self.p + n]
        if len(v) != n:
            raise ValueError("truncated")
        self.p += n
        return v

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def bytes_(self):
        return self.take(self.i32())

    def compact_bytes(self):
        return self.take(self.uvarint() - 1)

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def uvarint(n):
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Conn:
    def __init__(self, sock, args, creds):
        self.sock, self.args, self.creds = sock, args, creds
        self.mechanism = None
        self.scram = None
        self.oauth_failed = False
        self.auths = 0
        self.expires_at = None
        # True from SaslHandshake until its exchange ends: another request
        # then means the client interleaved it with (re-)authentication.
        self.in_exchange = False

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def send(self, corr, body, flexible_header=False):
        header = struct.pack(">i", corr) + (b"\x00" if flexible_header else b"")
        payload = header + body
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def run(self):
        try:
            while True:
                size = struct.unpack(">i", self.recv_exact(4))[0]
                r = Reader(self.recv_exact(size))
                key, ver, corr = r.i16(), r.i16(), r.i32()
                r.string()  # client id
                flexible = (key == API_VERSIONS and ver >= 3) or (key == SASL_AUTHENTICATE and ver >= 2)
                if flexible:
                    r.skip_tags()
                if key not in (API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE):
                    if self.mechanism_required() and not self.authenticated():
                        return  # Kafka closes unauthenticated or expired sessions
                    if self.in_exchange:
                        return  # a request interleaved with re-authentication
                if key == API_VERSIONS:
                    self.api_versions(r, ver, corr)
                elif key == SASL_HANDSHAKE:
                    self.handshake(r, corr)
                elif key == SASL_AUTHENTICATE:
                    if not self.authenticate(r, ver, corr):
                        return
                elif key == METADATA:
                    self.metadata(corr)
                else:
                    return
        except (EOFError, ConnectionError, ValueError):
            pass
        finally:
            self.sock.close()

    def mechanism_required(self):
        return True

    def authenticated(self):
        grace = self.args.expiry_grace_ms / 1000.0
        return self.auths > 0 and (self.expires_at is None or time.monotonic() < self.expires_at + grace)

    def api_versions(self, r, ver, corr):
        if ver > SUPPORTED[API_VERSIONS][1]:
            listed = [] if self.args.unsupported_lists_none else sorted(SUPPORTED.items())
            body = struct.pack(">hi", UNSUPPORTED_VERSION, len(listed))
            for k, (lo, hi) in listed:
                body += struct.pack(">hhh", k, lo, hi)
            return self.send(corr, body)
        if ver >= 3:
            r.compact_string()
            r.compact_string()
            body = struct.pack(">h", 0) + uvarint(len(SUPPORTED) + 1)
            for k, (lo, hi) in sorted(SUPPORTED.items()):
                body += struct.pack(">hhh", k, lo, hi) + b"\x00"
            body += struct.pack(">i", 0) + b"\x00"
        else:
            body = struct.pack(">hi", 0, len(SUPPORTED))
            for k, (lo, hi) in sorted(SUPPORTED.items()):
                body += struct.pack(">hhh", k, lo, hi)
            if ver >= 1:
                body += struct.pack(">i", 0)
        self.send(corr, body)

    def handshake(self, r, corr):
        mech = r.string()
        enabled = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
        error = 0 if mech in enabled else UNSUPPORTED_SASL_MECHANISM
        self.mechanism = mech if error == 0 else None
        self.in_exchange = error == 0
        self.scram = None
        self.oauth_failed = False
        body = struct.pack(">hi", error, len(enabled)) + b"".join(string(m) for m in enabled)
        self.send(corr, body)

    def authenticate(self, r, ver, corr):
        auth = r.compact_bytes() if ver >= 2 else r.bytes_()
        ok, done, reply = self.step(auth)
        lifetime = self.args.session_lifetime_ms if (ok and done) else 0
        message = None if ok else (
            "Authentication failed during authentication due to invalid credentials "
            "with SASL mechanism %s" % self.mechanism)
        if done or not ok:
            self.in_exchange = False
        if ok and done:
            self.auths += 1
            self.expires_at = (time.monotonic() + lifetime / 1000.0) if lifetime else None
        error = 0 if ok else SASL_AUTHENTICATION_FAILED
        if ver >= 2:
            body = struct.pack(">h", error) + compact_string(message) + uvarint(len(reply) + 1) + reply
        else:
            body = struct.pack(">h", error) + string(message) + struct.pack(">i", len(reply)) + reply
        if ver >= 1:
            body += struct.pack(">q", lifetime)
        if ver >= 2:
            body += b"\x00"
        self.send(corr, body, flexible_header=ver >= 2)
        return ok

    def step(self, auth):
        """Returns (ok, done, server bytes)."""
        mech = self.mechanism
        if mech == "PLAIN":
            parts = auth.split(b"\x00")
            good = len(parts) == 3 and self.creds.get(parts[1].decode()) == parts[2].decode()
            return good, True, b""
        if mech and mech.startswith("SCRAM-"):
            try:
                if self.scram is None:
                    m = ScramMechanism(mech)
                    infos = {u: m.make_auth_info(p, iteration_count=4096) for u, p in self.creds.items()}

                    def lookup(user):
                        if user not in infos:
                            raise ScramException("unknown user")
                        return infos[user]

                    self.scram = m.make_server(lookup)
                    self.scram.set_client_first(auth.decode())
                    return True, False, self.scram.get_server_first().encode()
                self.scram.set_client_final(auth.decode())
                final = self.scram.get_server_final().encode()
                self.scram = None
                return True, True, final
            except ScramException:
                self.scram = None
                return False, True, b""
        if mech == "OAUTHBEARER":
            if self.oauth_failed:
                return False, True, b""  # the client acknowledged our error challenge
            text = auth.decode(errors="replace")
            wanted = ["auth=Bearer %s" % self.args.oauth_token] + self.args.oauth_extension
            if all(("\x01%s\x01" % kv) in text for kv in wanted):
                return True, True, b""
            self.oauth_failed = True
            return True, False, b'{"status":"invalid_token"}'
        return False, True, b""

    def metadata(self, corr):
        host, port = self.sock.getsockname()[:2]
        body = struct.pack(">i", 1) + struct.pack(">i", 0) + string(host) + struct.pack(">i", port)
        body += string(None)  # rack
        body += struct.pack(">i", self.auths)  # controller_id: authentications so far
        body += struct.pack(">i", 0)  # no topics
        self.send(corr, body)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--user", action="append", default=[], help="name:password")
    p.add_argument("--session-lifetime-ms", type=int, default=0)
    p.add_argument("--expiry-grace-ms", type=int, default=0)
    p.add_argument("--oauth-extension", action="append", default=[],
                   help="key=value the OAUTHBEARER message must carry (KIP-342)")
    p.add_argument("--oauth-token", default="good-token")
    p.add_argument("--unsupported-lists-none", action="store_true")
    args = p.parse_args()
    creds = dict(u.split(":", 1) for u in args.user)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("LISTENING %d" % srv.getsockname()[1], flush=True)
    # Stop when the test that started us goes away (stdin closes).
    threading.Thread(target=lambda: (sys.stdin.read(), srv.close()), daemon=True).start()
    while True:
        try:
            s, _ = srv.accept()
        except OSError:
            return
        threading.Thread(target=Conn(s, args, creds).run, daemon=True).start()


if __name__ == "__main__":
    main()
