"""Body extraction quality on saved pages of varied layouts.

For every page under tests/fixtures (a saved page and its
hand-checked body), token-level precision, recall and F1 of:
newscrawl's generic extraction (no site rules), trafilatura.extract alone,
and newscrawl with the page's site rules. Writes a Markdown table and
bench/results/extraction_quality.json.

    .venv/bin/python bench/extraction_quality.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.cli.onboarding import generic_site  # noqa: E402
from crawler.extraction.cleaning import clean_article  # noqa: E402
from crawler.extraction.evaluation import Score, token_score  # noqa: E402
from crawler.extraction.rules import extract_article  # noqa: E402
from crawler.sites.definitions import get_site, load_site_file  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "extraction"


def body_of(html: str, url: str, site) -> str | None:  # type: ignore[no-untyped-def]
    return clean_article(extract_article(html, url, site), site).body


def main() -> int:
    rows = []
    for case in sorted(p.parent for p in FIXTURES.parent.glob("*/**/expected_body.txt")):
        html = (case / "page.html").read_text(encoding="utf-8")
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        truth = (case / "expected_body.txt").read_text(encoding="utf-8")
        url = expected["url"]
        site = (
            get_site(expected["site"])
            if expected.get("site")
            else load_site_file(case / "site.yaml")
        )
        scores: dict[str, Score] = {
            "newscrawl generic": token_score(body_of(html, url, generic_site(url)), truth),
            "trafilatura": token_score(trafilatura.extract(html, url=url), truth),
            "newscrawl with site rules": token_score(body_of(html, url, site), truth),
        }
        rows.append((case.name, scores))
    names = list(rows[0][1])
    print("| page | " + " | ".join(f"{n} P / R / F1" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for case, scores in rows:
        cells = [f"{s.precision:.3f} / {s.recall:.3f} / **{s.f1:.3f}**" for s in scores.values()]
        print(f"| {case} | " + " | ".join(cells) + " |")
    means = {n: sum(r[1][n].f1 for r in rows) / len(rows) for n in names}
    print("| **mean F1** | " + " | ".join(f"**{means[n]:.3f}**" for n in names) + " |")
    ratio = means["newscrawl generic"] / means["trafilatura"]
    print(f"\nnewscrawl generic / trafilatura mean F1: {ratio:.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "extraction_quality.json").write_text(
        json.dumps(
            {
                "pages": {
                    case: {
                        n: {"precision": s.precision, "recall": s.recall, "f1": s.f1}
                        for n, s in sc.items()
                    }
                    for case, sc in rows
                },
                "mean_f1": means,
                "generic_over_trafilatura": ratio,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
