from __future__ import annotations

import os
from pathlib import Path

import pytest

from llm_research_lab.engine.sandbox import HumanEvalProblem, load_humaneval

HUMANEVAL_PATH = Path("/work/shared/datasets/humaneval/HumanEval.jsonl.gz")


def processes_matching(*, uid: int | None = None, marker: str | None = None) -> list[int]:
    """PIDs on the host owned by ``uid`` and/or whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if uid is not None and os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            if marker is not None:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                if marker.encode() not in cmdline:
                    continue
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        found.append(int(entry))
    return found


@pytest.fixture(scope="session")
def humaneval_problems() -> list[HumanEvalProblem]:
    return load_humaneval(HUMANEVAL_PATH)
