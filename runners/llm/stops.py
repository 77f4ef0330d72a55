"""Stop sequences that end a code answer where the function ends.

Models follow a function with demo code (``print(...)``, ``assert ...``, an
``if __name__`` block) and prose; extraction drops all of it (``extract_code`` keeps only
top-level imports, definitions and assignments), so generating it is time and money spent
on nothing. A stop sequence ends the answer at the first of these lines. It may only cut
what extraction would drop: ``benchmarks/transcript_tokens.py`` checks that on a study's
own answers, and the tests check it on the cases that could go wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

CODE_STOPS = ("\nprint(", "\nif __name__", "\nassert ", "\n# Example usage")
"""Line starts at column 0 that only ever begin demo code after the function. At most
four: OpenAI's API takes no more."""


def cut(text: str, stops: Iterable[str]) -> str:
    """``text`` as a server would have returned it with ``stops``: up to (not including)
    the earliest stop sequence."""
    end = len(text)
    for stop in stops:
        at = text.find(stop)
        if 0 <= at < end:
            end = at
    return text[:end]
