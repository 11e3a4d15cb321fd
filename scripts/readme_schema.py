"""Write the schema tables into README.md (between the markers), from src/impactreport/schema.py.

Run after changing the schema: ``.venv/bin/python scripts/readme_schema.py``. A test checks the README
is up to date.
"""

from __future__ import annotations

import re
from pathlib import Path

from impactreport.schema import TABLES

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- schema:start -->", "<!-- schema:end -->"


def schema_markdown() -> str:
    parts = []
    for table, columns in TABLES.items():
        parts.append(f"**{table}**\n\n| column | type | meaning |\n|---|---|---|")
        parts += [f"| `{name}` | {dtype} | {meaning} |" for name, (dtype, meaning) in columns.items()]
        parts.append("")
    return "\n".join(parts).strip()


def updated(text: str) -> str:
    block = f"{START}\n{schema_markdown()}\n{END}"
    if "SCHEMA-TABLES" in text:
        return text.replace("SCHEMA-TABLES", block)
    return re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)


if __name__ == "__main__":
    README.write_text(updated(README.read_text(encoding="utf-8")), encoding="utf-8")
