"""What each data source is, defined once: its name, how it compares usernames and ids, its terms.

Why one module: the store (project folders that ignore case), the people (accounts compared as the
source compares them), the loader (ids unique per project or per source) and the citation (the
source's licence) each need the same facts about a source; a new source is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One source's facts (see the module docstring for who reads each)."""

    name: str
    #: Usernames ignore case (``Alice`` and ``alice`` are one account; mail addresses too).
    caseless_accounts: bool
    #: Project folder names ignore case (a GitHub owner/name, a host): one folder per project.
    caseless_projects: bool
    #: Ids are only unique within one project (a Discourse forum or a mailing list numbers its own).
    per_project_ids: bool
    #: The terms its content is under, for the report's citation section ("" = that site's own terms).
    terms: str = ""
    terms_url: str = ""


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "thinklab",
            caseless_accounts=False,
            caseless_projects=False,
            per_project_ids=False,
            terms=(
                "Thinklab content is licensed CC BY 4.0: attribute its authors, and cite discussion N by "
                "its DOI, 10.15363/thinklab.dN"
            ),
            terms_url="https://creativecommons.org/licenses/by/4.0/",
        ),
        Source(
            "github",
            caseless_accounts=True,
            caseless_projects=True,
            per_project_ids=False,
            terms="GitHub content is under GitHub's Terms of Service and each repository's own licence",
            terms_url="https://docs.github.com/en/site-policy/github-terms/github-terms-of-service",
        ),
        Source("discourse", caseless_accounts=True, caseless_projects=True, per_project_ids=True),
        Source(
            "gitlab",
            caseless_accounts=True,
            caseless_projects=True,
            per_project_ids=False,
            terms="GitLab content is under the terms of its GitLab instance and each project's own licence",
        ),
        Source(
            "mail",
            caseless_accounts=True,
            caseless_projects=True,
            per_project_ids=True,
            terms="Mailing-list messages are under the list's own terms and remain their authors' work",
        ),
    )
}

#: Sources whose usernames ignore case.
CASELESS_ACCOUNT_SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCES.values() if s.caseless_accounts)
#: Sources whose project folder names ignore case.
CASELESS_PROJECT_SOURCES: frozenset[str] = frozenset(s.name for s in SOURCES.values() if s.caseless_projects)
#: Sources whose ids are only unique within a project.
PER_PROJECT_ID_SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCES.values() if s.per_project_ids)
