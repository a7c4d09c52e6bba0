"""Balancing and shortening the HTML of result files (PR code writes it, a table cell shows it).

What a reader of the PR would notice: a cut description never leaves an element open (so what the
bot writes after it is not hidden in a collapsed `<details>`), never shows half a tag or entity, and
never grows past its budget; well-formed text that fits is shown as written.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eessi_bot.core.html_text import ELLIPSIS, balance_html, shorten_html
from tests.unit.long_results import balanced, check_build_description

EESSI = ("<details><summary>:grin: SUCCESS _(click triangle for details)_</summary><dl><dt>_Details_</dt>"
         "<dd>:white_check_mark: job output file <code>slurm-1.out</code><br/></dd><dt>_Artefacts_</dt><dd>"
         "<details><summary><code>a.tar.gz</code></summary>size: 1 MiB<br/><pre><code>GCC/13.2.0.lua</code><br/>"
         "<code>zlib/1.3.lua</code><br/></pre></details></dd></dl></details>")

BALANCE = [
    # (id, text, balanced text)
    ("eessi-description-unchanged", EESSI, EESSI),
    ("void-elements-need-no-end", "a<br>b<br/>c<hr><img src=x.png>d", "a<br>b<br/>c<hr><img src=x.png>d"),
    ("unclosed-are-closed-innermost-first", "<details><summary>x</summary><pre>y",
     "<details><summary>x</summary><pre>y</pre></details>"),
    ("stray-end-tags-dropped", "x</details></td></table>y</br>", "xy"),
    ("misnested-closes-inner-first", "<b><i>x</b>y</i>", "<b><i>x</i></b>y"),
    ("names-keep-their-case", "<DETAILS>x</details><PRE>y", "<DETAILS>x</details><PRE>y</PRE>"),
    ("self-closed-non-void-is-opened-and-closed", "<details/>x<span class='a' />", "<details></details>x"
     "<span class='a'></span>"),
    ("unfinished-tag-at-the-end-is-text", "text <details", "text &lt;details"),
    ("less-than-in-text", "1 < 2 <3", "1 &lt; 2 &lt;3"),
    ("entities-kept", "a &amp; b &#169; &#x1F600; & c", "a &amp; b &#169; &#x1F600; & c"),
    ("code-span-hides-tags", "see `<details>` and ``a`<pre>``", "see `<details>` and ``a`<pre>``"),
    ("unmatched-backticks-made-literal", "a ` b `` c", "a \\` b \\`\\` c"),
    ("backslash-escapes-kept", "a \\| b \\<pre>", "a \\| b \\<pre>"),
    ("trailing-backslash-escaped", "a <pre>b\\", "a <pre>b\\\\</pre>"),
    ("comment-like-kept-whole", "<!-- x --><details>y", "<!-- x --><details>y</details>"),
    ("quoted-attributes", '<a href="x" title=\'y z\'>link</a>', '<a href="x" title=\'y z\'>link</a>'),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BALANCE], ids=[c[0] for c in BALANCE])
def test_balance_html(text: str, expected: str) -> None:
    assert balance_html(text) == expected
    assert "`" in expected or balanced(expected)


SHORTEN = [
    # (id, text, budget, note, shortened text)
    ("fits-unchanged", "<b>x", 10, " (n)", "<b>x"),
    ("between-words", "one two three four", 12, "", "one two …"),
    ("long-word-cut-inside", "abcdefghijklmnop", 8, "", "abcdef …"),
    ("inside-nested-elements", "<details><summary>ok</summary><pre>aaaa bbbb cccc dddd</pre></details>", 60, "",
     "<details><summary>ok</summary><pre>aaaa …</pre></details>"),
    ("never-inside-a-tag", '<b>x</b> <code class="long-class-name">y</code>', 30, "", "<b>x</b> …"),
    ("never-inside-an-entity", "aa &amp;&amp; cc", 12, "", "aa &amp; …"),
    ("space-then-long-word", "aa bbbbbbbbbbbb", 8, "", "aa …"),
    ("void-and-stray-not-closed", "<br/>x</pre><hr> y z", 12, "", "<br/>x<hr> …"),
    ("note-after-end-tags", "<pre>" + "x " * 50 + "</pre>", 40, " (see f)", "<pre>x x x x x x x x x x …</pre> (see f)"),
    ("note-dropped-when-it-cannot-fit", "abcdefghij", 5, " (a long note)", "abc …"),
    ("zero-budget", "abc", 0, " (n)", ""),
    ("code-span-kept-whole", "see `<details>` and more", 12, "", "see …"),
    ("lone-backtick-made-literal", "a ` b c d e f g", 8, "", "a \\` b …"),
    ("stray-less-than-made-text", "a <div b c d e f", 12, "", "a &lt;div …"),
    ("escaped-pipe-kept-whole", "abcd\\|efgh", 7, "", "abcd …"),
]


@pytest.mark.parametrize(("text", "budget", "note", "expected"), [c[1:] for c in SHORTEN],
                         ids=[c[0] for c in SHORTEN])
def test_shorten_html(text: str, budget: int, note: str, expected: str) -> None:
    shortened = shorten_html(text, budget, note)
    assert shortened == expected
    assert len(shortened) <= budget


@pytest.mark.parametrize("budget", [200, 1_000, 4_000, 11_000], ids=lambda b: f"budget-{b}")
def test_a_long_eessi_description_is_cut_balanced_with_its_summary(budget: int) -> None:
    """The issue's case: an EESSI description of 150 modules (~12,000 characters)."""
    text = check_build_description(150)
    note = " (shortened; the full text is in `_bot_job1.result`)"
    shortened = shorten_html(text, budget, note)
    assert len(text) > 11_000 and len(shortened) <= budget
    assert balanced(shortened)
    assert shortened.startswith("<details><summary>:grin: SUCCESS") and shortened.endswith("</details>" + note)
    assert ELLIPSIS in shortened


# -- properties -----------------------------------------------------------------------------------

NAMES = ["details", "summary", "dl", "dt", "dd", "pre", "code", "ul", "li", "b", "DIV"]
WORDS = st.sampled_from(["a", "GCC/13.2.0", " ", "  x y ", "&amp;", "&#169;", "<br/>", "<br>", "<hr/>", ":grin:",
                         "ä", "\\|", "`code <b>`"])


def _elements(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda name, inner: f"<{name}>{''.join(inner)}</{name}>", st.sampled_from(NAMES),
                     st.lists(children, max_size=4))


WELL_FORMED = st.recursive(WORDS, _elements, max_leaves=40).map(str)
JUNK_PIECES = [*"<>/&;#x ab\\\"'=`\n", "<b>", "</b>", "<pre>", "</pre>", "<details>", "</details>", "<br/>", "<img/>",
               "<span/>", "&amp;", "<!--", "-->"]
JUNK = st.lists(st.sampled_from(JUNK_PIECES), max_size=40).map("".join)
NOTE = st.sampled_from(["", " (shortened; see `_bot_job1.result`)", "x" * 60])


def _without_code_spans(text: str) -> str:
    """The standard library's reader knows no markdown: leave code spans out of what it is given."""
    return text.replace("`code <b>`", "code")


@given(JUNK, st.integers(min_value=-5, max_value=120), NOTE)
def test_never_longer_than_the_budget(text: str, budget: int, note: str) -> None:
    assert len(shorten_html(text, budget, note)) <= max(budget, 0)


@given(st.text(max_size=60), st.integers(min_value=0, max_value=80), NOTE)
def test_unchanged_when_it_fits(text: str, budget: int, note: str) -> None:
    if len(text) <= budget:
        assert shorten_html(text, budget, note) == text


@given(WELL_FORMED, st.integers(min_value=0, max_value=400), NOTE)
def test_well_formed_text_stays_balanced(text: str, budget: int, note: str) -> None:
    shortened = _without_code_spans(shorten_html(text, budget, note))
    assert balanced(shortened)


@given(WELL_FORMED)
def test_well_formed_text_is_its_own_balance(text: str) -> None:
    assert balance_html(text) == text


@given(JUNK.filter(lambda t: "`" not in t), st.integers(min_value=0, max_value=100))
def test_junk_is_balanced_and_its_cuts_too(text: str, budget: int) -> None:
    assert balanced(balance_html(text))
    assert balanced(shorten_html(balance_html(text), budget, " (n)"))


@given(JUNK)
def test_balance_is_idempotent(text: str) -> None:
    once = balance_html(text)
    assert balance_html(once) == once


@pytest.mark.parametrize("text", [
    "<a " * 20_000, "<a>" * 20_000 + "</b>" * 20_000, "`" + "x`x``" * 10_000, "<!--" * 15_000,
    "<a href=\"" * 10_000, "&#" * 30_000, "<details>" * 7_000 + "</summary>" * 7_000,
], ids=["unfinished-tags", "opens-and-strays", "backtick-runs", "comment-openers", "open-quotes", "entity-starts",
        "deep-nesting"])
def test_a_large_hostile_description_is_handled(text: str) -> None:
    """Result files of up to 1 MiB are read; nothing in them makes the bot hang or fail."""
    assert balanced(balance_html(text).replace("`", ""))
    assert len(shorten_html(text, 30_000, " (n)")) <= 30_000
