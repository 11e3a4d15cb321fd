"""Wall time of ``fetch mbox`` + ``summary`` on a generated 100,000-message mbox (target: under 30 s).

The mbox is deterministic (a seeded generator): 2,000 senders (some writing their address in two
cases), threads of 1-12 messages over four years, replies with an attribution line and quoted text,
signatures, one message in ten quoted-printable and one in ten base64, one in twenty multipart with an
HTML alternative, encoded-word names. Both commands run as a user runs them (subprocesses), into a
temporary data folder.

Run: ``.venv/bin/python benchmarks/bench_mbox.py [MESSAGES]``.
"""

from __future__ import annotations

import base64
import json
import quopri
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "data",
    "model",
    "gene",
    "network",
    "analysis",
    "result",
    "figure",
    "table",
    "method",
    "sample",
    "review",
    "paper",
    "code",
    "test",
    "run",
    "value",
    "error",
    "metric",
    "change",
    "update",
    "release",
    "note",
    "idea",
    "question",
    "answer",
    "thanks",
    "agree",
)


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def body_lines(rng: random.Random) -> str:
    return "\n".join(sentence(rng, rng.randint(5, 14)) for _ in range(rng.randint(1, 6)))


def encoded_word(name: str) -> str:
    """``name`` as an RFC 2047 encoded word (as some mail clients send every name)."""
    return "=?utf-8?q?" + name.replace(" ", "_") + "?="


def generate(count: int, seed: int = 23) -> bytes:
    """``count`` messages as one mbox (bytes)."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    people = [(f"Person {i}", f"person{i}@lab{i % 37}.example") for i in range(2000)]
    out: list[str] = []
    threads: list[tuple[str, str, str]] = []  # (subject, last message id, last text)
    for number in range(count):
        moment = start + timedelta(seconds=number * 1260 + rng.randint(0, 600))
        name, address = rng.choice(people)
        if rng.random() < 0.1:
            address = address.upper()
        mid = f"msg{number}.{seed}@bench.example"
        text = body_lines(rng)
        headers = [
            f"From: {name if rng.random() < 0.9 else encoded_word(name)} <{address}>",
            f"Date: {format_datetime(moment)}",
            f"Message-ID: <{mid}>",
        ]
        if threads and rng.random() < 0.7:
            index = rng.randrange(max(0, len(threads) - 50), len(threads))
            subject, parent, parent_text = threads[index]
            headers += [f"Subject: Re: {subject}", f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
            quoted = "\n".join("> " + line for line in parent_text.split("\n")[:3])
            text = f"{text}\n\nOn {format_datetime(moment)}, Someone wrote:\n{quoted}"
            threads[index] = (subject, mid, text)
        else:
            subject = f"[bench] {sentence(rng, 4)[:-1]}"
            headers.append(f"Subject: {subject}")
            threads.append((subject, mid, text))
        if rng.random() < 0.3:
            text += f"\n-- \n{name}\nLab {rng.randint(1, 40)}"
        roll = rng.random()
        if roll < 0.1:
            encoded = quopri.encodestring(text.encode()).decode()
            headers += [
                'Content-Type: text/plain; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable",
            ]
            payload = encoded
        elif roll < 0.2:
            headers += ['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: base64"]
            payload = base64.encodebytes(text.encode()).decode()
        elif roll < 0.25:
            boundary = f"=={number}=="
            headers += [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"]
            html = "".join(f"<p>{line}</p>" for line in text.split("\n") if not line.startswith(">"))
            payload = (
                f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
                f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n{html}\n--{boundary}--"
            )
        else:
            headers.append('Content-Type: text/plain; charset="utf-8"')
            payload = text
        payload = "\n".join(">" + line if line.startswith("From ") else line for line in payload.split("\n"))
        stamp = moment.strftime("%a %b %d %H:%M:%S %Y")
        out.append(f"From {address} {stamp}\n" + "\n".join(headers) + "\n\n" + payload + "\n\n")
    return "".join(out).encode()


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(result.stderr)
    return seconds, result.stdout


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    exe = str(REPO / ".venv" / "bin" / "impactreport")
    with tempfile.TemporaryDirectory() as folder:
        mbox = Path(folder) / "bench.mbox"
        mbox.write_bytes(generate(count))
        data = Path(folder) / "data"
        fetch_s, _ = timed(
            [exe, "fetch", "mbox", str(mbox), "--list", "bench", "--data", str(data), "--quiet"]
        )
        summary_s, out = timed([exe, "summary", str(data), "--json"])
    overall = json.loads(out)["overall"]
    size = mbox.stat().st_size if mbox.exists() else 0
    print(f"{count:,} messages ({size / 1e6:.0f} MB mbox)" if size else f"{count:,} messages")
    print(
        f"threads {overall['discussions']:,}, comments {overall['comments']:,}, "
        f"people {overall['contributors']:,}, words {overall['words']:,}"
    )
    total = fetch_s + summary_s
    print(f"fetch mbox {fetch_s:.1f} s + summary {summary_s:.1f} s = {total:.1f} s (target < 30 s)")


if __name__ == "__main__":
    main()
