"""Read an untrusted file in a process of its own, under a memory limit.

The limits (`tenants.intake.limits`) refuse what a file declares; a file can still lie (a
zip part bigger than its directory says) or find a reader's weak spot. So the preview and
the import read in a child process that only reads: it opens the file, parses it and
sends the records back, and the asking process (the web app, a worker) validates and
writes them. A watchdog thread here kills the child when its resident memory passes the
tenant's limit, and its address space is capped well above that as a last resort; either
way only the child dies, and the caller gets a `reader.FileError` saying the file needs
more memory than it may have.

A fresh interpreter spends seconds importing polars and the readers, so each process that
reads files starts one small server (`python -m tenants.intake.formats.confined`) that
imports them once and forks a reader per file: a reader starts in milliseconds. The
server forks from its only Python thread, before polars has started its thread pool, so
a reader inherits no lock another thread held. Between the server and each reader sits a
manager process that waits for the reader and reports how it ended (its exit code), since
a reader killed mid-way cannot say so itself. (multiprocessing's fork server would re-run
the caller's main script in every child; this one runs only the readers.)
"""

from __future__ import annotations

import io
import logging
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl
import psutil

from core.formatting import int_br
from tenants.intake.formats import reader
from tenants.intake.formats.reader import FileFormat
from tenants.intake.limits import MB, Limits

log = logging.getLogger("regua.intake")

ROOT = Path(__file__).resolve().parents[3]
WATCH_EVERY = 0.05  # seconds between two looks at a reader's memory
# The address-space cap: virtual size runs well ahead of resident memory (thread stacks,
# the allocator's reserved arenas), so this only stops a reader the watchdog is too slow
# for, such as one asking for gigabytes at once.
ADDRESS_SPACE_FACTOR = 4
ADDRESS_SPACE_EXTRA = 2048 * MB
# How a reader ended, from its manager: exit code, peak resident memory (KB), CPU (ms).
_ENDING = struct.Struct("!iqq")


@dataclass
class ReaderFigures:
    """This process's file readers so far: the largest one's peak memory and their CPU
    (for the import benchmark, which measures the import's process and these apart)."""

    peak_rss_kb: int = 0
    cpu_s: float = 0.0


READERS = ReaderFigures()


def memory_message(limits: Limits) -> str:
    return (f"o arquivo excede o limite de memória ao ser lido ({int_br(limits.memory_mb)} MB,"
            " o limite deste credor): ele se expande para muito mais do que o seu tamanho."
            " Confira se é o arquivo certo, ou salve-o como CSV e envie de novo")


def sniff(path: Path, sheet: str | None, limits: Limits) -> FileFormat:
    """`reader.sniff` in a reader process."""
    with _Reader(("sniff", (path, sheet, limits)), limits) as child:
        result: FileFormat = child.receive()
        return result


def iter_records(path: Path, fmt: FileFormat,
                 limits: Limits) -> Iterator[tuple[pl.DataFrame, int]]:
    """`reader.iter_records` in a reader process, its batches sent here as they come (the
    reader waits while the pipe is full, so at most a batch or two are on their way)."""
    with _Reader(("records", (path, fmt, limits)), limits) as child:
        while (bytes_read := child.receive()) is not None:
            # Arrow IPC, not pickle: a sixth of the time both ways.
            yield pl.read_ipc(io.BytesIO(child.receive_bytes())), bytes_read


# ---- this side: the server, and one reader per file ------------------------------------

_lock = threading.Lock()
_server: subprocess.Popen[bytes] | None = None
_control: socket.socket | None = None


def warm_up() -> None:
    """Start this process's server now, so the first file does not wait for its imports."""
    with _lock:
        _running_server()


def _running_server() -> socket.socket:
    global _server, _control
    if _server is None or _server.poll() is not None or _control is None:
        if _control is not None:
            _control.close()
        ours, theirs = socket.socketpair()
        try:
            _server = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], cwd=ROOT, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        _control = ours
    return _control


def _start_reader(fds: list[int]) -> None:
    """Ask the server for a reader on these sockets (a server that died is restarted)."""
    with _lock:
        for attempt in (1, 2):
            try:
                socket.send_fds(_running_server(), [b"r"], fds)
                return
            except OSError:
                if attempt == 2:
                    raise
                assert _server is not None
                _server.kill()


class _Reader:
    def __init__(self, job: tuple[str, tuple[Any, ...]], limits: Limits) -> None:
        self.limits = limits
        ours, theirs = socket.socketpair()
        self.status, status_theirs = socket.socketpair()
        try:
            _start_reader([theirs.fileno(), status_theirs.fileno()])
        finally:
            theirs.close()
            status_theirs.close()
        self.conn = Connection(ours.detach())
        self.over_memory = threading.Event()
        self.done = threading.Event()
        self.pid: int | None = None
        self.code: int | None = None
        self.pid = self.receive()
        self.conn.send((*job, limits))
        threading.Thread(target=self._watch, name="intake-read-watchdog", daemon=True).start()

    def _watch(self) -> None:
        try:
            child = psutil.Process(self.pid)
            while not self.done.wait(WATCH_EVERY):
                if child.memory_info().rss > self.limits.memory_bytes:
                    self.over_memory.set()
                    child.kill()
                    return
        except psutil.Error:
            return  # it has ended

    def _exit_code(self) -> int | None:
        """How the reader ended, once its manager says (the figures are kept)."""
        if self.code is not None:
            return self.code
        try:
            self.status.settimeout(30)
            data = self.status.recv(_ENDING.size, socket.MSG_WAITALL)
        except OSError:  # gone already (a generator finalised late, at shutdown)
            return None
        if len(data) != _ENDING.size:
            return None
        self.code, peak_kb, cpu_ms = _ENDING.unpack(data)
        READERS.peak_rss_kb = max(READERS.peak_rss_kb, peak_kb)
        READERS.cpu_s += cpu_ms / 1000
        log.debug("file reader %s ended (%s): peak %d MB, CPU %.1f s", self.pid, self.code,
                  peak_kb // 1024, cpu_ms / 1000)
        return self.code

    def _died(self) -> Exception:
        """What to raise when the reader's messages stop short: it died mid-way."""
        code = self._exit_code()
        # Killed here for its memory or by the kernel's out-of-memory killer, or aborted
        # by native code that could not allocate (Rust aborts then).
        if self.over_memory.is_set() or code in (-signal.SIGKILL, -signal.SIGABRT):
            return reader.FileError(memory_message(self.limits))
        return RuntimeError(f"the file-reading process ended with code {code}")

    def receive_bytes(self) -> bytes:
        try:
            return self.conn.recv_bytes()
        except (EOFError, OSError):
            raise self._died() from None

    def receive(self) -> Any:
        try:
            kind, value = self.conn.recv()
        except Exception:  # EOF, or a message cut short
            raise self._died() from None
        if kind == "item":
            return value
        if kind == "file_error":
            raise reader.FileError(value)
        if kind == "memory":
            raise reader.FileError(memory_message(self.limits))
        raise RuntimeError(f"reading the file failed in its process:\n{value}")

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.done.set()
        if self.pid is not None and kind is not None:
            # The caller stopped early (an error, a refused row): nothing more to read.
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.pid is not None:
            self._exit_code()
        self.conn.close()
        self.status.close()


# ---- the server's side --------------------------------------------------------------------

def _serve(control_fd: int) -> None:
    """Fork a manager per request until the process that started us goes away."""
    control = socket.socket(fileno=control_fd)
    # Python warns of any fork in a process with threads. Ours, at this point, are
    # jemalloc's background purgers (jemalloc takes its locks around a fork) and polars'
    # spill cleaner, which readers do not use; polars' compute pools start in each reader.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # managers are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the process above
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 2)
        except OSError:
            return
        if not message:
            return
        if os.fork() == 0:
            control.close()
            _manage(*fds)
        for fd in fds:
            os.close(fd)


def _manage(job_fd: int, status_fd: int) -> None:
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        pid = os.fork()
        if pid == 0:
            os.close(status_fd)
            _read(job_fd)
        os.close(job_fd)
        _, status, usage = os.wait4(pid, 0)
        os.write(status_fd, _ENDING.pack(os.waitstatus_to_exitcode(status), usage.ru_maxrss,
                                         round((usage.ru_utime + usage.ru_stime) * 1000)))
    finally:
        os._exit(0)


def _read(job_fd: int) -> None:
    try:
        conn = Connection(job_fd)
        conn.send(("item", os.getpid()))
        job, args, limits = conn.recv()
        cap = ADDRESS_SPACE_FACTOR * limits.memory_bytes + ADDRESS_SPACE_EXTRA
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            if job == "sniff":
                conn.send(("item", reader.sniff(*args)))
            else:
                for frame, bytes_read in reader.iter_records(*args):
                    ipc = io.BytesIO()
                    frame.write_ipc(ipc, compression="uncompressed")
                    conn.send(("item", bytes_read))
                    conn.send_bytes(ipc.getbuffer())
                    del frame, ipc
                conn.send(("item", None))
        except reader.FileError as exc:
            conn.send(("file_error", str(exc)))
        except MemoryError:
            conn.send(("memory", None))
        except Exception:  # a fault of the code: the caller logs it
            conn.send(("crash", traceback.format_exc()))
    except OSError:
        pass  # the caller went away
    finally:
        os._exit(0)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
