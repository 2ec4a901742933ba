"""Property tests for the status tables: reachability, terminal states, error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_research_lab.errors import InvalidTransitionError
from llm_research_lab.schemas.experiments import TERMINAL_RUN_STATUSES, ExperimentStatus, RunStatus
from llm_research_lab.server.experiments.state import (
    EXPERIMENT_TRANSITIONS,
    RUN_TRANSITIONS,
    check_experiment_transition,
    check_run_transition,
)


def test_tables_cover_every_status() -> None:
    assert set(EXPERIMENT_TRANSITIONS) == set(ExperimentStatus)
    assert set(RUN_TRANSITIONS) == set(RunStatus)


def _reachable(table: dict, start: object) -> set[object]:  # type: ignore[type-arg]
    seen, todo = {start}, [start]
    while todo:
        for nxt in table[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_reachable_from_initial() -> None:
    assert _reachable(dict(EXPERIMENT_TRANSITIONS), ExperimentStatus.DRAFT) == set(ExperimentStatus)
    assert _reachable(dict(RUN_TRANSITIONS), RunStatus.PENDING) == set(RunStatus)


def test_terminal_runs_have_no_exit_and_archived_is_final() -> None:
    for status in TERMINAL_RUN_STATUSES:
        assert RUN_TRANSITIONS[status] == frozenset()
    assert EXPERIMENT_TRANSITIONS[ExperimentStatus.ARCHIVED] == frozenset()
    # "any -> archived" (DESIGN.md), except from archived itself
    for status in ExperimentStatus:
        if status is not ExperimentStatus.ARCHIVED:
            assert ExperimentStatus.ARCHIVED in EXPERIMENT_TRANSITIONS[status]


@given(st.sampled_from(list(ExperimentStatus)), st.sampled_from(list(ExperimentStatus)))
def test_experiment_check_agrees_with_table(current: ExperimentStatus, target: ExperimentStatus) -> None:
    if target in EXPERIMENT_TRANSITIONS[current]:
        check_experiment_transition(current, target)
    else:
        with pytest.raises(InvalidTransitionError) as info:
            check_experiment_transition(current, target)
        assert info.value.status_code == 409
        assert info.value.extra["allowed_transitions"] == sorted(
            s.value for s in EXPERIMENT_TRANSITIONS[current]
        )
        assert current.value in info.value.message and target.value in info.value.message


@given(st.lists(st.sampled_from(list(RunStatus)), max_size=12))
def test_random_run_walks_never_leave_a_terminal_state(path: list[RunStatus]) -> None:
    current = RunStatus.PENDING
    for target in path:
        try:
            check_run_transition(current, target)
        except InvalidTransitionError:
            assert target not in RUN_TRANSITIONS[current]
            continue
        assert current not in TERMINAL_RUN_STATUSES
        current = target
