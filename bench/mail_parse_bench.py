"""How fast the mail parser reads mail: real test mail and realistic generated mail.

    .venv/bin/python bench/mail_parse_bench.py                 # corpus + 1,000 generated mails
    .venv/bin/python bench/mail_parse_bench.py --mails 5000 --runs 3
    .venv/bin/python bench/mail_parse_bench.py --corpus ../shared/corpus --no-generated

Two sets, each parsed `--runs` times after one warm-up run with parse_message (and, with
`--classify`, autodetect.classify as the poller does):
  corpus     every mail in ../shared/corpus (other projects' test mail, hostile ones included)
  generated  `--mails` realistic support mails made here, the same every run: replies with
             quoted history and signatures, Outlook-style HTML alternatives, inline images,
             PDF attachments, a few non-ASCII ones, auto-replies and bounces

Prints mails per second by the wall clock (time.perf_counter) and by this process's CPU time
(time.process_time: the work itself, whatever else the machine is busy with), and the median
and 95th percentile per mail. Issue #5's reference: about 750 realistic mails/s.
"""

import argparse
import base64
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpdesk.mail.autodetect import classify  # noqa: E402
from helpdesk.mail.parse import parse_message  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
WORDS = (
    "printer", "invoice", "order", "delivery", "account", "password", "login", "error",
    "screen", "update", "refund", "shipment", "license", "server", "backup", "report",
    "customer", "address", "payment", "please", "thanks", "today", "tomorrow", "again",
    "still", "cannot", "works", "broken", "urgent", "attached", "screenshot", "office",
)  # fmt: skip


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + rng.choice([".", ".", "?", "!"])


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    return [" ".join(_sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(count)]


def _outlook_html(paragraphs: list[str], quote: list[str]) -> str:
    style = "<style><!--p.MsoNormal{margin:0cm;font-size:11.0pt;font-family:Calibri}--></style>"
    body = "".join(
        f"<p class=MsoNormal><span style='font-size:11.0pt;color:#1F497D'>{p}</span></p>"
        for p in paragraphs
    )
    header = (
        "<div style='border:none;border-top:solid #E1E1E1 1.0pt'><p class=MsoNormal><b>From:</b>"
        " Support &lt;support@example.com&gt;<br><b>Sent:</b> Monday, 2 March 2026 10:12<br>"
        "<b>To:</b> Customer<br><b>Subject:</b> [#1042] Your request</p></div>"
    )
    old = "".join(f"<p class=MsoNormal>{p}</p>" for p in quote)
    return f"<html><head>{style}</head><body><div class=WordSection1>{body}{header}{old}</div>" \
        "</body></html>"  # fmt: skip


def realistic_mail(rng: random.Random, index: int) -> bytes:
    """One support mail of a realistic mix, always the same for the same seed and index."""
    kind = rng.random()
    sender = f"customer{rng.randint(1, 500)}@example{rng.randint(1, 40)}.com"
    headers = [
        f"From: Customer {index} <{sender}>",
        "To: Support <support@example.com>",
        f"Subject: Re: [#{1000 + index % 300}] {_sentence(rng)[:40]}",
        f"Date: Mon, 2 Mar 2026 {index % 24:02d}:{index % 60:02d}:00 +0100",
        f"Message-ID: <{index}.{rng.randint(0, 10**9)}@mail.example.com>",
        f"In-Reply-To: <t{1000 + index % 300}.abcdefghij.{index}@helpdesk.example.com>",
        "MIME-Version: 1.0",
    ]
    mine, theirs = _paragraphs(rng, rng.randint(1, 4)), _paragraphs(rng, rng.randint(2, 6))
    plain = "\n\n".join(mine) + "\n\nBest regards,\nCustomer\n\n-- \nACME Corp, +49 30 1234\n\n"
    plain += "On Mon, 2 Mar 2026 at 10:12, Support <support@example.com> wrote:\n"
    plain += "\n".join(f"> {line}" for p in theirs for line in (p, ""))
    if kind < 0.04:
        headers.append("Auto-Submitted: auto-replied")
        headers[2] = "Subject: Out of office"
        return _join(headers, "text/plain; charset=utf-8", "I am away until Monday.")
    if kind < 0.07:
        headers[0] = "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>"
        return _join(headers, "text/plain", "Delivery to the following recipient failed "
                     f"permanently:\n\n    {sender}\n\n550 5.1.1 User unknown\n")  # fmt: skip
    if kind < 0.35:
        if rng.random() < 0.2:
            text = plain.replace("Best regards", "Grüße, Jörg – €").encode("utf-8")
            return _join(headers, "text/plain; charset=utf-8", text, "8bit")
        return _join(headers, "text/plain; charset=us-ascii", plain)
    html = _outlook_html(mine, theirs)
    boundary = f"alt{index}"
    parts = [
        _part("text/plain; charset=utf-8", plain, "quoted-printable"),
        _part("text/html; charset=utf-8", html, "quoted-printable"),
    ]
    body = _multipart(boundary, parts)
    content_type = f'multipart/alternative; boundary="{boundary}"'
    if kind > 0.6:
        size = rng.choice([20_000, 60_000, 150_000, 400_000])
        data = bytes(rng.getrandbits(8) for _ in range(2048)) * (size // 2048)
        attachment = _part(
            'application/pdf; name="scan.pdf"',
            base64.encodebytes(data).decode(),
            "base64",
            'attachment; filename="scan.pdf"',
        )
        inner = f"Content-Type: {content_type}\n\n{body}"
        body = _multipart(f"mix{index}", [inner, attachment])
        content_type = f'multipart/mixed; boundary="mix{index}"'
    return _join(headers, content_type, body, "7bit")


def _part(ctype: str, content: str, cte: str, disposition: str | None = None) -> str:
    if cte == "quoted-printable":
        import quopri

        content = quopri.encodestring(content.encode()).decode()
    extra = f"Content-Disposition: {disposition}\n" if disposition else ""
    return f"Content-Type: {ctype}\nContent-Transfer-Encoding: {cte}\n{extra}\n{content}"


def _multipart(boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return f"{inner}--{boundary}--\n"


def _join(headers: list[str], ctype: str, body: str | bytes, cte: str = "7bit") -> bytes:
    head = "\n".join([*headers, f"Content-Type: {ctype}", f"Content-Transfer-Encoding: {cte}"])
    body = body.encode() if isinstance(body, str) else body
    return head.encode() + b"\n\n" + body


def generated_mails(count: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    return [realistic_mail(rng, index) for index in range(count)]


def corpus_mails(root: Path) -> list[bytes]:
    skip = {"MANIFEST.tsv", "SOURCES.md"}
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".yml")
    return [p.read_bytes() for p in files if p.name not in skip]


def measure(name: str, mails: list[bytes], runs: int, with_classify: bool) -> None:
    def one(raw: bytes) -> None:
        parsed = parse_message(raw)
        if with_classify:
            classify(parsed)

    for raw in mails:  # warm-up: imports, caches
        one(raw)
    walls, cpus, per_mail = [], [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        for raw in mails:
            started = time.perf_counter()
            one(raw)
            per_mail.append(time.perf_counter() - started)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    size = sum(map(len, mails)) / 1e6
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    p95 = statistics.quantiles(per_mail, n=20)[18] * 1000
    print(
        f"{name:10} {len(mails):5} mails {size:6.1f} MB  {len(mails) / wall:6.0f} mails/s wall  "
        f"{len(mails) / cpu:6.0f} mails/s cpu  median {statistics.median(per_mail) * 1000:.2f} ms"
        f"  p95 {p95:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--classify", action="store_true", help="also classify each mail")
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--no-generated", action="store_true")
    args = parser.parse_args()
    if not args.no_corpus:
        measure("corpus", corpus_mails(args.corpus), args.runs, args.classify)
    if not args.no_generated:
        measure("generated", generated_mails(args.mails), args.runs, args.classify)


if __name__ == "__main__":
    main()
