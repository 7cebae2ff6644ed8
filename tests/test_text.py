"""Shortened messages end at a word boundary with an ellipsis, and never grow past their limit."""

from autograder.text import ELLIPSIS, shorten


def test_text_that_fits_is_kept_with_its_spaces_normalised():
    assert shorten("model  is\nnot defined", 100) == "model is not defined"


def test_long_text_ends_at_a_word_boundary_with_an_ellipsis():
    message = "could not be loaded in Keras safe mode (ValueError: Requested the deserialization of a Lambda layer. If you trust the source)"
    short = shorten(message, 60)
    assert short.endswith(ELLIPSIS) and len(short) <= 60
    kept = short[:-1]
    assert message.startswith(kept) and not message[len(kept)].isalnum()  # no word was cut


def test_a_single_word_longer_than_the_limit_is_cut_hard():
    assert shorten("x" * 50, 10) == "x" * 9 + ELLIPSIS
