"""Citing the report (``impactreport.citation``): authors and ORCIDs, the prepared-on date, the data
fingerprint, the cite text and BibTeX, the sources' terms. Fast: no data read, no kernel."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from impactreport import citation
from impactreport.citation import Author, Citation, check_orcid, parse_author
from impactreport.errors import InputError
from impactreport.settings import ReportParams

#: Real ORCID iDs: the ORCID documentation's example (Josiah Carberry) and Daniel Himmelstein's.
CARBERRY = "0000-0002-1825-0097"
HIMMELSTEIN = "0000-0002-3012-7446"


# -- authors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("orcid", [CARBERRY, HIMMELSTEIN, "0000-0001-5109-3700", "0000-0002-1694-233X"])
def test_valid_orcids_pass(orcid: str) -> None:
    assert check_orcid(orcid, "authors") == orcid
    assert check_orcid(f"https://orcid.org/{orcid}", "authors") == orcid
    assert check_orcid(orcid.lower(), "authors") == orcid


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0000-0002-1825-009", "is not of the form 0000-0000-0000-000X"),
        ("0000000218250097", "is not of the form 0000-0000-0000-000X"),
        ("0000-0002-1825-009Y", "is not of the form 0000-0000-0000-000X"),
        ("orcid", "is not of the form 0000-0000-0000-000X"),
        ("0000-0002-1825-0098", "has a wrong check digit"),
    ],
)
def test_bad_orcids_are_one_line_errors(value: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        ReportParams.from_mapping({"authors": [f"Ada Lovelace <{value}>"]})
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith("parameter authors: ORCID ")
    assert message in text


@pytest.mark.parametrize(
    "value",
    [
        [{"name": "Ada", "orcid": 12}],
        [{"name": "", "orcid": CARBERRY}],
        [{"name": "Ada", "email": "a@b"}],
        [42],
        ["   "],
        ["<0000-0002-1825-0097>"],
        ["Ada <x> Lovelace"],
    ],
)
def test_bad_authors_are_one_line_errors(value: object) -> None:
    with pytest.raises(InputError) as raised:
        ReportParams.from_mapping({"authors": value})
    assert "\n" not in str(raised.value) and str(raised.value).startswith("parameter authors")


def test_authors_forms_and_round_trip() -> None:
    params = ReportParams.from_mapping(
        {
            "authors": [
                f"Daniel  Himmelstein <https://orcid.org/{HIMMELSTEIN}>",
                {"name": "Josiah Carberry", "orcid": CARBERRY},
                "van Gogh, Vincent",
            ],
            "funder": "Sloan",
            "award": "G-2016-1234",
        }
    )
    assert params.authors == (
        f"Daniel Himmelstein <{HIMMELSTEIN}>",
        f"Josiah Carberry <{CARBERRY}>",
        "van Gogh, Vincent",
    )
    assert ReportParams.from_mapping(params.to_mapping()) == params  # papermill gets plain values back
    assert params.license == "CC BY 4.0" and ReportParams().license == "CC BY 4.0"
    assert ReportParams.from_mapping({"authors": "Ada Lovelace"}).authors == ("Ada Lovelace",)
    authors = citation.authors_of(params.authors)
    assert [a.bibtex_name() for a in authors] == [
        "Himmelstein, Daniel",
        "Carberry, Josiah",
        "van Gogh, Vincent",
    ]
    assert citation.byline(authors) == "Daniel Himmelstein, Josiah Carberry and van Gogh, Vincent"
    assert citation.authors_of((), "  Ann  Author ") == (Author("Ann Author"),)
    assert citation.authors_of((), "") == ()
    with pytest.raises(InputError, match=r"^parameter license: "):
        ReportParams.from_mapping({"license": " "})


def test_parse_author() -> None:
    assert parse_author("Ada Lovelace", "a") == Author("Ada Lovelace")
    assert parse_author(f"Ada Lovelace <{CARBERRY}>", "a") == Author("Ada Lovelace", CARBERRY)
    assert parse_author({"name": "Ada Lovelace"}, "a") == Author("Ada Lovelace")
    assert str(Author("Ada Lovelace", CARBERRY)) == f"Ada Lovelace <{CARBERRY}>"


# -- the prepared-on date ------------------------------------------------------------------------------
def test_prepared_on_is_utc_today_or_source_date_epoch() -> None:
    assert citation.prepared_on({}) == datetime.now(UTC).date()
    assert citation.prepared_on({"SOURCE_DATE_EPOCH": "0"}) == date(1970, 1, 1)
    assert citation.prepared_on({"SOURCE_DATE_EPOCH": "1504999790"}) == date(2017, 9, 9)
    with pytest.raises(InputError) as raised:
        citation.prepared_on({"SOURCE_DATE_EPOCH": "yesterday"})
    assert "\n" not in str(raised.value) and "SOURCE_DATE_EPOCH" in str(raised.value)


# -- the fingerprint ------------------------------------------------------------------------------------
def test_fingerprint_is_the_documented_hash() -> None:
    pairs = [("exports/b.json", "bb"), ("exports/a.json", "aa"), ("exports/a.json", "aa")]
    expected = hashlib.sha256(b"exports/a.json\taa\nexports/b.json\tbb\n").hexdigest()
    assert citation.fingerprint(pairs) == f"sha256:{expected}"
    assert citation.fingerprint(reversed(pairs)) == citation.fingerprint(pairs)


def test_paths_are_relative_to_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file = data / "exports" / "thinklab" / "meta" / "2017-09-09T232941Z.json.gz"
    assert citation.relative_path(file, [data]) == "exports/thinklab/meta/2017-09-09T232941Z.json.gz"
    assert citation.relative_path(str(data / "x" / ".." / "meta.json"), [data]) == "meta.json"
    assert citation.relative_path(file, [file]) == file.name  # a data path that is the file itself
    assert citation.relative_path(tmp_path / "elsewhere.json", [data]) == "elsewhere.json"
    other = tmp_path / "more" / "data"
    assert citation.relative_path(other / "meta.json", [data, other]) == "data-2/meta.json"
    assert citation.relative_path(file, [data, other]).startswith("data/exports/")


# -- the cite block --------------------------------------------------------------------------------------
def make_citation(**changes: object) -> Citation:
    values: dict = {
        "title": "Impact report",
        "authors": (Author("Daniel Himmelstein", HIMMELSTEIN), Author("Jane O'Doe")),
        "period": "1 Sep 2016 to 31 Aug 2017",
        "prepared_on": date(2024, 3, 5),
        "package_version": "0.1.0",
        "fingerprint": "sha256:" + "ab" * 32,
        "funder": "Sloan",
        "award": "G-2016-1234",
    }
    return Citation(**(values | changes))


BIBTEX_ENTRY = re.compile(r"^@(\w+)\{([^,\s{}]+),\n((?:  \w+ = \{.*\},?\n)+)\}$")
BIBTEX_FIELD = re.compile(r"^  (\w+) = \{(.*)\},?$", re.MULTILINE)


def bibtex_fields(entry: str) -> tuple[str, str, dict[str, str]]:
    match = BIBTEX_ENTRY.match(entry)
    assert match, entry
    fields = dict(BIBTEX_FIELD.findall(match.group(3)))
    for value in fields.values():  # braces balanced in each value
        depth = 0
        for char in re.sub(r"\\[{}]", "", value):
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0
        assert depth == 0
    return match.group(1), match.group(2), fields


def test_cite_text_and_bibtex() -> None:
    cite = make_citation()
    text = cite.text()
    assert text == (
        "Daniel Himmelstein and Jane O'Doe (2024). Impact report: 1 Sep 2016 to 31 Aug 2017. Prepared on "
        f"2024-03-05 with impactreport 0.1.0; data fingerprint sha256:{'ab' * 32}. Funded by Sloan (award "
        "G-2016-1234). Licence: CC BY 4.0."
    )
    kind, key, fields = bibtex_fields(cite.bibtex())
    assert kind == "misc" and key == "himmelstein2024-abababab"
    assert fields["title"] == "Impact report: 1 Sep 2016 to 31 Aug 2017"
    assert fields["author"] == "Himmelstein, Daniel and O'Doe, Jane"
    assert fields["year"] == "2024" and fields["date"] == "2024-03-05"
    assert "impactreport 0.1.0" in fields["howpublished"]
    assert f"sha256:{'ab' * 32}" in fields["note"] and f"ORCID {HIMMELSTEIN}" in fields["note"]
    assert "Sloan (award G-2016-1234)" in fields["note"] and "CC BY 4.0" in fields["note"]
    assert cite.license_url == "https://creativecommons.org/licenses/by/4.0/"


def test_bibtex_escapes_special_characters() -> None:
    cite = make_citation(title="R&D {impact} 100% of $x_1 #2 ~^\\", authors=(), funder="", award="")
    _, key, fields = bibtex_fields(cite.bibtex())
    assert key == "impactreport2024-abababab" and "author" not in fields
    assert fields["title"].startswith(
        r"R\&D \{impact\} 100\% of \$x\_1 \#2 \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert "Funded" not in cite.text() and not cite.text().startswith("(")


def test_source_terms() -> None:
    terms = citation.source_licenses(
        ["thinklab", "github", "discourse", "thinklab"],
        ["https://forum.example.org/t/x/12", "https://forum.example.org/t/y/13"],
    )
    assert [t.source for t in terms] == ["thinklab", "github", "discourse"]
    assert "CC BY 4.0" in terms[0].text and terms[0].url == "https://creativecommons.org/licenses/by/4.0/"
    assert terms[1].url.startswith("https://docs.github.com/")
    assert terms[2].url == "https://forum.example.org/tos" and "forum.example.org" in terms[2].text
    assert citation.source_licenses(["discourse"])[0].url == ""  # no thread: no forum to link


def test_code_block_fence_is_longer_than_any_backticks() -> None:
    assert citation.code_block("a", "bibtex") == "```bibtex\na\n```"
    assert citation.code_block("title = {````}").startswith("`````\n")
