"""The knowledge store on SQLite (FTS5) and PostgreSQL (tsvector): versions, tags, search, and
a public search that never sees the internal part."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from context import kb_search
from context.knowledge import SqlKnowledge
from context.store import SqlContextStore
from cti.clock import ManualClock
from cti.errors import Conflict, InvalidInput, NotFound
from cti.knowledge import ArticleText, Audience, Outcome

REFUND = ArticleText(title="Refund a card payment",
                     public_body="Refunds reach your card within five working days.",
                     internal_body="Override code BLUEFALCON for refunds above 500 euros.",
                     tags=("billing", "refunds"))
ROUTER = ArticleText(title="Reset your router", public_body="Hold the reset button for ten seconds.",
                     internal_body="Line tests live in the NOC tool.", tags=("internet",))
STAFF_ONLY = ArticleText(title="Escalation ladder", public_body="",
                         internal_body="Call the duty manager after two failed refunds.", tags=("billing",))


@pytest.fixture
async def kb(store: SqlContextStore) -> AsyncIterator[SqlKnowledge]:
    yield store.knowledge


async def test_every_edit_is_a_new_version_and_an_old_one_can_be_restored(
        kb: SqlKnowledge, clock: ManualClock) -> None:
    first = await kb.create(REFUND, by="sue")
    assert (first.version, first.text, first.updated_by) == (1, REFUND, "sue")
    clock.advance(60)
    changed = ArticleText(title="Refunds", public_body="Refunds take three days.",
                          internal_body="No override any more.", tags=("Billing", "billing"))
    second = await kb.update(first.id, changed, by="ada", base_version=1)
    assert second.version == 2 and second.text.tags == ("billing",)  # normalised, de-duplicated
    assert (await kb.article(first.id)).text.title == "Refunds"

    # An edit made from a stale copy is refused, not silently written over the newer one.
    with pytest.raises(Conflict) as stale:
        await kb.update(first.id, REFUND, by="sue", base_version=1)
    assert stale.value.error_id == "article-changed"

    clock.advance(60)
    restored = await kb.restore(first.id, 1, by="ada", base_version=2)
    assert restored.version == 3 and restored.text == REFUND
    history = await kb.versions(first.id)
    assert [(v.version, v.by, v.restored_from) for v in history] == [(3, "ada", 1), (2, "ada", None),
                                                                    (1, "sue", None)]
    assert (await kb.version(first.id, 2)).text.public_body == "Refunds take three days."
    # The search follows the newest version: the restored words are found again, the others not.
    assert [h.article.id for h in await kb.search("three days", audience=Audience.STAFF)] == []
    assert [h.article.id for h in await kb.search("bluefalcon", audience=Audience.STAFF)] == [first.id]

    with pytest.raises(NotFound):
        await kb.version(first.id, 9)
    with pytest.raises(NotFound):
        await kb.article("kb-nope")


async def test_public_search_never_matches_or_returns_the_internal_part(kb: SqlKnowledge) -> None:
    refund = await kb.create(REFUND, by="sue")
    await kb.create(ROUTER, by="sue")
    staff_only = await kb.create(STAFF_ONLY, by="sue")

    # Words only in the internal part find the article for staff, never for the public.
    staff = await kb.search("BLUEFALCON override", audience=Audience.STAFF)
    assert [h.article.id for h in staff] == [refund.id]
    assert await kb.search("BLUEFALCON", audience=Audience.PUBLIC) == []
    assert await kb.search("BLUEFALCON", audience=Audience.PUBLIC, any_word=True) == []
    # An article without a public part is not public at all, even by its title.
    assert await kb.search("escalation", audience=Audience.PUBLIC) == []
    public = [a.id for a in await kb.latest(audience=Audience.PUBLIC)]
    assert refund.id in public and staff_only.id not in public
    assert staff_only.id in [a.id for a in await kb.latest(audience=Audience.STAFF)]

    # Stems and case: "refunded" finds "Refunds"; tags are searched and filter.
    hits = await kb.search("REFUNDED card", audience=Audience.PUBLIC)
    assert [h.article.id for h in hits] == [refund.id]
    assert [h.article.id for h in await kb.search("billing", audience=Audience.PUBLIC)] == [refund.id]
    assert [h.article.id for h in await kb.search("refunds", audience=Audience.STAFF, tag="internet")] == []
    billing = await kb.latest(audience=Audience.STAFF, tag="billing")
    assert {a.id for a in billing} == {refund.id, staff_only.id}


async def test_suggestions_rank_by_any_word_and_query_syntax_is_only_text(kb: SqlKnowledge) -> None:
    refund = await kb.create(REFUND, by="sue")
    router = await kb.create(ROUTER, by="sue")
    message = "Hi, my router keeps dropping; I tried the reset button. Also is my refund coming?"
    hits = await kb.search(message, audience=Audience.PUBLIC, any_word=True)
    assert [h.article.id for h in hits] == [router.id, refund.id]  # more words in common first
    # A long message: its most distinctive words decide, the ones in every article do not.
    for n in range(3):
        await kb.create(ArticleText(title=f"Account help {n}", public_body="account settings page help",
                                    internal_body="", tags=()), by="sue")
    long = "account settings page help account settings page help, my router rebooted; reset?"
    ranked = await kb.search(long, audience=Audience.PUBLIC, any_word=True)
    assert ranked[0].article.id == router.id
    # A question typed in a search box: its small words (how, do, I, my) are not required.
    box = await kb.search("How do I reset my router?", audience=Audience.PUBLIC)
    assert [h.article.id for h in box] == [router.id]
    # All words must match without any_word: this message matches nothing whole.
    assert await kb.search(message, audience=Audience.PUBLIC) == []
    # Query operators of FTS5 / tsquery typed by a visitor are words, not syntax.
    for hostile in ('router" OR internal_body:bluefalcon', "NEAR(refund", "refund & !card | (",
                    "internal_body : override", "*", "", "'; DROP TABLE kb_articles; --"):
        found = await kb.search(hostile, audience=Audience.PUBLIC, any_word=True)
        assert all(h.article.id in {refund.id, router.id} for h in found)
        assert not any("BLUEFALCON" in str(h.article.public_view()) for h in found)


async def test_bad_text_is_refused_with_its_field(kb: SqlKnowledge) -> None:
    with pytest.raises(InvalidInput) as no_title:
        await kb.create(ArticleText(title=" ", public_body="x", internal_body=""), by="sue")
    assert no_title.value.error_id == "bad-article"
    with pytest.raises(InvalidInput) as bad_tag:
        await kb.create(ArticleText(title="t", public_body="x", internal_body="", tags=("a b",)), by="s")
    assert bad_tag.value.error_id == "bad-article"


async def test_feedback_counts_what_visitors_said(kb: SqlKnowledge) -> None:
    refund = await kb.create(REFUND, by="sue")
    await kb.feedback(refund.id, Outcome.HELPED)
    after = await kb.feedback(refund.id, Outcome.SOLVED)
    assert (after.helped, after.solved) == (1, 1)
    staff_only = await kb.create(STAFF_ONLY, by="sue")
    with pytest.raises(NotFound):  # not public: a visitor cannot even learn that it exists
        await kb.feedback(staff_only.id, Outcome.HELPED)


async def test_a_bulk_import_is_searchable_and_versioned_like_single_articles(kb: SqlKnowledge) -> None:
    ids = await kb.import_articles([REFUND, ROUTER], by="import")
    assert [h.article.id for h in await kb.search("router", audience=Audience.PUBLIC)] == [ids[1]]
    assert [(v.version, v.by) for v in await kb.versions(ids[0])] == [(1, "import")]
    with pytest.raises(InvalidInput):  # one bad article refuses the whole import
        await kb.import_articles([REFUND, ArticleText(title="", public_body="", internal_body="")], by="x")
    assert len(await kb.latest(audience=Audience.STAFF)) == 2


async def test_a_campaign_faq_becomes_a_public_article_customers_find(kb: SqlKnowledge) -> None:
    from cti.knowledge import CampaignArticles

    article_id = await CampaignArticles(kb).publish(
        title="Black Friday 2026", public="Q: Does it apply to renewals? A: Yes.",
        internal="Approve refunds up to 50 EUR", tags=["campaign:black-friday-2026"], actor="sam")
    found = await kb.search("renewals", audience=Audience.PUBLIC)
    assert [hit.article.id for hit in found] == [article_id]
    article = await kb.article(article_id)
    assert article.text.tags == ("campaign-black-friday-2026",) and article.updated_by == "sam"
    assert article.text.internal_body == "Approve refunds up to 50 EUR"


async def test_a_common_word_still_finds_relevant_articles_and_does_not_drown_a_suggestion(
        kb: SqlKnowledge, monkeypatch: pytest.MonkeyPatch) -> None:
    # A word in 3 articles or more is common here (10,000 articles: in 200 of them).
    monkeypatch.setattr(kb_search, "COMMON_FLOOR", 3)
    router = await kb.create(ROUTER, by="sue")
    notes = [await kb.create(ArticleText(title=f"Billing note {n}", internal_body="", tags=(),
                                         public_body=f"Your password and invoice {n}."), by="sue")
             for n in range(5)]
    change = await kb.create(ArticleText(title="Change your password", internal_body="", tags=(),
                                         public_body="Open settings, then security."), by="sue")
    # Only common words: the candidates are ranked, the title match first, every hit has the word.
    for audience in Audience:
        hits = await kb.search("password", audience=audience)
        assert hits[0].article.id == change.id
        assert {h.article.id for h in hits} == {change.id, *(n.id for n in notes)}
        suggested = await kb.search("password password please", audience=audience, any_word=True)
        assert suggested[0].article.id == change.id
    # A message with a distinctive word: the common word no longer brings in every article.
    message = "my password is fine but the router blinks"
    hits = await kb.search(message, audience=Audience.PUBLIC, any_word=True)
    assert [h.article.id for h in hits] == [router.id]
