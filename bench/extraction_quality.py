"""Extraction quality, on the saved pages of the test suite or on a set of real pages.

Without arguments: for every page under tests/fixtures (a saved page and its
hand-checked body), token-level precision, recall and F1 of:
newscrawl's generic extraction (no site rules), trafilatura.extract alone,
and newscrawl with the page's site rules. Writes a Markdown table and
bench/results/extraction_quality.json.

    .venv/bin/python bench/extraction_quality.py

``--dev-set [FOLDER]``: the real article pages of an extraction-dev set
(``../shared/extraction-dev`` beside the repository when no folder is given:
``pages/*.html.gz``, ``expected/*.json`` and its ``score.py``). Each page is
read in this process by newscrawl's generic extraction (what
``newscrawl extract --json`` prints) and by trafilatura
(``bare_extraction(html, url=..., with_metadata=True, include_comments=False)``),
one after the other, each timed; both rows are scored by the set's own
``score.py`` and printed as one Markdown table, with the time per page of
each and their ratio. ``--only REGEX`` keeps the matching page ids;
``--details FILE`` writes every page's scores and predictions (JSON).

    .venv/bin/python bench/extraction_quality.py --dev-set
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.cli.onboarding import extract_page, generic_site  # noqa: E402
from crawler.extraction.cleaning import clean_article  # noqa: E402
from crawler.extraction.evaluation import Score, token_score  # noqa: E402
from crawler.extraction.rules import extract_article  # noqa: E402
from crawler.sites.definitions import get_site, load_site_file  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "extraction"


def body_of(html: str, url: str, site) -> str | None:  # type: ignore[no-untyped-def]
    return clean_article(extract_article(html, url, site), site).body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-set", nargs="?", const=str(DEV_SET), type=Path, metavar="FOLDER")
    parser.add_argument("--only", help="with --dev-set: only page ids matching this regex")
    parser.add_argument("--details", type=Path, help="with --dev-set: every page's scores (JSON)")
    args = parser.parse_args()
    if args.dev_set is not None:
        return dev_set(args.dev_set, args.only, args.details)
    return fixtures()


# --------------------------------------------------------------------------- the dev set

DEV_SET = ROOT.parent / "shared" / "extraction-dev"


def newscrawl_prediction(html: str, url: str) -> dict[str, Any]:
    """What ``newscrawl extract --json`` finds, in score.py's keys."""
    fields = extract_page(html, url, None)["fields"]
    return {
        "title": fields["title"]["value"],
        "body": fields["body"]["value"],
        "author": fields["author"]["value"],
        "published": fields["published_at"]["value"],
    }


def trafilatura_prediction(html: str, url: str) -> dict[str, Any]:
    """trafilatura's own reading, as the set's example_trafilatura.py does it."""
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    if doc is None:
        return {}
    return {"title": doc.title, "body": doc.text, "author": doc.author, "published": doc.date}


EXTRACTORS = {
    f"trafilatura {trafilatura.__version__}": trafilatura_prediction,
    "newscrawl generic": newscrawl_prediction,
}


def load_scorer(folder: Path) -> Any:
    spec = importlib.util.spec_from_file_location("extraction_dev_score", folder / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no score.py in {folder}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dev_set(folder: Path, only: str | None, details: Path | None) -> int:
    if not (folder / "score.py").is_file():
        print(f"error: no extraction-dev set at {folder} (score.py missing)", file=sys.stderr)
        return 2
    scorer = load_scorer(folder)
    expected = scorer.load_expected(only, None)
    seconds = dict.fromkeys(EXTRACTORS, 0.0)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in EXTRACTORS}
    first = next(iter(expected))
    warm = gzip.decompress((folder / "pages" / f"{first}.html.gz").read_bytes()).decode()
    for extract in EXTRACTORS.values():  # imports and first-call set-up, not timed
        extract(warm, expected[first]["url"])
    for page_id, exp in expected.items():
        html = gzip.decompress((folder / "pages" / f"{page_id}.html.gz").read_bytes())
        text = html.decode("utf-8", "replace")
        for name, extract in EXTRACTORS.items():
            started = time.perf_counter()
            try:
                pred = extract(text, exp["url"])
            except Exception as exc:  # noqa: BLE001 - a page an extractor fails on scores empty
                print(f"{name} failed on {page_id}: {exc!r}", file=sys.stderr)
                pred = {}
            seconds[name] += time.perf_counter() - started
            row = {"id": page_id, **scorer.score_page(exp, pred)}
            row.update({"expected": {k: exp.get(k) for k in ("title", "authors", "published")}})
            row["predicted"] = {k: pred.get(k) for k in ("title", "author", "published")}
            rows[name].append(row)
    print_dev_table(scorer, rows, seconds, len(expected))
    if details is not None:
        details.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def print_dev_table(
    scorer: Any, rows: dict[str, list[dict[str, Any]]], seconds: dict[str, float], pages: int
) -> None:
    print(
        "| | title exact | body P | body R | body F1 | pages F1 < 0.8 | author | date ±24 h "
        "| ms per page |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, found in rows.items():
        s = scorer.summarise(found)
        print(
            f"| {name} | {s['title']:.1%} | {s['body_p']:.3f} | {s['body_r']:.3f} "
            f"| {s['body_f1']:.3f} | {s['f1_lt_0.8']} | {s['author']:.1%} | {s['date']:.1%} "
            f"| {1000 * seconds[name] / pages:.1f} |"
        )
    names = list(rows)
    ratio = seconds[names[1]] / seconds[names[0]]
    print(f"\n{pages} pages; newscrawl generic takes {ratio:.2f}x trafilatura's time per page.")
    worst = sorted(rows[names[1]], key=lambda r: (r["body_f1"], r["id"]))[:10]
    print(
        "newscrawl's lowest body F1: " + ", ".join(f"{r['id']} {r['body_f1']:.2f}" for r in worst)
    )


def fixtures() -> int:
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
