"""Privileged launcher that builds the sandbox around one untrusted program.

Run as ``python -I -S -B _launcher.py CONFIG_JSON`` by :mod:`.runner`, never imported for its
behaviour: it must work under ``-I -S`` (stdlib only, the package is not importable) and it does
the work that ``subprocess``'s ``preexec_fn`` would otherwise do.  ``preexec_fn`` is unsafe in a
threaded parent (the pool runs sandboxes from worker threads) and cannot create the PID namespace
we need, because ``unshare(CLONE_NEWPID)`` only applies to the caller's *children*.

Layout of one run::

    runner (host) -> launcher (root, host PID ns, new net/mount/ipc/uts ns)
                       -> child = PID 1 of a new PID ns: mounts, rlimits, drops to nobody, execs python

When PID 1 of a PID namespace dies the kernel SIGKILLs everything else in it, so background
grandchildren (even ones that called ``setsid()``) can never outlive the program.  The launcher
reports the child's wait status on a private pipe so that the runner can tell a program's own exit
code from a sandbox setup failure.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import stat
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

PR_SET_PDEATHSIG = 1
SETUP_FAILED = 125
PR_SET_NO_NEW_PRIVS = 38

# Mount options that a bind remount must repeat, or the kernel would clear them.
_KEPT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """The sandbox could not be built; the program must not run."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)} (errno {err})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {target}",
    )


def _prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit() and len(field[i + 1 : i + 4]) == 3:
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts() -> list[tuple[str, int]]:
    """Mount points with the per-mount flags a bind remount must keep."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            flags = 0
            for option in fields[5].split(","):
                flags |= _KEPT_FLAGS.get(option, 0)
            found.append((_unescape(fields[4]), flags))
    return found


def _expose_interpreter(prefix: str) -> None:
    """Make the interpreter reachable for ``nobody`` without opening up its surroundings.

    pyenv installs under ``/root`` (mode 0700).  Inside our private mount namespace we hide the
    first non-traversable ancestor under an empty tmpfs and bind-mount only the interpreter's
    prefix back at its original path, so absolute paths (libpython's rpath) keep working.
    """
    parts = prefix.strip("/").split("/")
    hidden = None
    for depth in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        if not os.stat(ancestor).st_mode & stat.S_IXOTH:
            hidden = ancestor
            break
    if hidden is None:
        return
    keep = os.open(prefix, os.O_PATH | os.O_DIRECTORY)
    _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
    os.makedirs(prefix, mode=0o755, exist_ok=True)
    _mount(f"/proc/self/fd/{keep}", prefix, None, MS_BIND | MS_REC)
    os.close(keep)


def _lock_down_mounts(workdir: str) -> None:
    """Remount every mount read-only and nosuid; only the work directory stays writable."""
    for target, flags in _mounts():
        if target == workdir:
            continue
        extra = MS_NOSUID | (0 if target == "/dev" or target.startswith("/dev/") else MS_NODEV)
        try:
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags | extra)
        except SetupError:
            # A mount hidden under another mount (e.g. a stacked /dev/pts) cannot be reached by
            # path and cannot be reached by the program either; everything reachable must succeed.
            if os.path.ismount(target) and _is_top_mount_writable(target):
                raise


def _is_top_mount_writable(target: str) -> bool:
    return not os.statvfs(target).f_flag & os.ST_RDONLY


def _set_limits(cfg: dict[str, Any]) -> None:
    # soft == hard so the program cannot raise them again; CPU gets a 1 s hard margin so that
    # SIGXCPU (catchable) comes first and SIGKILL follows.
    cpu = int(cfg["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = int(cfg["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = int(cfg["max_file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    nofile = int(cfg["max_open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(cfg["max_processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _run_child(cfg: dict[str, Any], status_fd: int) -> None:
    """PID 1 of the new PID namespace: finish the jail, drop privileges, exec the program."""
    os.close(status_fd)
    workdir = cfg["workdir"]
    # A fresh procfs shows only this namespace's processes, not the host's.
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _lock_down_mounts(workdir)
    _set_limits(cfg)
    uid, gid = int(cfg["uid"]), int(cfg["gid"])
    if cfg["drop_privileges"]:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    # Set after setuid: a credential change clears the parent-death signal.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.chdir(workdir)
    argv = [cfg["python"], "-I", "-S", "-B", "-X", "utf8", "-c", cfg["harness"], *cfg["harness_args"]]
    os.execve(cfg["python"], argv, cfg["env"])


def _setup_namespaces(cfg: dict[str, Any]) -> None:
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() != 0:
        # Without root, a user namespace grants the capabilities for the other namespaces.
        uid, gid = os.geteuid(), os.getegid()
        _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as handle:
            handle.write(f"{gid} {gid} 1")
    else:
        _check(_libc.unshare(flags), "unshare")
    # Private propagation: nothing we mount leaks back to the host.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if cfg["drop_privileges"]:
        _expose_interpreter(cfg["prefix"])
    workdir = cfg["workdir"]
    with open(os.path.join(workdir, cfg["program_name"]), "rb") as handle:
        program = handle.read()
    # A size-capped tmpfs bounds the total disk a program can fill (RLIMIT_FSIZE is per file);
    # it lives only in this mount namespace and disappears with it.
    uid, gid = int(cfg["uid"]), int(cfg["gid"])
    options = f"size={int(cfg['workdir_bytes'])},nr_inodes=4096,mode=0700,uid={uid},gid={gid}"
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
    path = os.path.join(workdir, cfg["program_name"])
    with open(path, "wb") as handle:
        handle.write(program)
    os.chown(path, uid, gid)


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    status_fd = int(cfg["status_fd"])

    def report(message: str) -> None:
        os.write(status_fd, message.encode("utf-8", "replace")[:4000])

    try:
        # If the runner dies, the launcher dies, and with it (PDEATHSIG) the whole PID namespace.
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != int(cfg["parent_pid"]):
            raise SetupError("runner exited before the launcher started")
        _setup_namespaces(cfg)
        pid = os.fork()
    except (SetupError, OSError) as exc:
        report(f"error {exc}")
        os._exit(0)
    if pid == 0:
        try:
            _run_child(cfg, status_fd)
        except BaseException as exc:  # the child must never fall back into the launcher's code
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
        os._exit(SETUP_FAILED)
    # The runner asks for a timeout kill with SIGTERM rather than killing us, so that we, the
    # parent of PID 1, reap the namespace and leave no zombies behind for the host's init.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: os.kill(pid, signal.SIGKILL))
    _, wait_status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(wait_status):
        report(f"signal {os.WTERMSIG(wait_status)}")
    else:
        code = os.WEXITSTATUS(wait_status)
        # 125 is reserved for setup failures; the harness remaps a program's own 125.
        report("error child setup failed" if code == SETUP_FAILED else f"exit {code}")
    os._exit(0)


if __name__ == "__main__":
    main()
