"""`shortened`, the rule that cuts an entry's overlong part: within the limit, marked, and never leaving a
code span open (an open one would run on into the entry's links)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.notes.render import PART_CUT, shortened

texts = st.lists(st.sampled_from(["`", " ", "word", "x", "``", "é"]), max_size=400).map("".join)


@given(texts, st.integers(min_value=len(PART_CUT) + 2, max_value=600))
def test_a_part_is_whole_or_cut_marked_and_within_the_limit(text: str, limit: int) -> None:
    cut = shortened(text, limit)
    if len(text) <= limit:
        assert cut == text
        return
    head = cut.removesuffix(PART_CUT)
    assert cut.endswith(PART_CUT) and len(cut) <= limit
    assert head.count("`") % 2 == 0
    assert text.startswith(head) or (text.startswith(head[:-1]) and head.endswith("`"))
