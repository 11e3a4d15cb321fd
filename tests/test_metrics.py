"""Text metrics: properties on generated HTML (hypothesis), and the definitions on small fixed cases."""

from __future__ import annotations

import html
import json
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impactreport import metrics
from impactreport.metrics import citation_doi, doi_registrant, html_text, text_metrics

# Text without the characters an HTML parser rewrites (NUL, CR) or that start markup, and without the
# categories where Python's `\w` (str.isalnum) and Unicode's (TR 18, which polars follows) disagree:
# other numbers (¼, ²), letter numbers, marks, symbols, format characters, unassigned.
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "No", "Nl", "Mn", "Mc", "Me", "So", "Cf", "Co", "Cn"),
        blacklist_characters="<>&\r",
    ),
    min_size=0,
    max_size=30,
) | st.sampled_from(["naïve café", "Ünïcödé 東京 😀", "a\u200bb", "x & y < z", "  ", "\n", "it's 3.5%"])
TAGS = st.sampled_from(["p", "em", "strong", "span", "li", "h2", "blockquote", "code", "div"])
HIDDEN = st.sampled_from(["script", "style"])


@st.composite
def fragments(draw) -> tuple[str, list[str]]:
    """An HTML fragment and the visible text nodes it must yield, in order."""
    parts: list[str] = []
    visible: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()) and draw(st.booleans()):
            tag = draw(HIDDEN)
            body = draw(st.text(alphabet="abc xyz;{}()=", max_size=20))
            parts.append(f"<{tag}>{body}</{tag}>")
            continue
        tag = draw(TAGS)
        text = draw(TEXT)
        numeric = draw(st.booleans())  # letters as numeric character references, & as &#38;
        encoded = "".join(
            f"&#{ord(c)};" if numeric and (c.isalpha() or c == "&") else html.escape(c, quote=False)
            for c in text
        )
        parts.append(f"<{tag}>{encoded}</{tag}>")
        if text:
            visible.append(text)
    return "".join(parts), visible


def metrics_of(body_html: str, body_md: str = "") -> dict:
    frame = pl.DataFrame({"body_html": [body_html], "body_md": [body_md]})
    return text_metrics(frame).row(0, named=True)


@settings(max_examples=300, deadline=None)
@given(fragments())
def test_characters_and_words_follow_the_definition(case: tuple[str, list[str]]) -> None:
    body, visible = case
    got = metrics_of(body)
    text = "".join(visible)
    assert got["characters"] == len(text)
    assert got["words"] == len(re.findall(r"\w+", " ".join(visible)))


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(fragments(), fragments())
def test_metrics_add_up_over_concatenated_fragments(a, b) -> None:
    """Visible text of two fragments side by side is the sum of each: no text is lost or invented."""
    joined = metrics_of(a[0] + b[0])
    assert joined["characters"] == metrics_of(a[0])["characters"] + metrics_of(b[0])["characters"]
    assert joined["words"] == metrics_of(a[0])["words"] + metrics_of(b[0])["words"]


def test_words_do_not_run_across_nodes() -> None:
    # "end" and "start" are separate text nodes: joined by a space they are two words.
    assert metrics_of("<p>end</p><p>start</p>") == {"characters": 8, "words": 2, "dois": []}
    assert metrics_of("<p>a&nbsp;b &amp; c</p>")["characters"] == len("a\u00a0b & c")


def test_script_and_style_are_not_visible() -> None:
    text, _ = html_text("<p>shown</p><script>var hidden = 1;</script><style>p{}</style>")
    assert text.replace("\x00", "") == "shown"


def test_markdown_basis_counts_crlf_as_two() -> None:
    frame = pl.DataFrame({"body_html": ["<p>a</p>"], "body_md": ["one two\r\nthree"]})
    assert text_metrics(frame, text_basis="markdown").row(0) == (14, 3, [])


def test_dois_from_links_and_markdown() -> None:
    body = (
        '<span class="citation">[<a class="citation" data-key="10.1000/ABC" href="/doi/10.1000/ABC">1</a>]</span>'
        '<a class="citation" data-key="smith2015" href="http://example.org/">2</a>'
        '<a class="citation thread-citation" data-key="10.15363/thinklab.d5" href="/discussion/x/5">3</a>'
    )
    md = "see [@10.2000/XyZ; @smith] and [@ 10.3000/not] and [@10.4000/a @10.4000/b]"
    assert metrics_of(body, md)["dois"] == ["10.1000/abc", "10.15363/thinklab.d5", "10.2000/xyz"]
    assert citation_doi("https://doi.org/10.1/x?y", None) == "10.1/x"
    assert citation_doi("", "10.1/k") == "10.1/k"
    assert doi_registrant("10.1016/j.cell") == "1016"


def test_many_posts_in_parallel_match_one_by_one() -> None:
    bodies = [f"<p>post {i} &amp; <em>text</em> {'x' * (i % 7)}</p>" for i in range(25_000)]
    frame = pl.DataFrame({"body_html": bodies, "body_md": [""] * len(bodies)})
    parallel = text_metrics(frame)
    assert parallel["characters"].to_list()[:3] == [
        len("post 0 & text "),
        len("post 1 & text x"),
        len("post 2 & text xx"),
    ]
    assert parallel["characters"].sum() == sum(len(f"post {i} & text {'x' * (i % 7)}") for i in range(25_000))


def test_pool_stops_cleanly_when_loading_fails(monkeypatch) -> None:
    """A load that fails while chunks are still in the pipes kills the workers without a thread traceback."""
    import threading

    from impactreport.errors import InputError
    from impactreport.metrics import CHUNK_POSTS, HtmlMetricsPool

    failures: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    bodies = pl.Series([f"<p>{'x' * 2000} {i}</p>" for i in range(2 * CHUNK_POSTS)])
    with pytest.raises(InputError), HtmlMetricsPool(parallel=True, workers=2) as pool:
        pool.add(bodies)  # megabytes per chunk: the feeding threads block on the pipes
        raise InputError("a later file is bad")
    assert failures == []


# --- hostile HTML: bounded cost, same text ----------------------------------------------------------------

INLINE_TAGS = st.sampled_from(["em", "strong", "span", "code", "sup"])
WORDS = st.sampled_from(["alpha", "beta gamma", " ", "\n", "\n\n  ", "x&amp;y", "a < b", "naïve"])


@st.composite
def inline_html(draw, depth: int = 0, *, in_link: bool = False) -> str:
    """Phrasing content: text, line breaks, comments, images, emphasis, citation links (not nested)."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 5 if depth < 3 else 2))
        if kind <= 1 or (kind == 3 and in_link):
            parts.append(draw(WORDS))
        elif kind == 2:
            parts.append(draw(st.sampled_from(["<br>", "<!-- note -->", '<img src="a.png">', "<br/>"])))
        elif kind == 3:
            doi = draw(st.sampled_from(["10.1/a", "10.2/B"]))
            parts.append(
                f'<a class="citation" href="/doi/{doi}" title="x>y">{draw(inline_html(depth + 1, in_link=True))}</a>'
            )
        else:
            tag = draw(INLINE_TAGS)
            parts.append(f"<{tag}>{draw(inline_html(depth + 1, in_link=in_link))}</{tag}>")
    return "".join(parts)


@st.composite
def nested_html(draw, depth: int = 0) -> str:
    """Valid HTML as a markdown renderer writes it: blocks, lists, tables, code, scripts, layout whitespace."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0 if depth else 1, 4))):
        kind = draw(st.integers(0, 8 if depth < 4 else 3))
        if kind == 0:
            parts.append(draw(st.sampled_from(["\n", "\n\n", " ", "<hr>"])))
        elif kind == 1:
            parts.append(f"<p>{draw(inline_html())}</p>")
        elif kind == 2:
            parts.append(f"<h2>{draw(inline_html())}</h2>")
        elif kind == 3:
            parts.append(f"<pre><code>{draw(WORDS)}\n{draw(WORDS)}</code></pre>")
        elif kind == 4:
            parts.append(f"<script>if (a<b) {{ x('<div>'); }}</script>{draw(WORDS)}<style>p>a{{}}</style>")
        elif kind == 5:
            cells = "".join(f"<td>{draw(inline_html())}</td>" for _ in range(draw(st.integers(1, 3))))
            parts.append(
                f"<table>\n<thead><tr><th>h</th></tr></thead>\n<tbody>\n<tr>{cells}</tr>\n</tbody></table>"
            )
        elif kind == 6:
            items = "".join(
                f"<li>{draw(nested_html(depth + 1) | inline_html())}</li>\n"
                for _ in range(draw(st.integers(1, 3)))
            )
            listing = draw(st.sampled_from(["ul", "ol"]))
            parts.append(f"<{listing}>\n{items}</{listing}>")
        else:
            tag = draw(st.sampled_from(["div", "blockquote"]))
            parts.append(f"<{tag}>{draw(nested_html(depth + 1))}</{tag}>")
    return "".join(parts)


def in_pieces(html: str, tags: int) -> metrics.HtmlText:
    """``visible_text`` with pieces of ``tags`` tags (the cut rules exercised on small inputs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics.html, "PIECE_TAGS", tags)
        patch.setattr(metrics.html, "WHOLE_PARSE_TAGS", tags)
        patch.setattr(metrics.html, "MAX_PIECE_TAGS", 10**9)
        return metrics.visible_text(html)


@settings(max_examples=300, deadline=None)
@given(nested_html(), st.integers(1, 6))
def test_pieces_give_the_text_of_one_parse(html: str, tags: int) -> None:
    """Cutting a well-formed body into pieces changes nothing: same text nodes, same DOIs, not flagged."""
    text, dois = html_text(html)
    got = in_pieces(html, tags)
    assert (got.text, sorted(set(got.dois)), got.limited) == (text, sorted(set(dois)), False)


def test_pieces_give_the_text_of_one_parse_on_every_real_body(latest_dir) -> None:
    """Every real body (comments, notes, documents), cut before every tag that allows it, reads the same."""
    bodies: set[str] = set()
    for path in latest_dir.glob("*.json"):
        export = json.loads(path.read_text(encoding="utf-8"))
        for table in ("comments", "notes", "documents"):
            for row in export.get(table) or []:
                fields = row.get("fields", row)  # format A nests the columns under "fields"
                bodies.update(fields.get(k) or "" for k in ("body_html", "intro_html"))
    assert len(bodies) > 1000
    differing = [body[:80] for body in bodies if in_pieces(body, 1)[:2] != html_text(body)]
    assert differing == []


@pytest.mark.parametrize(
    ("body", "characters", "words"),
    [
        ("<div>" * 100_000 + "deep text here" + "</div>" * 100_000, 14, 3),
        ("<div>" * 100_000 + "unclosed tail", 13, 2),
        ("<div>\n" * 50_000 + "x" + "</div>\n" * 50_000, 100_001, 1),  # every "\n" its own node
        ("<b>one <i>two " * 25_000 + "</i></b>" * 25_000, 8 * 25_000, 50_000),
        ("<p><b id=k>x</p>" * 30_000, 30_000, 30_000),  # 30,000 distinct active formatting elements
        ("<td>cell" * 50_000, 4 * 50_000, 1),  # cells without a table: ignored tags, one text node
    ],
    ids=[
        "nested-div",
        "unclosed-div",
        "nested-line-breaks",
        "b-i-alternating",
        "formatting-list",
        "stray-td",
    ],
)
def test_deeply_nested_post_is_measured_exactly(body: str, characters: int, words: int) -> None:
    """Hostile nesting costs linear time (pieces) and, for these, still counts every character and word."""
    frame = pl.DataFrame({"body_html": [body, "<p>plain</p>"], "body_md": ["", ""]})
    got = text_metrics(frame, with_limits=True)
    assert got.row(0) == (
        characters,
        words,
        [],
        body.count("<") > metrics.WHOLE_PARSE_TAGS and got["html_limited"][0],
    )
    assert got["html_limited"][1] is False


def test_each_piece_of_a_hostile_body_is_bounded() -> None:
    """The cost bound itself: a piece holds at most a piece's tags, <body> and the re-opened context."""
    bound = metrics.MAX_PIECE_TAGS + 1 + metrics.MAX_CONTEXT
    for body in (
        "<div>" * 100_000 + "x" + "</div>" * 100_000,
        "<select>" + "<div>" * 20_000,  # no safe cut inside a select: cut anyway
        "<b id=1><table></b></table>x" * 10_000,
    ):
        pieces = metrics.html_pieces(body).pieces
        assert len(pieces) > 1
        assert max(piece.count("<") for piece in pieces) <= bound


def test_deep_nesting_is_flagged_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics.html, "WHOLE_PARSE_TAGS", metrics.PIECE_TAGS)  # cut small bodies too
    deep = "<div>" * (metrics.MAX_CONTEXT + metrics.PIECE_TAGS + 10) + "x"
    assert metrics.visible_text(deep).limited
    assert not metrics.visible_text("<div>" * 20 + "<p>x</p>" * 2_000).limited  # many tags, shallow
    message = metrics.limited_warning("rephetio comment 1234")
    assert message.startswith("rephetio comment 1234: HTML nested more than")


@pytest.mark.parametrize(
    "body",
    [
        "<p>a</p><script>" + "<div>" * 2_000 + "</script>" + "<p>b</p>\n" * 600,
        "<p>a</p>" * 600 + "<!-- unterminated " + "<p>hidden</p>" * 600,
        "<p>a</p>" * 600 + '<a title="unterminated>' + "<p>b</p>" * 600,
        "<p>a</p>" * 600 + "<div" + " x" * 100,
        "<p>a</p>" * 600 + "<plaintext><p>shown as text</p>" * 3,
        "<p>a</p>" * 300 + "<textarea>" + "<b>" * 600 + "</textarea>" + "<em>e</em>" * 300,
        "<p>a</p>" * 600 + "a < b and <3 and </ x> and <?pi> and <!doctype html>" * 100,
    ],
    ids=["script", "comment", "quote", "open-tag", "plaintext", "textarea", "lone-lt"],
)
def test_the_cuts_skip_what_is_not_a_tag(body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw text, comments and unterminated markup are never cut: pieces read as the whole body does."""
    monkeypatch.setattr(metrics.html, "WHOLE_PARSE_TAGS", metrics.PIECE_TAGS)  # cut small bodies too
    assert body.count("<") > metrics.PIECE_TAGS
    got = metrics.visible_text(body)
    assert got[:2] == html_text(body)
    assert len(metrics.html_pieces(body).pieces) > 1 or "plaintext" in body


# --- counting without polars (what the worker processes do) --------------------------------------------


def test_word_characters_match_polars_on_every_code_point() -> None:
    """The per-character rule of the workers' word count is polars' ``\\w`` wherever Python's Unicode
    database knows the character (the rest is left to polars)."""
    chars = [chr(point) for point in range(0x110000) if not 0xD800 <= point <= 0xDFFF]
    ours = [metrics.word_character(char) for char in chars]
    polars_word = pl.Series(chars).str.contains(r"^\w$").to_list()
    known = [
        (char, mine, theirs)
        for char, mine, theirs in zip(chars, ours, polars_word, strict=True)
        if mine is not None
    ]
    assert len(known) > 250_000
    assert [hex(ord(char)) for char, mine, theirs in known if mine != theirs] == []


WORDY = st.text(
    alphabet=st.sampled_from([*"ab_9 \x00\n.–—’éΔ²½①Ⓐ\u200c\u0301_‿😀東", "\U0001f130"]), max_size=40
)


@given(WORDY)
@settings(max_examples=300, deadline=None)
def test_count_words_and_characters_match_polars(text: str) -> None:
    """Words and characters of a visible text (NUL between nodes), without polars, equal polars' count."""
    series = pl.Series([text])
    assert metrics.count_words(text) == series.str.count_matches(r"\w+").item()
    framed = "\x00" + series + "\x00"
    for _ in range(2):
        framed = framed.str.replace_all(metrics.LAYOUT_WHITESPACE_NODE, metrics.LAYOUT_BREAK)
    characters = (framed.str.len_chars() - framed.str.count_matches("\x00")).item()
    assert metrics.text_characters(text) == characters


def test_a_character_newer_than_pythons_unicode_is_counted_by_polars() -> None:
    """A text holding a character Python's database leaves unassigned is counted by polars, not guessed."""
    unassigned = next(chr(p) for p in range(0x10000, 0x30000) if metrics.word_character(chr(p)) is None)
    assert metrics.count_words(f"ab {unassigned}") is None
    measured = metrics.measure_bodies([f"<p>ab {unassigned}</p>", "<p>a b</p>"])
    assert measured.words == [-1, 2] and measured.uncounted == [0]
    frame = metrics.measured_frame(measured)
    expected = pl.Series([f"ab {unassigned}"]).str.count_matches(r"\w+").item()
    assert frame["words"].to_list() == [expected, 2]


@pytest.mark.shared
def test_worker_counts_equal_polars_counts_on_every_real_body(thinklab_dir) -> None:
    """Every HTML text of every real export (latest and the 21 snapshot sets): the per-body counts the
    workers send back equal polars' counts of the same visible text."""
    import gzip

    bodies: set[str] = set()
    for path in [*thinklab_dir.glob("latest/*.json"), *thinklab_dir.glob("snapshots/*/*.json.gz")]:
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        export = json.loads(data)
        for table in ("comments", "notes", "documents"):
            for row in export.get(table, []):
                row = row.get("fields", row)
                bodies.update(row[key] for key in ("body_html", "intro_html") if row.get(key))
    texts = [metrics.visible_text(body).text for body in sorted(bodies)]
    assert len(texts) > 1_500
    series = pl.Series(texts)
    assert [metrics.count_words(text) for text in texts] == series.str.count_matches(r"\w+").to_list()
