"""Harness subprocesses die with the server that started them.

A backend runs its harness in a new session (``supervise`` kills the whole process group on cancel or
timeout). If the server itself is killed (SIGKILL, OOM), nothing sends that kill: the harness would
go on calling the model for a job that the restarted server re-queues and runs again. The runner
modules call `exit_with_parent` first thing; a daemon thread notices that the parent is gone (the
process was re-parented) and kills the runner's process group, its own children included.

Kept free of project imports: runner subprocesses import it before anything heavy.
"""

from __future__ import annotations

import os
import signal
import threading
import time

DEFAULT_POLL_S = 1.0


def exit_with_parent(poll_s: float = DEFAULT_POLL_S) -> threading.Thread:
    """Watch the parent process; when it is gone, SIGKILL this process group."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                group = os.getpgrp()
                # Only a group this process leads (a runner started in its own session); otherwise
                # the group is the caller's and killing it would take innocent processes along.
                if group == os.getpid():
                    os.killpg(group, signal.SIGKILL)
                os._exit(1)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread
