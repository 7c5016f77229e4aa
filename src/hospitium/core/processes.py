"""Processes: whether one is alive, children that die with their parent, who holds a port, and
the test-only pause points that let a test kill a process at a named step."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import sys
import time
from pathlib import Path

#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is someone else's
    try:
        # "pid (name) S ..." — the state follows the last ")" (a name may contain one).
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): kill(0) is all we can know
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent dies (Linux only; a
    no-op elsewhere). Exits at once if the parent is already gone.

    Why the kernel's parent-death signal rather than children polling their parent's pid: the
    children are gunicorn and Huey, whose loops are not ours to change; the signal arrives the
    moment the parent dies, however it died (kill -9 included), with no polling interval and no
    thread in the child; and the parent needs no cooperation. Its limits: it fires when the
    *thread* that started the child ends, so children are started from the main thread of a
    command that lives as long as they should; it is cleared by executing a set-uid program
    (none here); and it is Linux-only — elsewhere ``hospitium run`` still refuses to start over
    a leftover server (see ``port_holders``).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the request above: then no signal will ever come.
    if os.getppid() != parent_pid:
        os._exit(1)


def bound_to_parent(command: list[str]) -> list[str]:
    """``command``, started through ``python -m hospitium.core.processes`` so that it dies with
    this process (``die_with_parent`` then exec). A wrapper rather than Popen's ``preexec_fn``,
    which is unsafe when the parent has threads (a connection pool's, for one)."""
    return [sys.executable, "-m", "hospitium.core.processes", str(os.getpid()), "--", *command]


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (bound the way gunicorn binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "HEX_IP:HEX_PORT", state 0A = LISTEN, inode in column 10
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _fds(process: Path) -> list[Path]:
    try:
        return list((process / "fd").iterdir())
    except OSError:  # gone, or another user's
        return []


def _link(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:  # closed meanwhile
        return ""


def port_holders(port: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes listening on ``port`` that this user can see
    (Linux /proc; empty elsewhere or when the holder is another user's)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        if any(_link(fd) in wanted for fd in _fds(entry)):
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                raw = b""
            command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
            holders.append((int(entry.name), command))
    return sorted(holders)


def pause_for_tests(point: str) -> None:
    """Test-only: stop here for good when HOSPITIUM_TEST_PAUSE_AT names this point, so that a
    test can kill the process at a known step. Honoured only when the settings say
    ``HOSPITIUM_TEST_HOOKS = True`` (the settings of subprocesses that tests start), never by
    the product's settings, whatever the environment holds."""
    from django.conf import settings

    if not getattr(settings, "HOSPITIUM_TEST_HOOKS", False):
        return
    if os.environ.get("HOSPITIUM_TEST_PAUSE_AT") != point:
        return
    sys.stderr.write(f"paused at {point}\n")
    sys.stderr.flush()
    while True:
        time.sleep(60)


def _main(argv: list[str]) -> None:
    """``python -m hospitium.core.processes PARENT_PID -- COMMAND...``: die with PARENT_PID,
    then become COMMAND (same pid, so the parent's handle on the child stays valid)."""
    parent, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m hospitium.core.processes PARENT_PID -- COMMAND...")
    die_with_parent(int(parent))
    os.execvp(command[0], command)  # noqa: S606 - our own command line, from bound_to_parent


if __name__ == "__main__":
    _main(sys.argv[1:])
