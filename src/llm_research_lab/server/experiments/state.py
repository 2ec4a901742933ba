"""Experiment and run status tables: pure data, one place, property-tested."""

from __future__ import annotations

from collections.abc import Mapping

from llm_research_lab.errors import InvalidTransitionError
from llm_research_lab.schemas.experiments import ExperimentStatus as ES
from llm_research_lab.schemas.experiments import RunStatus as RS

EXPERIMENT_TRANSITIONS: Mapping[ES, frozenset[ES]] = {
    ES.DRAFT: frozenset({ES.RUNNING, ES.ARCHIVED}),
    ES.RUNNING: frozenset({ES.PAUSED, ES.COMPLETED, ES.FAILED, ES.ARCHIVED}),
    ES.PAUSED: frozenset({ES.RUNNING, ES.COMPLETED, ES.FAILED, ES.ARCHIVED}),
    ES.COMPLETED: frozenset({ES.ARCHIVED}),
    ES.FAILED: frozenset({ES.ARCHIVED}),
    ES.ARCHIVED: frozenset(),
}

# A tracked run (the client reports results, as in MLflow) may finish straight from pending;
# a managed run goes through queued/running under the executor. A running run may go back to
# queued when a restarted server re-queues it to resume from its sample ledger.
RUN_TRANSITIONS: Mapping[RS, frozenset[RS]] = {
    RS.PENDING: frozenset({RS.QUEUED, RS.RUNNING, RS.COMPLETED, RS.FAILED, RS.CANCELLED}),
    RS.QUEUED: frozenset({RS.RUNNING, RS.FAILED, RS.CANCELLED, RS.TIMED_OUT}),
    RS.RUNNING: frozenset({RS.QUEUED, RS.COMPLETED, RS.FAILED, RS.CANCELLED, RS.TIMED_OUT}),
    RS.COMPLETED: frozenset(),
    RS.FAILED: frozenset(),
    RS.CANCELLED: frozenset(),
    RS.TIMED_OUT: frozenset(),
}


def allowed_experiment_targets(current: ES) -> list[str]:
    return sorted(s.value for s in EXPERIMENT_TRANSITIONS[current])


def allowed_run_targets(current: RS) -> list[str]:
    return sorted(s.value for s in RUN_TRANSITIONS[current])


def check_experiment_transition(current: ES, target: ES) -> None:
    if target not in EXPERIMENT_TRANSITIONS[current]:
        raise InvalidTransitionError(
            "experiment", current.value, target.value, allowed_experiment_targets(current)
        )


def check_run_transition(current: RS, target: RS) -> None:
    if target not in RUN_TRANSITIONS[current]:
        raise InvalidTransitionError("run", current.value, target.value, allowed_run_targets(current))
