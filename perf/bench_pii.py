"""PII benchmark: citysieve's engine against plain Presidio, same texts, same process.

    .venv/bin/python perf/bench_pii.py [--texts 2000] [--seed 7] [--events 200000]
                                       [--service-requests 1000] [--repeat 2]
                                       [--no-ablations] [--out DIR]

1. Free text: seeded 311-style complaints with planted PII (perf/pii_corpus.py)
   through plain Presidio (``BatchAnalyzerEngine`` with its defaults: every
   predefined recognizer, the full spaCy pipeline of the same model, batch size 1)
   and through :class:`transforms.pii.PiiEngine` (fresh, empty cache), best of
   ``--repeat`` round-robin passes. Prints texts per second, their ratio, and
   recall and precision per planted type.
2. Simulated 311: ``--service-requests`` descriptions from
   :class:`connectors.simulator.Simulator` through both engines; counts, by
   type, the identifiers the simulator planted in a description that a span
   does not cover entirely (what the end-to-end test calls a leak).
3. Structured: wifi_presence-like records (mac, rssi, lat, lon, observed_at; no
   free text) through :class:`transforms.anonymize.RecordAnonymizer`
   (pseudonymize + H3 + time bucket). Prints events per second.

Writes everything to perf/results/pii-<date>.json. See perf/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "perf"))

from pii_corpus import PLANTED_TYPES, Sample, make_corpus  # noqa: E402

from citysieve.clock import SystemClock  # noqa: E402
from citysieve.keys import KeyRing  # noqa: E402
from connectors.simulator import Simulator  # noqa: E402
from transforms.anonymize import RecordAnonymizer  # noqa: E402
from transforms.pii import DEFAULT_FREE_TEXT_ENTITIES, PiiEngine  # noqa: E402
from transforms.pii.nlp import DEFAULT_MODEL  # noqa: E402
from transforms.pii.offline import install_offline_suffix_list  # noqa: E402

# Which predicted types count for a planted type. Plain Presidio has no plate or
# street-address recognizer: its nearest types (driver licence, NER location)
# are counted for it, which can only raise its recall.
COMPATIBLE: dict[str, frozenset[str]] = {
    "PERSON": frozenset({"PERSON"}),
    "PHONE_NUMBER": frozenset({"PHONE_NUMBER"}),
    "EMAIL_ADDRESS": frozenset({"EMAIL_ADDRESS"}),
    "US_LICENSE_PLATE": frozenset({"US_LICENSE_PLATE", "US_DRIVER_LICENSE"}),
    "STREET_ADDRESS": frozenset({"STREET_ADDRESS", "LOCATION"}),
}
MICRO_BATCH = 500  # texts per engine call, as a stream worker would see them
SHORT = {
    "PERSON": "person",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "US_LICENSE_PLATE": "plate",
    "STREET_ADDRESS": "address",
}


@dataclass
class Prediction:
    entity_type: str
    start: int
    end: int


@dataclass
class Score:
    planted: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else float("nan")


@dataclass
class RunResult:
    name: str
    seconds: float
    texts: int
    predictions: list[list[Prediction]]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds

    @property
    def analyzed_per_second(self) -> float:
        return int(self.notes.get("analyzed", self.texts)) / self.seconds


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def score(samples: Sequence[Sample], predictions: Sequence[list[Prediction]]) -> dict[str, Score]:
    """Recall and precision per planted type, a span counting when it overlaps."""
    scores = {entity: Score() for entity in PLANTED_TYPES}
    for sample, predicted in zip(samples, predictions, strict=True):
        for span in sample.spans:
            s = scores[span.entity_type]
            s.planted += 1
            if any(
                p.entity_type in COMPATIBLE[span.entity_type]
                and _overlaps(p.start, p.end, span.start, span.end)
                for p in predicted
            ):
                s.found += 1
        for p in predicted:
            for entity, types in COMPATIBLE.items():
                if p.entity_type not in types:
                    continue
                s = scores[entity]
                s.predicted += 1
                if any(
                    span.entity_type == entity and _overlaps(p.start, p.end, span.start, span.end)
                    for span in sample.spans
                ):
                    s.correct += 1
    return scores


def other_types(predictions: Sequence[list[Prediction]]) -> dict[str, int]:
    known = frozenset().union(*COMPATIBLE.values())
    return dict(
        Counter(p.entity_type for ps in predictions for p in ps if p.entity_type not in known)
    )


def run_plain_presidio(texts: list[str], batch_size: int = 1) -> RunResult:
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": DEFAULT_MODEL}],
        }
    )
    started = time.perf_counter()
    batch = BatchAnalyzerEngine(AnalyzerEngine(nlp_engine=provider.create_engine()))
    batch.analyze_iterator(texts[:5], language="en")  # warm-up: lazy loads
    build = time.perf_counter() - started
    started = time.perf_counter()
    results = batch.analyze_iterator(texts, language="en", batch_size=batch_size)
    seconds = time.perf_counter() - started
    predictions = [[Prediction(r.entity_type, r.start, r.end) for r in rs] for rs in results]
    name = "plain Presidio" + ("" if batch_size == 1 else f", batch_size {batch_size}")
    return RunResult(name, seconds, len(texts), predictions, {"build_seconds": round(build, 2)})


def run_engine(texts: list[str], name: str, **options: Any) -> RunResult:
    started = time.perf_counter()
    PiiEngine(DEFAULT_FREE_TEXT_ENTITIES, **options).analyze(["warm-up for Ana Lopez"])
    engine = PiiEngine(DEFAULT_FREE_TEXT_ENTITIES, **options)
    build = (time.perf_counter() - started) / 2
    started = time.perf_counter()
    detections: list[Any] = []
    for i in range(0, len(texts), MICRO_BATCH):
        detections.extend(engine.analyze(texts[i : i + MICRO_BATCH]))
    seconds = time.perf_counter() - started
    predictions = [[Prediction(d.entity_type, d.start, d.end) for d in ds] for ds in detections]
    notes = {
        "build_seconds": round(build, 2),
        "cache_hits": engine.stats.cache_hits,
        "analyzed": engine.stats.analyzed,
        "ner_runs": engine.nlp_engine.ner_runs,
        "ner_skipped_by_prefilter": engine.nlp_engine.ner_skipped,
    }
    return RunResult(name, seconds, len(texts), predictions, notes)


STRUCTURED_START = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
PHONE_CHARACTERS = re.compile(r"[\d()+ .-]+")


def identifier_type(identifier: str) -> str:
    """The PII type of an identifier the simulator plants, told from its shape."""
    digits = sum(c.isdigit() for c in identifier)
    if "@" in identifier:
        return "EMAIL_ADDRESS"
    if digits >= 10 and PHONE_CHARACTERS.fullmatch(identifier):
        return "PHONE_NUMBER"
    if not any(c.islower() for c in identifier) and digits:
        return "US_LICENSE_PLATE"
    if identifier[:1].isdigit():
        return "STREET_ADDRESS"
    return "PERSON"


def service_request_leaks(
    texts: Sequence[str], identifiers: Sequence[tuple[str, ...]], run: RunResult
) -> dict[str, dict[str, int]]:
    """Planted identifiers by type, and those some character of which no span covers."""
    planted: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    for text, planted_here, predicted in zip(texts, identifiers, run.predictions, strict=True):
        covered = set()
        for p in predicted:
            covered.update(range(p.start, p.end))
        for identifier in planted_here:
            starts = [m.start() for m in re.finditer(re.escape(identifier), text)]
            if not starts:
                continue
            kind = identifier_type(identifier)
            planted[kind] += 1
            if any(
                not covered.issuperset(range(start, start + len(identifier))) for start in starts
            ):
                leaked[kind] += 1
    return {"planted": dict(planted), "leaked": dict(leaked)}


def run_service_requests(events: int, seed: int) -> dict[str, Any]:
    """Simulated 311 descriptions through both engines: identifiers left uncovered."""
    simulator = Simulator("service_requests", seed=seed, start=STRUCTURED_START)
    texts: list[str] = []
    identifiers: list[tuple[str, ...]] = []
    for event in simulator.events(events):
        description = json.loads(event.value)["description"] if event.valid else None
        if description:
            texts.append(description)
            identifiers.append(event.identifiers)
    result: dict[str, Any] = {"events": events, "descriptions": len(texts)}
    for run in (run_plain_presidio(texts), run_engine(texts, "citysieve")):
        result[run.name] = service_request_leaks(texts, identifiers, run)
    return result


def _colon_mac(value: int) -> str:
    """``00:1a:2b:3c:4d:5e``, the form most sensors send."""
    digits = f"{value:012x}"
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def run_structured(events: int, seed: int) -> dict[str, Any]:
    """wifi_presence-like events through pseudonymize + H3 + time bucket."""
    rng = np.random.default_rng(seed)
    devices = rng.integers(0, 2**48, size=max(events // 20, 1), dtype=np.int64)
    macs = pa.array([_colon_mac(int(m)) for m in rng.choice(devices, size=events)])
    start = int(STRUCTURED_START.timestamp())
    observed = pa.array(
        (start + np.sort(rng.integers(0, 3600, size=events))) * 1_000_000,
        type=pa.timestamp("us", tz="UTC"),
    )
    table = pa.table(
        {
            "event_id": pa.array([f"e{i}" for i in range(events)]),
            "sensor_id": pa.array(rng.integers(1, 400, size=events).astype(str).astype(object)),
            "observed_at": observed,
            "mac": macs,
            "rssi": pa.array(rng.integers(-95, -30, size=events), type=pa.int32()),
            "lat": pa.array(40.55 + rng.random(events) * 0.35),
            "lon": pa.array(-74.05 + rng.random(events) * 0.3),
        }
    )
    anonymizer = RecordAnonymizer(
        {
            "event_id": {"operator": "keep"},
            "sensor_id": {"operator": "keep"},
            "observed_at": {"operator": "generalize", "kind": "time_bucket", "size": "15m"},
            "mac": {"operator": "pseudonymize", "normalizer": "mac", "period": "1d"},
            "rssi": {"operator": "keep"},
        },
        locations={"h3_cell": ("lat", "lon", 9)},
        keys=KeyRing.for_demo(),
        time_field="observed_at",
        dataset="wifi_presence",
    )
    batches = table.to_batches(max_chunksize=10_000)
    anonymizer.anonymize(batches[0])  # warm-up
    started = time.perf_counter()
    rows = 0
    for batch in batches:
        rows += anonymizer.anonymize(batch).batch.num_rows
    seconds = time.perf_counter() - started
    return {
        "events": rows,
        "seconds": round(seconds, 3),
        "events_per_second": round(rows / seconds),
        "batch_rows": 10_000,
        "operators": ["pseudonymize(mac, 1d epochs)", "generalize h3 res 9", "time_bucket 15m"],
    }


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="number of generated texts")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed")
    parser.add_argument("--events", type=int, default=200_000, help="structured events")
    parser.add_argument(
        "--service-requests",
        type=int,
        default=1000,
        help="simulated 311 events checked for leaked identifiers (0 skips)",
    )
    parser.add_argument(
        "--no-ablations",
        action="store_true",
        help="skip the extra engine runs (no cache, no prefilter, batched plain Presidio)",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed passes per engine, best kept (default 2)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "perf" / "results")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # Presidio warns per text; nothing useful here
    install_offline_suffix_list()  # plain Presidio would otherwise try to download
    console = Console(width=None if sys.stdout.isatty() else 110)

    samples = make_corpus(args.texts, args.seed)
    texts = [s.text for s in samples]
    console.print(
        f"{len(texts)} texts ({len(set(texts))} distinct), seed {args.seed}, "
        f"{sum(len(s.spans) for s in samples)} planted spans"
    )
    plans: list[Callable[[], RunResult]] = [
        lambda: run_plain_presidio(texts),
        lambda: run_engine(texts, "citysieve"),
    ]
    if not args.no_ablations:
        plans += [
            lambda: run_plain_presidio(texts, batch_size=64),
            lambda: run_engine(texts, "citysieve, no cache", cache_size=0),
            lambda: run_engine(
                texts, "citysieve, no cache, no prefilter", cache_size=0, prefilter=False
            ),
        ]
    # Round-robin repeats, best time kept: the machine is shared, and a load spike
    # during one engine's only pass would decide the ratio.
    best: list[RunResult | None] = [None] * len(plans)
    for repeat in range(args.repeat):
        for index, plan in enumerate(plans):
            run = plan()
            console.print(f"pass {repeat + 1}: {run.name}: {run.texts_per_second:.0f} texts/s")
            current = best[index]
            if current is None or run.seconds < current.seconds:
                best[index] = run
    runs = [run for run in best if run is not None]
    plain, ours = runs[0], runs[1]
    ratio = ours.texts_per_second / plain.texts_per_second

    scored = {run.name: score(samples, run.predictions) for run in runs}
    speed = Table(title="Free text: texts per second (one process, same texts)")
    for column in ("engine", "texts/s", "vs plain", "analyzed/s", *SHORT.values()):
        speed.add_column(column, justify="left" if column == "engine" else "right")
    for run in runs:
        speed.add_row(
            run.name,
            f"{run.texts_per_second:.0f}",
            f"{run.texts_per_second / plain.texts_per_second:.2f}x",
            f"{run.analyzed_per_second:.0f}",
            *(f"{scored[run.name][entity].recall:.3f}" for entity in SHORT),
        )
    speed.caption = (
        "analyzed/s: texts that went through detection (citysieve analyzes each distinct "
        "text once per batch); right-hand columns: recall per planted type"
    )
    console.print(speed)

    quality = Table(title="Recall and precision per planted type (a span counts when it overlaps)")
    for column in ("type", "planted", "recall plain", "recall citysieve", "precision plain",
                   "precision citysieve"):  # fmt: skip
        quality.add_column(column, justify="left" if column == "type" else "right")
    for entity in PLANTED_TYPES:
        p_score, o_score = scored[plain.name][entity], scored[ours.name][entity]
        quality.add_row(
            entity,
            str(p_score.planted),
            _fmt(p_score.recall),
            _fmt(o_score.recall),
            _fmt(p_score.precision),
            _fmt(o_score.precision),
        )
    console.print(quality)
    console.print(
        f"citysieve: {ours.notes['analyzed']} texts analyzed, "
        f"{ours.notes['cache_hits']} cache hits, {ours.notes['ner_runs']} through NER, "
        f"{ours.notes['ner_skipped_by_prefilter']} skipped NER (prefilter)"
    )
    for run in (plain, ours):
        console.print(f"other types reported by {run.name}: {other_types(run.predictions)}")

    service_requests: dict[str, Any] | None = None
    if args.service_requests:
        console.print(f"running simulated 311 ({args.service_requests} events) ...")
        service_requests = run_service_requests(args.service_requests, args.seed)
        leaks = Table(title="Simulated 311 descriptions: planted identifiers left uncovered")
        for column in ("type", "planted", "leaked plain", "leaked citysieve"):
            leaks.add_column(column, justify="left" if column == "type" else "right")
        plain_leaks = service_requests["plain Presidio"]
        our_leaks = service_requests["citysieve"]
        for kind, count in sorted(our_leaks["planted"].items()):
            leaks.add_row(
                kind,
                str(count),
                str(plain_leaks["leaked"].get(kind, 0)),
                str(our_leaks["leaked"].get(kind, 0)),
            )
        console.print(leaks)

    console.print(f"running structured ({args.events} events) ...")
    structured = run_structured(args.events, args.seed)
    console.print(
        f"Structured wifi_presence: {structured['events_per_second']:,} events/s "
        f"({', '.join(structured['operators'])})"
    )
    console.print(
        f"[bold]citysieve: {ours.texts_per_second:.0f} texts/s, plain Presidio: "
        f"{plain.texts_per_second:.0f} texts/s, ratio {ratio:.2f}x[/bold]"
    )

    now = SystemClock().now()
    result = {
        "date": now.isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "corpus": {"texts": len(texts), "distinct": len(set(texts)), "seed": args.seed},
        "repeat": args.repeat,
        "entities": list(DEFAULT_FREE_TEXT_ENTITIES),
        "compatible_types": {k: sorted(v) for k, v in COMPATIBLE.items()},
        "ratio": round(ratio, 2),
        "runs": [
            {
                "name": run.name,
                "texts_per_second": round(run.texts_per_second, 1),
                "analyzed_per_second": round(run.analyzed_per_second, 1),
                "seconds": round(run.seconds, 3),
                "notes": run.notes,
                "per_type": {
                    entity: {
                        "planted": s.planted,
                        "recall": round(s.recall, 4),
                        "precision": None if s.predicted == 0 else round(s.precision, 4),
                    }
                    for entity, s in scored[run.name].items()
                },
                "other_types": other_types(run.predictions),
            }
            for run in runs
        ],
        "service_requests": service_requests,
        "structured": structured,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"pii-{now.date().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
