"""The Word report's page: A4 with 2 cm margins, as the PDF has, set in the document's last section.

Why: Pandoc's default reference document leaves the page size to Word, which takes US Letter, so the
Word report printed on other paper than its PDF. Both engines' .docx pass through :func:`a4_docx`
(the built-in one after pandoc, Quarto's in the post-render step). Standard library only: Quarto runs
the post-render step as a plain script.
"""

from __future__ import annotations

import io
import re
import zipfile

#: A4 in twentieths of a point (210 × 297 mm) and 2 cm margins (1,134), as ``_quarto.yml``'s Typst page.
A4_SECTION = (
    '<w:pgSz w:w="11906" w:h="16838" />'
    '<w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="709" w:footer="709" '
    'w:gutter="0" />'
)
_LAST_SECTION = re.compile(rb"<w:sectPr(?:\s[^>]*)?>(?!.*<w:sectPr)", re.DOTALL)
#: What OOXML puts before ``w:pgSz`` in a section (CT_SectPr's sequence): the page goes after these.
_BEFORE_PAGE = re.compile(
    rb"<w:(headerReference|footerReference|type)\b[^>]*/>|<w:(footnotePr|endnotePr)\b.*?</w:\2>", re.DOTALL
)
DOCUMENT = "word/document.xml"


def a4_docx(data: bytes) -> bytes:
    """``data`` (a .docx) with its last section set to an A4 page; unchanged when it already names a
    page size or has no section to set."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        document = source.read(DOCUMENT)
        found = _LAST_SECTION.search(document)
        end = document.find(b"</w:sectPr>", found.end()) if found is not None else -1
        if found is None or end < 0 or b"<w:pgSz" in document[found.end() : end]:
            return data
        at = max((m.end() for m in _BEFORE_PAGE.finditer(document, found.end(), end)), default=found.end())
        patched = document[:at] + A4_SECTION.encode() + document[at:]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                target.writestr(item, patched if item.filename == DOCUMENT else source.read(item.filename))
    return out.getvalue()
