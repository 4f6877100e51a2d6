"""The detection engine: built from a list of entities, offline, batched, cached."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from citysieve.errors import PolicyError
from transforms.pii import PiiEngine
from transforms.pii.engine import Detection, replace_spans, resolve_overlaps
from transforms.pii.nlp import might_hold_a_name

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine() -> PiiEngine:
    return PiiEngine(
        ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_LICENSE_PLATE", "STREET_ADDRESS"]
    )


@pytest.mark.parametrize(
    ("text", "types"),
    [
        ("My name is Maria Gonzalez, call me at (212) 555-0199.", {"PERSON", "PHONE_NUMBER"}),
        ("Please email me at ana.lopez@gmail.com when it is fixed.", {"EMAIL_ADDRESS"}),
        ("Car with plate ABC-1234 parked at 123 Main St.", {"US_LICENSE_PLATE", "STREET_ADDRESS"}),
        ("Street light out on the corner for two weeks.", set()),
        ("", set()),
    ],
)
def test_when_text_scanned_then_entity_types_are_those_planted(
    engine: PiiEngine, text: str, types: set[str]
) -> None:
    assert engine.entity_types([text]) == types


def test_when_texts_redacted_then_pii_becomes_typed_placeholders(engine: PiiEngine) -> None:
    texts = [
        "My name is Maria Gonzalez, call me at (212) 555-0199.",
        None,
        "Car with plate ABC-1234 parked at 123 Main St.",
        "Nothing personal here.",
    ]
    result = engine.redact(texts)
    assert result.texts == [
        "My name is <PERSON>, call me at <PHONE_NUMBER>.",
        None,
        "Car with plate <US_LICENSE_PLATE> parked at <STREET_ADDRESS>.",
        "Nothing personal here.",
    ]
    assert dict(result.found) == {
        "PERSON": 1,
        "PHONE_NUMBER": 1,
        "US_LICENSE_PLATE": 1,
        "STREET_ADDRESS": 1,
    }


def test_when_address_holds_a_ner_person_then_the_address_wins(engine: PiiEngine) -> None:
    text = "Loud music at 123 Main St every night"
    assert engine.redact([text]).texts == ["Loud music at <STREET_ADDRESS> every night"]


def test_when_engine_runs_with_debug_logging_then_no_pii_is_logged(
    engine: PiiEngine, caplog: pytest.LogCaptureFixture
) -> None:
    text = "My name is Maria Gonzalez, call 212-555-0199 or maria@gmail.com"
    with caplog.at_level(logging.DEBUG):
        engine.redact([text + " again"])
    for value in ("Maria", "maria", "Gonzalez", "gonzalez", "0199", "gmail"):
        assert value not in caplog.text


def test_when_same_text_seen_again_then_it_comes_from_the_cache() -> None:
    engine = PiiEngine(["EMAIL_ADDRESS"])
    text = "write to ana.lopez@gmail.com"
    first = engine.analyze([text, text])
    second = engine.analyze([text])
    assert first[0] == first[1] == second[0]
    assert (engine.stats.analyzed, engine.stats.cache_hits) == (1, 1)


def test_when_only_pattern_entities_asked_then_no_ner_model_is_loaded() -> None:
    engine = PiiEngine(["EMAIL_ADDRESS", "PHONE_NUMBER"])
    assert engine.nlp_engine.nlp.pipe_names == []
    names = {type(r).__name__ for r in engine.analyzer.registry.recognizers}
    assert names == {"OfflineEmailRecognizer", "PhoneRecognizer"}
    assert engine.entity_types(["Maria Gonzalez, 212-555-0199"]) == {"PHONE_NUMBER"}


def test_when_ner_entities_asked_then_only_the_ner_component_runs(engine: PiiEngine) -> None:
    assert engine.nlp_engine.nlp.pipe_names == ["ner"]


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        (["PERSON", "FAVOURITE_COLOUR"], "unknown PII entities ['FAVOURITE_COLOUR']"),
        ([], "empty"),
    ],
)
def test_when_entities_unknown_or_empty_then_policy_error(
    entities: list[str], message: str
) -> None:
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PiiEngine(entities)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Loud music from apartment 4B", True),  # "Loud" opens the sentence but is no common word
        ("Call Ana Lopez tomorrow", True),
        ("the neighbor Grace blocks the door", True),
        ("ask Élodie at the desk", True),
        ("my name is mei sullivan and i live here", True),  # lower case: NER still runs
        ("The heat is off. It has been off for days.", False),
        ("ASK FOR BRIAN AT THE FRONT DESK", True),  # all capitals: NER still runs
        ("apartment 4B has no heat. The super is away.", False),
        ("12345 67890", False),
    ],
)
def test_when_prefiltered_then_ner_runs_only_where_a_name_can_be(text: str, expected: bool) -> None:
    assert might_hold_a_name(text) is expected


def d(entity: str, start: int, end: int, score: float) -> Detection:
    return Detection(entity, start, end, score)


@pytest.mark.parametrize(
    ("results", "resolved"),
    [
        ([], ()),
        ([d("PERSON", 0, 5, 0.85)], (d("PERSON", 0, 5, 0.85),)),
        (  # contained NER guess inside a pattern match: the pattern's type and span
            [d("STREET_ADDRESS", 10, 21, 0.6), d("PERSON", 14, 21, 0.85)],
            (d("STREET_ADDRESS", 10, 21, 0.6),),
        ),
        (  # NER span around a plate: union span, plate type
            [d("PERSON", 0, 12, 0.85), d("US_LICENSE_PLATE", 5, 12, 0.5)],
            (d("US_LICENSE_PLATE", 0, 12, 0.5),),
        ),
        (  # partial overlap of two patterns: union, higher score's type
            [d("PHONE_NUMBER", 0, 10, 0.4), d("IMEI", 5, 20, 1.0)],
            (d("IMEI", 0, 20, 1.0),),
        ),
        (  # equal claims on the same digits: the specific checksum beats the credit card
            [d("CREDIT_CARD", 3, 18, 1.0), d("IMEI", 3, 18, 1.0)],
            (d("IMEI", 3, 18, 1.0),),
        ),
        (  # disjoint spans stay apart, in text order
            [d("EMAIL_ADDRESS", 20, 30, 1.0), d("PERSON", 0, 5, 0.85)],
            (d("PERSON", 0, 5, 0.85), d("EMAIL_ADDRESS", 20, 30, 1.0)),
        ),
    ],
)
def test_when_results_overlap_then_they_merge_and_cover_every_character(
    results: list[Detection], resolved: tuple[Detection, ...]
) -> None:
    assert resolve_overlaps(results) == resolved


def test_when_spans_replaced_then_text_around_them_is_kept() -> None:
    text = "Ana at 212-555-0199 ok"
    spans = (d("PERSON", 0, 3, 0.85), d("PHONE_NUMBER", 7, 19, 0.4))
    assert replace_spans(text, spans) == "<PERSON> at <PHONE_NUMBER> ok"


OFFLINE_CHECK = textwrap.dedent(
    """
    import logging
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network access attempted")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    logging.disable(logging.CRITICAL)

    from transforms.pii import PiiEngine

    engine = PiiEngine(["PERSON", "EMAIL_ADDRESS", "URL"])
    text = "My name is Maria Gonzalez, write to ana.lopez@gmail.com or see https://www.nyc.gov/311"
    print(",".join(sorted(engine.entity_types([text]))))
    print(len(attempts))

    # Control: the stock tldextract extractor does try the network here.
    import tldextract
    tldextract.extract("ana.lopez@gmail.com")
    print(len(attempts) > 0)
    """
)


def test_when_sockets_refuse_to_connect_then_engine_starts_and_finds_email_and_url(
    tmp_path: Path,
) -> None:
    # A fresh interpreter, so nothing (suffix list, model) was loaded before the
    # sockets were blocked; HOME points at an empty directory, so no cache helps.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found, attempts_by_engine, control_attempted = done.stdout.split()
    assert found == "EMAIL_ADDRESS,PERSON,URL"
    assert attempts_by_engine == "0"
    assert control_attempted == "True"  # the block works: stock tldextract was caught
