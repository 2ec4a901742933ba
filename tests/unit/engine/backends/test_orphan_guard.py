"""A harness runner dies, with its children, when the server that started it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil

CHILD = textwrap.dedent(
    """
    import subprocess, sys, time
    from llm_research_lab.engine.backends._orphan_guard import exit_with_parent
    exit_with_parent(0.05)
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(grandchild.pid, flush=True)
    time.sleep(120)
    """
)

# The "server": starts the runner in its own session, as `supervise` does, then waits.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], start_new_session=True)
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _start(child: str) -> tuple[subprocess.Popen[str], int, int]:
    """The "server" process, its runner's pid and the runner's child's pid."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, child], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline()), int(parent.stdout.readline())


def test_runner_and_its_children_die_when_the_parent_is_killed() -> None:
    parent, child_pid, grandchild_pid = _start(CHILD)
    try:
        time.sleep(0.3)
        assert _alive(child_pid) and _alive(grandchild_pid)  # the guard leaves a live parent alone
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        assert _wait_gone([child_pid, grandchild_pid], timeout=5.0) == []
    finally:
        for pid in (parent.pid, child_pid, grandchild_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_without_the_guard_the_runner_would_outlive_its_parent() -> None:
    """The control: the same runner minus `exit_with_parent` survives the kill, so the first test
    measures the guard and not something else killing the group."""
    parent, child_pid, grandchild_pid = _start(CHILD.replace("exit_with_parent(0.05)", "pass"))
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        time.sleep(0.5)
        assert _alive(child_pid) and _alive(grandchild_pid)
    finally:
        try:
            os.killpg(child_pid, signal.SIGKILL)  # the runner leads its group; the grandchild is in it
        except ProcessLookupError:
            pass
