# SPDX-License-Identifier: MIT
"""Modbus peers for the integration tests: the detector simulator, a pymodbus server, a socat
pseudo-terminal pair. Each is a child process that is always stopped (quit, then kill).

The simulator (tests/sim/modbus_sim.c) and the pymodbus server below speak the same small
command language on stdin, one line per command and one line per reply:

    set UNIT input|holding|coil|discrete ADDR VALUE...   -> ok
    mode UNIT ok|silent|exception CODE|slow MS|garbage   -> ok         (simulator only)
    stats UNIT                                           -> requests N (simulator only)
    quit

Run as a script, this file is the pymodbus server:

    /usr/bin/python3 modbus_peers.py pymodbus --units 1,2

It prints `listening PORT` once it serves on 127.0.0.1 (a free port).
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# Every wait is bounded by this (seconds).
TIMEOUT = 10.0
KILL_AFTER = 5.0
PYTHON = "/usr/bin/python3"


class PeerError(AssertionError):
    pass


class Peer:
    """A child process driven line by line through its stdin and stdout."""

    def __init__(self, argv, name):
        self.argv = [str(a) for a in argv]
        self.name = name
        self.proc = None
        self._out = queue.Queue()
        self.stderr_lines = []
        self._threads = []

    def start(self, banner, timeout=TIMEOUT):
        """Starts the child and waits for its first line, which must start with `banner`;
        returns that line."""
        assert self.proc is None, f"{self.name} already started"
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     bufsize=1)
        for pipe, sink, eof in ((self.proc.stdout, self._out.put, True),
                                (self.proc.stderr, self.stderr_lines.append, False)):
            t = threading.Thread(target=self._pump, args=(pipe, sink, eof), daemon=True,
                                 name=f"{self.name}-reader")
            t.start()
            self._threads.append(t)
        line = self._reply(f"its banner '{banner}'", timeout)
        if not line.startswith(banner):
            raise PeerError(f"{self.name}: expected '{banner} ...', got {line!r}\n"
                            f"{self.describe()}")
        return line

    @staticmethod
    def _pump(pipe, sink, eof):
        """Copies a pipe's lines into sink; None marks the end of stdout."""
        for line in iter(pipe.readline, ""):
            sink(line.rstrip("\n"))
        if eof:
            sink(None)
        pipe.close()

    def _reply(self, what, timeout):
        try:
            line = self._out.get(timeout=timeout)
        except queue.Empty:
            raise PeerError(f"{self.name}: no {what} within {timeout} s\n"
                            f"{self.describe()}") from None
        if line is None:
            self._out.put(None)  # stays at end of stream for the next reader
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
            raise PeerError(f"{self.name} exited ({self.proc.returncode}) before {what}\n"
                            f"{self.describe()}")
        return line

    def command(self, line, expect=None, timeout=TIMEOUT):
        """Sends one command and returns its one-line reply (asserted to start with
        `expect` when given)."""
        assert self.alive(), f"{self.name} is not running\n{self.describe()}"
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self._reply(f"reply to {line!r}", timeout)
        if expect is not None and not reply.startswith(expect):
            raise PeerError(f"{self.name}: {line!r} -> {reply!r}, wanted {expect!r}")
        return reply

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        """quit, then SIGTERM, then SIGKILL: the child is gone after this, whatever state
        it was in."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=KILL_AFTER)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=KILL_AFTER)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=TIMEOUT)
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        for t in self._threads:
            t.join(TIMEOUT)

    def describe(self):
        rc = self.proc.poll() if self.proc else None
        return "\n".join([f"--- {self.name} ({' '.join(self.argv)}), exit {rc} ---",
                          *self.stderr_lines])


class Registers:
    """The commands both peers understand."""

    def set(self, unit, table, addr, *values):
        self.command(f"set {unit} {table} {addr} " + " ".join(str(v) for v in values), "ok")


class ModbusSim(Peer, Registers):
    """tests/modbus-sim: many unit ids on one TCP port, or one unit id on a serial device."""

    def __init__(self, binary, argv, name="modbus-sim"):
        super().__init__([binary, *argv], name)
        self.port = None

    def mode(self, unit, *how):
        self.command(f"mode {unit} " + " ".join(str(h) for h in how), "ok")

    def stats(self, unit):
        reply = self.command(f"stats {unit}", "requests ")
        return int(reply.split()[1])



class PymodbusServer(Peer, Registers):
    """pymodbus's own asyncio TCP server (this file run as a script)."""

    def __init__(self, units):
        super().__init__([PYTHON, Path(__file__).resolve(), "pymodbus", "--units",
                          ",".join(str(u) for u in units)], name="pymodbus server")
        self.port = None


class SocatPair:
    """Two linked pseudo-terminals, reachable as <dir>/ttyA and <dir>/ttyB."""

    def __init__(self, directory):
        self.a = Path(directory) / "ttyA"
        self.b = Path(directory) / "ttyB"
        self.proc = None
        self.log = None

    def start(self, timeout=TIMEOUT):
        self.log = open(self.a.parent / "socat.log", "w+")
        self.proc = subprocess.Popen(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}",
             f"pty,raw,echo=0,link={self.b}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while not (self.a.exists() and self.b.exists()):
            if self.proc.poll() is not None:
                raise PeerError(f"socat exited ({self.proc.returncode})\n{self.describe()}")
            if time.monotonic() > deadline:
                raise PeerError(f"socat: no {self.a} and {self.b} within {timeout} s\n"
                                f"{self.describe()}")
            time.sleep(0.05)
        return self

    def describe(self):
        if not self.log:
            return ""
        self.log.flush()
        self.log.seek(0)
        return "--- socat ---\n" + self.log.read()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=KILL_AFTER)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
        if self.log:
            self.log.close()
            self.log = None


# ---- the pymodbus server, when this file runs as a script ----


def _stub_serial_modules():
    """pymodbus.server imports pyserial and serial_asyncio at the top even for TCP; Debian's
    python3-pymodbus only recommends them. Stand-ins are enough for a TCP server."""
    import importlib.util
    import types
    if importlib.util.find_spec("serial") is None:
        serial = types.ModuleType("serial")
        serial.serialutil = types.SimpleNamespace(SerialException=OSError)
        sys.modules["serial"] = serial
    if importlib.util.find_spec("serial_asyncio") is None:
        sa = types.ModuleType("serial_asyncio")

        async def create_serial_connection(*a, **kw):
            raise OSError("no pyserial here: TCP only")

        sa.create_serial_connection = create_serial_connection
        sys.modules["serial_asyncio"] = sa


def _pymodbus_main(argv):
    import argparse
    import asyncio
    import logging

    ap = argparse.ArgumentParser(prog="modbus_peers.py pymodbus")
    ap.add_argument("--units", default="1")
    args = ap.parse_args(argv)
    units = [int(u) for u in args.units.split(",")]

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    _stub_serial_modules()
    from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                    ModbusSlaveContext)
    from pymodbus.server.async_io import ModbusTcpServer
    from pymodbus.transaction import ModbusSocketFramer

    def block():
        return ModbusSequentialDataBlock(0, [0] * 100)

    # zero_mode: register address 0 on the wire is index 0 of the block.
    slaves = {u: ModbusSlaveContext(di=block(), co=block(), hr=block(), ir=block(),
                                    zero_mode=True) for u in units}
    context = ModbusServerContext(slaves=slaves, single=False)
    tables = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}

    def reply(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def command(line):
        words = line.split()
        if not words:
            return True
        if words[0] == "quit":
            return False
        if words[0] == "set" and len(words) >= 5 and words[2] in tables:
            unit = int(words[1])
            if unit not in slaves:
                reply(f"error: no unit {unit}")
                return True
            values = [int(v, 0) & 0xFFFF for v in words[4:]]
            context[unit].setValues(tables[words[2]], int(words[3]), values)
            reply("ok")
            return True
        reply(f"error: unknown command {words[0]}")
        return True

    async def serve():
        # ignore_missing_slaves: an absent unit id stays silent, as on a real RS-485 line.
        server = ModbusTcpServer(context, ModbusSocketFramer, None, ("127.0.0.1", 0),
                                 ignore_missing_slaves=True)
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        reply(f"listening {server.server.sockets[0].getsockname()[1]}")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or not command(line):
                break
        await server.shutdown()
        task.cancel()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "pymodbus":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        sys.exit(_pymodbus_main(sys.argv[2:]))
    sys.stderr.write("usage: modbus_peers.py pymodbus [--units 1,2]\n")
    sys.exit(2)
