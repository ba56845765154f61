"""``rlhw audit``: the reference, the bare starter and a few mutants of hw2 graded for real (one
run of the fast part, under 90 s), plus the verdicts on made-up gradings."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from conftest import fast_suite_checks, suite_checks

from autograder import audit, cli
from autograder.audit import Graded, Row
from autograder.mutants import Mutant
from autograder.mutants.hw2 import MUTANTS, PG

SUBSET = ["discounted_return_no_discount", "normalize_divides_by_mean", "gae_lambda_ignored"]
ALTERNATIVE = "discounted_return_loop"
# Changes code inside a solution region, but not what it computes: no check can catch it.
NO_OP = Mutant(
    "discounted_return_reordered_product",
    PG,
    "np.sum(discounts * rewards)",
    "np.sum(rewards * discounts)",
    "discounted_return",
)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """``rlhw audit hw2 --fast --mutants SUBSET + NO_OP --alternatives ALTERNATIVE`` (the no-op
    mutant added to the catalog; ``--fast``: without the learning-curve checks, which train
    for minutes)."""
    out = tmp_path_factory.mktemp("audit")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "load_mutants", lambda hw: [*MUTANTS, NO_OP])
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            code = cli.main(
                [
                    "audit",
                    "hw2",
                    "--fast",
                    *("--mutants", *SUBSET, NO_OP.name),
                    *("--alternatives", ALTERNATIVE),
                    *("--out", str(out)),
                ]
            )
    return code, out, printed.getvalue()


def test_a_surviving_mutant_fails_the_audit(audited):
    code, out, _ = audited
    assert code == 1
    data = json.loads((out / "audit.json").read_text())
    verdicts = {m["name"]: m["verdict"] for m in data["mutants"]}
    assert verdicts == {**dict.fromkeys(SUBSET, "killed"), NO_OP.name: "survived"}


def test_the_json_file_holds_the_whole_audit(audited):
    _, out, _ = audited
    data = json.loads((out / "audit.json").read_text())
    assert data["hw"] == "hw2" and data["package"] == "hw2_policy_gradient"
    assert data["ok"] is False
    assert data["seeds"] == [0, 1, 2]
    assert data["kill_rate"] == {"killed": 3, "total": 4, "line": "3/4 mutants killed (75%)"}
    assert data["false_failures"] == []
    assert [r["score"] for r in data["reference"]] == [100.0, 100.0, 100.0]
    assert data["starter"] == {"score": 0.0, "max_score": 100, "ok": True, "problems": []}
    assert [(a["name"], a["seed"], a["score"]) for a in data["alternatives"]] == [
        (ALTERNATIVE, seed, 100.0) for seed in (0, 1, 2)
    ]
    assert data["separated"]["compute_gae"] == ["gae_lambda_ignored"]
    by_name = {m["name"]: m for m in data["mutants"]}
    gae = by_name["gae_lambda_ignored"]
    assert gae["function"] == "compute_gae" and gae["points_lost"] > 0
    assert set(gae["failing_functions"]) == {"compute_gae"}
    assert set(gae["feedback"]) == set(gae["failing"])
    assert all("First mismatch" in text for text in gae["feedback"].values())
    survivor = by_name[NO_OP.name]
    assert survivor["points_lost"] == 0 and survivor["failing"] == []
    assert not list(out.glob(".*.tmp"))  # written atomically: no temporary left


def test_the_printed_summary(audited):
    _, out, printed = audited
    lines = printed.splitlines()
    assert lines[0].split() == ["mutant", "lost", "of", "fn", "failing", "checks", "verdict"]
    rows = {line.split()[0]: line for line in lines[1:5]}
    assert set(rows) == {*SUBSET, NO_OP.name}
    assert rows[NO_OP.name].split()[1:] == ["0.00", "0%", "-", "survived"]
    gae = ["21.00", "100%", "4", "of", "compute_gae", "killed"]  # all of compute_gae's 21 points
    assert rows["gae_lambda_ignored"].split()[1:] == gae
    assert "  compute_gae: gae_lambda_ignored" in lines  # the variants its checks separate
    assert "3/4 mutants killed (75%)" in lines
    assert f"  - {NO_OP.name} (discounted_return): survived; failing: no check" in lines
    assert "0 false failures over 3 seeds (the reference and 1 correct alternative)" in lines
    assert "bare starter: 0/100 points, every check fails with a message (ok)" in lines
    assert lines[-1] == f"wrote {out / 'audit.json'}"


def _row(check: str, function: str, score: float, points: float = 2.0, text: str = "x") -> Row:
    return Row(check, function, points, score, text, 0.1)


def _graded(role: audit.Role, rows: list[Row], error: str = "") -> Graded:
    return Graded(role, role, 0, rows, 1.0, error)


def test_own_checks_only_grades_a_mutant_on_the_checks_of_its_function_alone(monkeypatch):
    graded_on: list[list[str]] = []

    def run_checks(root, checks, seed, **options):
        graded_on.append([check.function for check in checks])
        return []

    monkeypatch.setattr(audit, "run_checks", run_checks)
    (gae,) = [m for m in MUTANTS if m.name == "gae_lambda_ignored"]
    audit.grade_one("hw2", "mutant", gae.name, 0, gae, fast=True, own_checks_only=True)
    audit.grade_one("hw2", "mutant", gae.name, 0, gae, fast=True)
    audit.grade_one("hw2", "starter", "bare starter", 0, fast=True, own_checks_only=True)
    own, every, starter = graded_on
    assert own == [c.function for c in suite_checks("hw2") if c.function == "compute_gae"] != []
    assert every == starter == [c.function for c in fast_suite_checks("hw2")]


def test_a_mutant_caught_only_by_another_functions_check_is_not_killed():
    mutant = Mutant("m", PG, "a", "b", "compute_gae")
    rows = [_row("gae", "compute_gae", 2.0), _row("loss", "value_loss", 0.5)]
    result = audit.judge_mutant(mutant, _graded("mutant", rows))
    assert result.verdict == "caught by the wrong check"
    assert result.points_lost == 1.5 and result.failing == ["loss"]
    rows[0] = _row("gae", "compute_gae", 1.0)
    assert audit.judge_mutant(mutant, _graded("mutant", rows)).verdict == "killed"
    broken = audit.judge_mutant(mutant, _graded("mutant", [], error="worker died"))
    assert broken.verdict == "grader error"


def test_the_starter_check_flags_passes_silence_internal_errors_and_a_high_score():
    clean = _graded("starter", [_row("a", "f", 0.0, text="NotImplementedError")])
    assert audit.starter_problems(clean) == []
    bad = _graded(
        "starter",
        [
            _row("passes", "f", 2.0),
            _row("silent", "f", 0.0, text=" "),
            _row("breaks", "f", 0.0, text="internal grader error in check 'breaks': boom"),
            _row("rest", "f", 0.0, points=30.0),
        ],
    )
    problems = audit.starter_problems(bad)
    assert problems[0].startswith("scored 2/36, more than 5% of the points")
    assert problems[1:] == [
        "passes: passed on the bare starter",
        "silent: failed without a message",
        "breaks: internal grader error in check 'breaks': boom",
    ]


def test_false_failures_name_the_seed_check_and_feedback():
    reference = [
        _graded("reference", [_row("a", "f", 2.0)]),
        Graded("reference", "ref", 7, [_row("b", "g", 1.0, text="differs")], 1.0),
    ]
    alternative = Graded("alternative", "g_vectorised", 3, [_row("b", "g", 0.0, text="off")], 1.0)
    assert audit.false_failures([*reference, alternative]) == [
        {
            "submission": "reference",
            "seed": 7,
            "check": "b",
            "function": "g",
            "points_lost": 1.0,
            "feedback": "differs",
        },
        {
            "submission": "g_vectorised",
            "seed": 3,
            "check": "b",
            "function": "g",
            "points_lost": 2.0,
            "feedback": "off",
        },
    ]


def test_unknown_mutants_and_homeworks_are_usage_errors(capsys):
    assert cli.main(["audit", "hw2", "--mutants", "no_such_bug"]) == 2
    assert "unknown mutant(s) no_such_bug; expected some of:" in capsys.readouterr().err
    assert cli.main(["audit", "hw7"]) == 2
    assert "unknown homework 'hw7'" in capsys.readouterr().err
