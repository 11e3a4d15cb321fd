"""Stylesheet of the built-in renderer's HTML, kept in Python so a plain ``pip install`` ships it."""

CSS = """\
/* Stylesheet of the built-in renderer's HTML: readable, printable, no web fonts, no CDN. */
:root { color-scheme: light; }
html { font-size: 17px; }
body {
  margin: 0 auto; padding: 2rem 1.5rem 4rem; max-width: 58rem;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.55; color: #1f2328; background: #fff;
}
h1, h2, h3 { line-height: 1.25; margin: 2rem 0 0.75rem; }
h1 { font-size: 2rem; }
h2 { font-size: 1.45rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; }
h3 { font-size: 1.15rem; }
header#title-block-header { margin-bottom: 1.5rem; }
header .author, header .date { margin: 0.2rem 0; color: #57606a; }
nav#TOC {
  border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5rem 1.25rem; margin: 1.5rem 0;
  background: #f6f8fa;
}
nav#TOC ul { padding-left: 1.2rem; margin: 0.3rem 0; }
a { color: #0969da; }
figure { margin: 1.75rem 0; }
figure img, figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 0.92rem; color: #3d444d; margin-top: 0.5rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; width: 100%; }
caption { caption-side: top; text-align: left; font-size: 0.92rem; color: #3d444d; padding-bottom: 0.4rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.3rem 0.6rem; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td { overflow-wrap: anywhere; }
td[style*="right"] { white-space: nowrap; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; }
pre { background: #f6f8fa; padding: 0.75rem; overflow-x: auto; border-radius: 6px; }
@media (max-width: 700px) { table { display: block; overflow-x: auto; } }
@media print { nav#TOC { display: none; } body { max-width: none; } }
"""

#: HTML rules both engines' pages need (the report prints them as a raw ``{=html}`` block, which only
#: the HTML reads): on a narrow screen a wide table scrolls inside its own box instead of running off
#: the page (seen at 400 px in Chromium: the Notes column was cut), and a figure never overflows.
NARROW_HTML = """\
<style>
@media (max-width: 700px) {
  table { display: block; overflow-x: auto; max-width: 100%; }
}
figure svg, figure img { max-width: 100%; height: auto; }
</style>
"""

#: Typst rules for the PDF. The report prints them as a raw ``{=typst}`` block near its top, which only
#: the PDF reads: both engines and a plain ``quarto render`` apply them to everything after it.
#:
#: - Table cells: a smaller font, no hyphenation and no justification, so a name is never cut
#:   ("thin-klab"), no gap opens between its words and the columns keep to their width.
#: - A long table continues on the next page instead of leaving a half-empty page before it (Pandoc
#:   writes ``kind: table``, Quarto ``quarto-float-tbl``); a caption above a table stays with the table's
#:   first rows (``sticky``), as a heading stays with what follows it.
#: - Figures stay where the text introduces them (no floats: a figure-heavy report read in order).
TYPST = """\
// impactreport: tables in the PDF (impactreport.render.style.TYPST)
#show table: set text(size: 8.5pt, hyphenate: false)
#show table: set par(justify: false)
#show figure.where(kind: table): set block(breakable: true)
#show figure.where(kind: "quarto-float-tbl"): set block(breakable: true)
#show figure.caption.where(position: top): it => block(sticky: true, it)
"""
