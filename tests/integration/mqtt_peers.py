# SPDX-License-Identifier: MIT
"""MQTT peers for the integration tests: a real mosquitto broker on a free loopback port, the
mosquitto_pub client, and a test CA made with the openssl command line.

Each broker is a child process that is always stopped (SIGTERM, then SIGKILL). Its log goes to
a file in the test's tmp dir (log_type all), so a test can count connection attempts.
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

TIMEOUT = 10.0
KILL_AFTER = 5.0


class PeerError(AssertionError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto -c <dir>/mosquitto.conf, listening on 127.0.0.1:port only.

    passwords: {user: password} makes a password file and refuses anonymous clients.
    tls: a TestCA; the listener then needs a client certificate signed by it.
    persistence: sessions and queued messages survive a restart (stop() then start()).
    """

    def __init__(self, directory, passwords=None, tls=None, persistence=False, port=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        # A port picked here may be taken before mosquitto binds it (another test's peer, an
        # outgoing connection): the first start then picks another (start()).
        self._may_move = port is None
        self.conf = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"
        self.proc = None
        lines = [f"listener {self.port} 127.0.0.1",
                 f"log_dest file {self.log}",
                 "log_type all",
                 "connection_messages true",
                 # A local broker for firegw must not drop QoS 1 messages to a slow
                 # subscriber (its default is 1000, see DESIGN.md section 4).
                 "max_queued_messages 100000"]
        if os.geteuid() == 0:
            # As root, mosquitto would switch to its own user, which cannot write here.
            lines.append("user root")
        if passwords:
            pw = self.dir / "passwd"
            pw.write_text("", encoding="utf-8")
            for user, password in passwords.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password],
                               check=True, capture_output=True, timeout=TIMEOUT)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [f"cafile {tls.ca_cert}", f"certfile {tls.server_cert}",
                      f"keyfile {tls.server_key}", "require_certificate true"]
        if persistence:
            lines += ["persistence true", f"persistence_location {self.dir}/",
                      "autosave_interval 1"]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, timeout=TIMEOUT):
        for _ in range(3):
            try:
                return self._start(timeout)
            except PeerError:
                if not (self._may_move and "Address already in use" in self.describe()):
                    raise
            old, self.port = self.port, free_port()
            text = self.conf.read_text(encoding="utf-8")
            self.conf.write_text(text.replace(f"listener {old} ", f"listener {self.port} ", 1),
                                 encoding="utf-8")
        return self._start(timeout)

    def _start(self, timeout):
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PeerError(f"mosquitto exited ({self.proc.returncode})\n{self.describe()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self._may_move = False  # listening: the port is this broker's now
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise PeerError(f"mosquitto: not listening on {self.port} within {timeout} s"
                                f"\n{self.describe()}")
            time.sleep(0.05)

    def stop(self):
        """SIGTERM (a persistent broker saves its state then), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=KILL_AFTER)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)

    close = stop

    def log_lines(self):
        try:
            return self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def describe(self):
        return "\n".join([f"--- mosquitto :{self.port} ({self.conf}) ---", *self.log_lines()])

    def pub_args(self, tls=None, user=None, password=None):
        args = ["-h", "127.0.0.1", "-p", str(self.port)]
        if tls:
            args += ["--cafile", str(tls.ca_cert), "--cert", str(tls.client_cert),
                     "--key", str(tls.client_key)]
        if user:
            args += ["-u", user, "-P", password]
        return args

    def publish(self, topic, payload, retain=False, qos=1, tls=None, user=None, password=None):
        """One message with mosquitto_pub; payload is str or bytes (sent as they are)."""
        args = ["mosquitto_pub", *self.pub_args(tls, user, password), "-q", str(qos),
                "-t", topic]
        if retain:
            args.append("-r")
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        args += ["-s"] if data else ["-n"]  # stdin byte for byte, or an empty message
        r = subprocess.run(args, input=data, capture_output=True, timeout=TIMEOUT)
        if r.returncode != 0:
            raise PeerError(f"mosquitto_pub -t {topic} failed ({r.returncode}): "
                            f"{r.stderr.decode(errors='replace')}\n{self.describe()}")

    def publish_lines(self, topic, lines, qos=1):
        """Many messages in one mosquitto_pub (-l: one message per line)."""
        args = ["mosquitto_pub", *self.pub_args(), "-q", str(qos), "-t", topic, "-l"]
        r = subprocess.run(args, input="\n".join(lines) + "\n", text=True,
                           capture_output=True, timeout=TIMEOUT * 3)
        if r.returncode != 0:
            raise PeerError(f"mosquitto_pub -l failed ({r.returncode}): {r.stderr}")


class TestCA:
    __test__ = False  # not a pytest test class
    """A CA, a broker certificate for 127.0.0.1 and a client certificate, made with openssl."""

    def __init__(self, directory):
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.ca_key, self.ca_cert = d / "ca.key", d / "ca.crt"
        self.server_key, self.server_cert = d / "server.key", d / "server.crt"
        self.client_key, self.client_cert = d / "client.key", d / "client.crt"

        def ssl(*args):
            r = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                               timeout=TIMEOUT * 3, cwd=d)
            if r.returncode != 0:
                raise PeerError(f"openssl {' '.join(map(str, args))}: {r.stderr}")

        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=firegw test CA", "-keyout", self.ca_key, "-out", self.ca_cert)
        ext = d / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
        for key, cert, cn, extfile in ((self.server_key, self.server_cert, "127.0.0.1", ext),
                                       (self.client_key, self.client_cert, "firegw", None)):
            csr = cert.with_suffix(".csr")
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", key, "-out", csr)
            args = ["x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                    "-CAcreateserial", "-days", "2", "-out", cert]
            if extfile:
                args += ["-extfile", extfile]
            ssl(*args)
        for key in (self.ca_key, self.server_key, self.client_key):
            os.chmod(key, 0o600)
