"""Routine readiness probes and worker heartbeats are left out of the logs below WARNING
(config/logs.py), so ``make run``'s start-up banner stays on the screen; failures are kept."""

from __future__ import annotations

import logging

import pytest

from config.logs import RoutineProbes


def record(
    msg: object, level: int = logging.INFO, args: tuple[object, ...] = ()
) -> logging.LogRecord:
    return logging.LogRecord("x", level, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    ("msg", "level", "args", "kept"),
    [
        ({"request": "GET /readyz", "code": 200}, logging.INFO, (), False),
        ({"event": "request_started", "request": "GET /healthz?x=1"}, logging.INFO, (), False),
        ({"request": "GET /readyz", "code": 503}, logging.WARNING, (), True),
        ({"event": "request_finished", "request": "GET /api/v1/works/"}, logging.INFO, (), True),
        ("Task %s[%s] received", logging.INFO, ("config.heartbeat", "abc"), False),
        ("Task %s[%s] received", logging.INFO, ("governance.decide_chunk", "abc"), True),
        ("Task config.heartbeat[abc] raised", logging.ERROR, (), True),
        ("bad %d format", logging.INFO, ("x",), True),
    ],
)  # fmt: skip
def test_routine_probes_are_left_out_and_everything_else_kept(
    msg: object, level: int, args: tuple[object, ...], kept: bool
) -> None:
    assert RoutineProbes().filter(record(msg, level, args)) is kept
