from __future__ import annotations

from accord.runners.loop.rules import (
    dual_agreement,
    dual_agreement_group,
    first_aligned,
    majority,
    most_passed,
)

T, F = True, False


def out(*values: str) -> tuple[tuple[str, str], ...]:
    """A candidate's signature: each probe "fails" with the output as its message."""
    return tuple(("failed", v) for v in values)


def test_majority_picks_the_largest_behaviour_group() -> None:
    outputs = [out("1", "2"), out("1", "3"), out("1", "2"), None, out("1", "2")]
    assert majority(outputs) == 0  # three candidates behave alike, beating two loners


def test_majority_breaks_ties_on_order() -> None:
    assert majority([out("a"), out("b"), out("b"), out("a")]) == 0
    assert majority([None, out("b"), out("a")]) == 1


def test_candidates_that_show_no_behaviour_cannot_win_as_a_bloc() -> None:
    crashed = (("error", "ZeroDivisionError"), ("timeout", "no result within 1 s"))
    nothing = out("None", "None")
    # three silent candidates outnumber two that agree on real outputs, and lose
    assert majority([crashed, nothing, crashed, out("3", "4"), out("3", "4")]) == 3
    assert majority([crashed, crashed]) == 0  # when all are silent, the bloc is all there is


def test_without_probes_the_most_common_code_wins() -> None:
    codes = ["def f():\n  return 1", "def f():\n    return 2", "def f():  \n  return 1"]
    assert majority([(), (), ()], codes) == 0
    assert majority([None, None, None], [None, "x", "x"]) == 1
    assert majority([None], [None]) is None


def test_no_usable_candidate_selects_nothing() -> None:
    for rule in (majority, dual_agreement, most_passed):
        assert rule([None, None]) is None
        assert rule([]) is None


# A hand-built pass/fail matrix: rows are candidates, columns generated tests.
MATRIX = [
    (T, T, T, F, F),  # 0: passes 3, alone
    (T, T, F, F, F),  # 1: passes 2, with 3 and 4
    (F, F, F, T, T),  # 2: passes 2, alone
    (T, T, F, F, F),  # 3
    (T, T, F, F, F),  # 4
    None,  # 5: no usable code
    (T, T, T, T, F),  # 6: passes the most, alone
    (T, T, F, F, F),  # 7
    (T, T, F, F, F),  # 8
]


def test_dual_agreement_weighs_tests_passed_by_the_root_of_group_size() -> None:
    # group {1, 3, 4, 7, 8}: 2 x sqrt(5) = 4.47 beats {6}: 4 x 1 and {0}: 3 x 1
    assert dual_agreement(MATRIX) == 1
    # with fewer agreeing candidates the lone high scorer wins: 2 x sqrt(2) = 2.83 < 4
    assert dual_agreement([*MATRIX[:4], None, None, MATRIX[6]]) == 6


def test_most_passed_picks_the_most_tests_then_the_earliest() -> None:
    assert most_passed(MATRIX) == 6
    assert most_passed([(T, F), (F, T), (F, F)]) == 0


def test_rules_disagree_on_the_same_matrix() -> None:
    signatures = [v if v is None else out(*map(str, v)) for v in MATRIX]
    assert {majority(signatures), dual_agreement(MATRIX), most_passed(MATRIX)} == {1, 6}
    assert first_aligned([F] * 9, [None if v is None else sum(v) / len(v) for v in MATRIX]) == 6


def test_first_aligned_then_most_own_tests_passed() -> None:
    assert first_aligned([F, T, T], [0.5, 1.0, 1.0]) == 1
    assert first_aligned([F, F, F], [0.2, 0.9, 0.5]) == 1
    assert first_aligned([F, F], [None, 0.0]) == 1
    assert first_aligned([F], [None]) is None


def test_linear_dual_agreement_trusts_a_large_group_over_a_lone_high_scorer() -> None:
    # four candidates agree on passing 2 tests; one loner passes 5 (its own wrong tests)
    vectors = [(T, T, T, T, T, F, F), *[(T, T, F, F, F, F, F)] * 4]
    assert dual_agreement(vectors) == 0  # sqrt: 5 x 1 = 5 beats 2 x sqrt(4) = 4
    assert dual_agreement_group(vectors, size_weight=float)[0] == 1  # linear: 2 x 4 = 8 beats 5


def test_the_linear_rule_is_wired_by_its_name() -> None:
    from accord.runners.loop.members import Member
    from accord.runners.loop.selectors import SELECTORS, Ballot
    from accord.runners.sandbox import ExecResult, Status, TestOutcome
    from accord.runners.tasks.load import Task
    from accord.space import SelectionRule

    passes = {"loner": (T, T, T, T, T, F, F), "group": (T, T, F, F, F, F, F)}

    class Matrix:
        mode = "fake"

        def run(self, code: str, tests: object, *, timeout_s: float, **harness: object) -> ExecResult:
            return ExecResult(
                outcomes=tuple(
                    TestOutcome(test=str(i), status=Status.PASSED if ok else Status.FAILED)
                    for i, ok in enumerate(passes[code])
                )
            )

        def run_many(self, jobs: list, *, timeout_s: float, **harness: object) -> list[ExecResult]:
            return [self.run(code, tests, timeout_s=timeout_s) for code, tests in jobs]

    members = [
        Member(index=i, model="m", code=code, tests=tuple(f"assert f({k}) == 0" for k in range(7)), tests_valid=True,
               result=None, aligned=False, rounds=0)
        for i, code in enumerate(["loner", "group", "group", "group", "group"])
    ]  # fmt: skip
    ballot = Ballot(members, Task(task_id="t", prompt="def f(x): ...", entry_point="f"), Matrix(), 1.0)
    assert SELECTORS[SelectionRule.DUAL_AGREEMENT](ballot) == 0
    assert SELECTORS[SelectionRule("dual_agreement_linear")](ballot) == 1
