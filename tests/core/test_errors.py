"""Errors by cause: each class says why, and the CLI gives the two families their exit codes in one place."""

from __future__ import annotations

import pytest

from pipelines.core.errors import (
    CheckFailed,
    Corrupt,
    InputError,
    NotFound,
    PipelineError,
    RuleRefused,
    Unauthorized,
    Unavailable,
    exit_code_of,
)
from pipelines.output import report_error

CAUSES = [RuleRefused, Unavailable, Unauthorized, NotFound, Corrupt]


@pytest.mark.parametrize("cause", CAUSES)
def test_every_failed_check_exits_1_and_names_its_own_cause(cause):
    error = cause("it said no", hint="do this")
    assert isinstance(error, CheckFailed)
    assert exit_code_of(error) == 1
    assert error.cause not in {other.cause for other in CAUSES if other is not cause}


def test_bad_input_exits_2_and_is_no_failed_check():
    error = InputError("malformed", hint="fix it")
    assert exit_code_of(error) == 2
    assert not isinstance(error, CheckFailed)


def test_the_report_carries_message_hint_cause_and_code(capsys):
    code = report_error(Unavailable("the registry kept answering 503", hint="run again later"), as_json=True)
    out, err = capsys.readouterr()
    assert code == 1
    assert err == "error: the registry kept answering 503\n  hint: run again later\n"
    assert '"cause": "unavailable"' in out and '"exit_code": 1' in out


def test_a_message_without_hint_prints_one_line():
    assert str(PipelineError("plain")) == "plain"
