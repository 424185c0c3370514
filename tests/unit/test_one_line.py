"""`one_line` is the one whitespace fold: whatever an error or a reason quotes, it prints as one line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pairflow.errors import PairflowError, one_line

# Text rich in the whitespace that breaks a log line: line and paragraph separators, CR, tabs, form feeds.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from("\n\r\t\x0b\x0c\x1c\x85\u2028\u3000 "),
                max_size=60)


@given(_TEXT)
def test_the_fold_is_one_line_of_the_same_words_single_spaced(text: str) -> None:
    folded = one_line(text)
    assert "\n" not in folded and "\r" not in folded and "  " not in folded
    assert not any(character.isspace() and character != " " for character in folded)
    assert folded == folded.strip()
    assert folded.split(" ") == (text.split() or [""])
    assert one_line(folded) == folded


@given(_TEXT.filter(lambda text: "@" not in text))  # no URL credentials: those are redacted as well
def test_an_error_message_is_the_fold_of_what_it_was_given(text: str) -> None:
    assert str(PairflowError(text)) == one_line(text)
