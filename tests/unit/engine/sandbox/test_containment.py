"""The OS-level jail contains hostile programs on its own (guard=False), and the guard adds to it."""

from __future__ import annotations

import os
import socket
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_research_lab.engine.sandbox import SandboxLimits, execute, run_python
from llm_research_lab.engine.sandbox.runner import NOBODY, _result, _Tail

from .conftest import processes_matching

REPO_ROOT = Path(__file__).resolve().parents[4]


def program(source: str) -> str:
    return textwrap.dedent(source).lstrip()


@pytest.fixture
def listening_server() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on the host's loopback that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            accepted.append(str(peer))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_host_loopback_server_is_reachable_from_the_host(listening_server: tuple[int, list[str]]) -> None:
    # Control for the next test: the server really accepts connections outside the sandbox.
    port, accepted = listening_server
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    deadline = time.monotonic() + 2
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(accepted) == 1


def test_network_is_unreachable_without_the_guard(listening_server: tuple[int, list[str]]) -> None:
    port, accepted = listening_server
    result = run_python(
        program(f"""
        import socket
        for label, attempt in [
            ("loopback", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2)),
            ("outbound", lambda: socket.create_connection(("1.1.1.1", 443), timeout=2)),
            ("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))),
            ("dns", lambda: socket.getaddrinfo("pypi.org", 443)),
        ]:
            try:
                attempt()
                print(label, "CONNECTED")
            except OSError as exc:
                print(label, "blocked", type(exc).__name__)
        print("interfaces", [name for _, name in socket.if_nameindex()])
        """),
        timeout_s=10,
        guard=False,
    )
    assert result.status == "passed", result
    for label in ("loopback", "outbound", "udp", "dns"):
        assert f"{label} blocked" in result.stdout_tail
    assert "CONNECTED" not in result.stdout_tail
    assert "interfaces ['lo']" in result.stdout_tail
    time.sleep(0.3)  # let the accept loop see a late connection, if there were one
    assert accepted == []


def test_guard_blocks_socket_import() -> None:
    result = run_python("import socket\nprint('imported')", timeout_s=5)
    assert result.status == "failed"
    assert "imported" not in result.stdout_tail
    assert "ModuleNotFoundError" in result.stderr_tail


def test_fork_bomb_is_contained_by_rlimit_nproc() -> None:
    before = len(processes_matching())
    started = time.monotonic()
    result = run_python(
        program("""
        import os
        failures = 0
        while True:
            try:
                os.fork()
            except OSError:
                failures += 1
                if failures == 200:
                    print("fork refused", flush=True)
        """),
        timeout_s=2,
        max_processes=16,
        guard=False,
    )
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert "fork refused" in result.stdout_tail  # RLIMIT_NPROC stopped it, not only the clock
    assert elapsed < 6, "the host must stay responsive and the kill prompt"
    time.sleep(0.2)
    assert processes_matching(uid=NOBODY) == []
    assert len(processes_matching()) <= before + 5


def test_guard_disables_fork() -> None:
    result = run_python("import os\nos.fork()\nprint('forked')", timeout_s=5)
    assert result.status == "failed"
    assert "PermissionError" in result.stderr_tail
    assert "forked" not in result.stdout_tail


def test_writes_outside_the_workdir_fail_and_inside_work() -> None:
    outside = [f"/tmp/xyz-outside-{uuid.uuid4().hex}", str(REPO_ROOT / f"pwned-{uuid.uuid4().hex}")]
    outside.append(f"/dev/shm/pwned-{uuid.uuid4().hex}")
    result = run_python(
        program(f"""
        import os
        for path in {outside!r}:
            try:
                with open(path, "w") as handle:
                    handle.write("escaped")
                print("WROTE", path)
            except OSError as exc:
                print("refused", exc.errno)
        with open("inside.txt", "w") as handle:
            handle.write("hello")
        print("inside", open("inside.txt").read())
        print("cwd", os.getcwd())
        """),
        timeout_s=5,
        guard=False,
    )
    assert result.status == "passed", result
    assert "WROTE" not in result.stdout_tail
    assert result.stdout_tail.count("refused") == len(outside)
    assert "inside hello" in result.stdout_tail
    for path in outside:
        assert not os.path.exists(path)
    workdir = result.stdout_tail.split("cwd ", 1)[1].strip()
    assert workdir.startswith("/")
    assert not os.path.exists(workdir)


def test_program_runs_as_nobody_and_cannot_regain_root() -> None:
    result = run_python(
        program("""
        import os
        print(os.getuid(), os.getgid(), os.getgroups())
        try:
            os.setuid(0)
            print("ROOT")
        except PermissionError:
            print("setuid refused")
        """),
        timeout_s=5,
        guard=False,
    )
    assert result.stdout_tail.splitlines() == [f"{NOBODY} {NOBODY} []", "setuid refused"]


def test_file_size_limit() -> None:
    result = run_python(
        "open('big', 'wb').write(b'x' * 4_000_000)", timeout_s=5, max_file_bytes=1_000_000, guard=False
    )
    assert result.status == "failed"
    assert "File too large" in result.stderr_tail


def test_infinite_loop_is_killed_at_the_timeout() -> None:
    result = run_python("while True:\n    pass", timeout_s=1.0)
    assert result.status == "timeout"
    assert result.exit_code is None
    assert 1.0 <= result.wall_s < 2.5


def test_background_children_are_killed_when_the_program_ends() -> None:
    marker = f"lrl-marker-{uuid.uuid4().hex}"
    source = program(f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()  # leave the process group: only the PID namespace can still reach it
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
        print("spawned", flush=True)
        """)
    result = run_python(source, timeout_s=5, guard=False)
    assert result.status == "passed"
    time.sleep(0.2)
    assert processes_matching(marker=marker) == []


def test_background_children_are_killed_at_the_timeout() -> None:
    marker = f"lrl-marker-{uuid.uuid4().hex}"
    source = program(f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
        while True:
            time.sleep(0.05)
        """)
    result = run_python(source, timeout_s=1.0, guard=False)
    assert result.status == "timeout"
    assert result.wall_s < 3.5
    time.sleep(0.2)
    assert processes_matching(marker=marker) == []
    assert processes_matching(uid=NOBODY) == []


def test_memory_bomb_raises_memory_error() -> None:
    result = run_python(
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10_000_000))",
        timeout_s=10,
        memory_mb=256,
        guard=False,
    )
    assert result.status in {"failed", "killed"}
    assert result.status == "killed" or "MemoryError" in result.stderr_tail


def test_cpu_limit_kills_a_busy_program() -> None:
    result = run_python("while True:\n    pass", timeout_s=10, cpu_s=1)
    assert result.status == "killed"
    assert result.signal is not None
    assert result.wall_s < 5


def test_huge_output_is_truncated_to_its_tail() -> None:
    result = run_python(
        "import sys\nfor i in range(200_000):\n    sys.stdout.write('x' * 99 + '\\n')\nprint('THE END')",
        timeout_s=10,
        max_output_bytes=4096,
    )
    assert result.status == "passed"
    assert result.stdout_truncated
    assert len(result.stdout_tail.encode()) <= 4096
    assert result.stdout_tail.endswith("THE END\n")


def test_exceptions_and_early_exit_count_as_failures() -> None:
    assert run_python("assert 1 + 1 == 3", timeout_s=5).status == "failed"
    early = run_python("import sys\nsys.exit(0)\nassert False", timeout_s=5)
    assert early.status == "failed"
    assert early.exit_code == 1
    assert run_python("x = (", timeout_s=5).status == "failed"
    ok = run_python("print('fine')", timeout_s=5)
    assert (ok.status, ok.exit_code, ok.stdout_tail) == ("passed", 0, "fine\n")


def test_env_is_minimal_and_extendable() -> None:
    os.environ["LRL_SECRET_FOR_TEST"] = "leak"
    try:
        result = run_python(
            "import os\nprint(sorted(os.environ))\nprint(os.environ.get('EXTRA'))",
            timeout_s=5,
            env={"EXTRA": "yes"},
        )
    finally:
        del os.environ["LRL_SECRET_FOR_TEST"]
    assert "LRL_SECRET_FOR_TEST" not in result.stdout_tail
    assert result.stdout_tail.splitlines()[-1] == "yes"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=-1)
    assert SandboxLimits(timeout_s=2.5).effective_cpu_s == 4


def test_execute_with_limits_object() -> None:
    result = execute("print(sum(range(10)))", SandboxLimits(timeout_s=5))
    assert result.stdout_tail == "45\n"


def test_launcher_reports_map_to_statuses() -> None:
    out, err = _Tail(10), _Tail(10)
    assert _result("exit 0", out, err, False, 0.1).status == "passed"
    assert _result("exit 3", out, err, False, 0.1).exit_code == 3
    killed = _result("signal 9", out, err, False, 0.1)
    assert (killed.status, killed.signal) == ("killed", 9)
    setup = _result("error unshare: Operation not permitted", out, err, False, 0.1)
    assert setup.status == "error"
    assert setup.error is not None and "unshare" in setup.error
    assert _result("", out, err, False, 0.1).status == "error"
    assert _result("exit 0", out, err, True, 0.1).status == "timeout"
