from __future__ import annotations

from accord.runners.selection import first_aligned, majority

T, F = True, False


def test_majority_picks_the_largest_behaviour_group() -> None:
    vectors = [(T, F, F), (T, T, T), (T, F, F), None, (T, F, F)]
    assert majority(vectors) == 0  # three candidates behave alike, beating the perfect loner


def test_majority_breaks_ties_on_tests_passed_then_order() -> None:
    assert majority([(F, F), (T, T), (F, F), (T, T)]) == 1
    assert majority([(T, F), (F, T)]) == 0


def test_majority_with_no_usable_candidate() -> None:
    assert majority([None, None]) is None
    assert majority([]) is None


def test_first_aligned_then_most_own_tests_passed() -> None:
    assert first_aligned([F, T, T], [0.5, 1.0, 1.0]) == 1
    assert first_aligned([F, F, F], [0.2, 0.9, 0.5]) == 1
    assert first_aligned([F, F], [None, 0.0]) == 1
    assert first_aligned([F], [None]) is None
