"""The pure parts of the knowledge search: what a text is reduced to before any database sees it."""

from __future__ import annotations

import pytest

from cti.knowledge import MAX_TOKENS, Article, ArticleText, normalise_tags, search_tokens


def test_only_words_survive_so_no_query_syntax_reaches_the_database() -> None:
    assert search_tokens('router" OR internal_body:x NEAR(a b) * & | ! -- ;') == [
        "router", "or", "internal", "body", "near"]
    assert search_tokens("Café CAFÉ café 42 x") == ["café", "42"]  # case folded, one-letter words dropped


def test_small_words_are_dropped_on_request_and_long_text_is_bounded() -> None:
    assert search_tokens("How do I reset my router?", drop_stop_words=True) == ["reset", "router"]
    long = " ".join(f"word{n}" for n in range(500))
    assert len(search_tokens(long)) == MAX_TOKENS


@pytest.mark.parametrize("bad", ["a b", "", "x" * 41, "ünï", "<b>"])
def test_bad_tags_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_tags([bad])


def test_tags_are_lower_cased_and_de_duplicated_in_order() -> None:
    assert normalise_tags(["Billing", "refunds", "billing "]) == ("billing", "refunds")
    with pytest.raises(ValueError):
        normalise_tags([f"t{n}" for n in range(21)])


def test_the_public_view_holds_nothing_internal() -> None:
    article = Article(id="kb-1", text=ArticleText("T", "public words", "SECRET", ("a",)), version=3,
                      created_at=1.0, updated_at=2.0, updated_by="sam")
    view = article.public_view()
    assert "SECRET" not in str(view) and "sam" not in str(view) and set(view) == {
        "id", "title", "body", "tags", "updated_at"}
    assert not Article(id="kb-2", text=ArticleText("T", "  \n", "x"), version=1, created_at=1.0,
                       updated_at=1.0, updated_by="s").is_public
