from __future__ import annotations

from accord.runners.tasks.extract import extract_code, extract_tests, imported_names

PROMPT = 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum."""\n'


def test_fenced_block_in_prose_with_prompt_imports_added() -> None:
    text = "Sure!\n```python\ndef total(xs):\n    return sum(xs)\n```\nDone."
    code = extract_code(text, prompt=PROMPT, entry_point="total")
    assert code == "from typing import List\ndef total(xs):\n    return sum(xs)\n"


def test_body_completion_is_joined_to_the_prompt() -> None:
    code = extract_code("    return sum(xs)\n", prompt=PROMPT, entry_point="total")
    assert code is not None and code.endswith("    return sum(xs)\n") and "def total(xs: List[int])" in code


def test_picks_the_block_defining_the_entry_point() -> None:
    text = "```python\nprint('hi')\n```\n```python\ndef total(xs):\n    return 0\n```"
    assert "return 0" in (extract_code(text, prompt=PROMPT, entry_point="total") or "")


def test_demo_code_after_the_function_is_dropped() -> None:
    text = "```python\ndef total(xs):\n    return sum(xs)\n\nprint(total([1]))\nassert total([]) == 1\nif __name__ == '__main__':\n    total(None)\n```"
    code = extract_code(text, prompt=PROMPT, entry_point="total") or ""
    assert "print" not in code and "assert" not in code and "__main__" not in code


def test_truncated_output_keeps_the_parsable_prefix() -> None:
    text = "```python\ndef total(xs):\n    return sum(xs)\n\ndef helper(:\n"
    code = extract_code(text, prompt=PROMPT, entry_point="total")
    assert code is not None and code.endswith("def total(xs):\n    return sum(xs)\n")
    assert "helper" not in code


def test_unusable_output_is_none() -> None:
    assert extract_code("I cannot help with that.", prompt=PROMPT, entry_point="total") is None
    assert extract_code("```python\ndef other():\n    pass\n```", prompt=PROMPT, entry_point="total") is None


def test_tests_are_split_deduplicated_and_self_contained() -> None:
    text = (
        "Here are tests:\n```python\n"
        "assert total([1, 2]) == 3\n"
        "assert total([]) == 0; assert total([5]) == 5\n"
        "x = [1]\nassert total(x) == 1\n"  # leans on a helper variable: dropped
        "assert total([1, 2]) == 3\n"  # duplicate
        "assert total([1] == \n"  # broken
        "def test_more():\n    assert total([2, 2]) == 4\n"
        "assert len([1]) == 1\n"  # does not call the function
        "assert all(total([i]) == i for i in range(3))\n"
        "```"
    )
    tests = extract_tests(text, entry_point="total")
    assert tests == (
        "assert total([1, 2]) == 3",
        "assert total([]) == 0",
        "assert total([5]) == 5",
        "assert total([2, 2]) == 4",
        "assert all((total([i]) == i for i in range(3)))",
    )


def test_tests_may_use_names_the_prompt_imports() -> None:
    prompt = "import math\n\ndef f(x):\n    pass\n"
    tests = extract_tests(
        "assert math.isclose(f(1), 2.0)", entry_point="f", allowed_names=imported_names(prompt)
    )
    assert tests == ("assert math.isclose(f(1), 2.0)",)
    assert extract_tests("assert math.isclose(f(1), 2.0)", entry_point="f") == ()


def test_garbage_gives_no_tests() -> None:
    assert extract_tests("", entry_point="f") == ()
    assert extract_tests("```\n}}}{{{\n```", entry_point="f") == ()
