"""Person names the small model misses: cue rules, verb rules, widened model spans."""

from __future__ import annotations

import pytest
import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts

from transforms.pii import PiiEngine
from transforms.pii.names import PersonContextRecognizer, never_a_name


@pytest.fixture(scope="module")
def rules() -> PersonContextRecognizer:
    return PersonContextRecognizer()


@pytest.fixture(scope="module")
def engine() -> PiiEngine:
    return PiiEngine(
        ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_LICENSE_PLATE", "STREET_ADDRESS"],
        cache_size=0,
    )


def ruled(rules: PersonContextRecognizer, text: str, artifacts: NlpArtifacts | None = None):
    """The distinct texts the rules alone call a PERSON, in text order."""
    spans = sorted({(r.start, r.end) for r in rules.analyze(text, ["PERSON"], artifacts)})
    return [text[start:end] for start, end in spans]


NAMES_AFTER_CUES_OR_BEFORE_VERBS = [
    # the names the end-to-end test saw leak, in the simulator's sentences
    ("My neighbor Min-jun Santiago plays loud music until 3am.", ["Min-jun Santiago"]),
    ("Dog barking all day. The owner, Min-jun Núñez, does not respond.", ["Min-jun Núñez"]),
    ("The restaurant runs its fan all night. The manager is Min-jun Rodriguez.",
     ["Min-jun Rodriguez"]),
    ("The building leaves trash bags out. Owner is Rahul Park.", ["Rahul Park"]),
    ("Low water pressure, call the super Marcus Núñez at (212) 555-0101.", ["Marcus Núñez"]),
    ("No heat since Monday. Landlord Tenzin Diallo does not answer.", ["Tenzin Diallo"]),
    # apostrophes, hyphens, accents, particles
    ("Please ask for Siobhan O'Brien at the front desk.", ["Siobhan O'Brien"]),
    ("Water leaking from the ceiling. Tenant Ana García-López, apt 4B.", ["Ana García-López"]),
    ("My neighbor Juan de la Cruz parks on the sidewalk.", ["Juan de la Cruz"]),
    ("Neighbour Bartholomew van der Berg plays drums.", ["Bartholomew van der Berg"]),
    # honorifics, naming phrases, sign-offs
    ("Mrs. Okonkwo on the 3rd floor feeds pigeons.", ["Okonkwo"]),
    ("Dr. Oluwaseun Adeyemi said the mold is dangerous.", ["Oluwaseun Adeyemi"]),
    ("My name is Keisha Martinez and I live here.", ["Keisha Martinez"]),
    ("A man named Dmitri keeps dumping mattresses here.", ["Dmitri"]),
    ("Follow up for Marcus Petrov: text 212-555-0101.", ["Marcus Petrov"]),
    ("Spoke with the building manager, Jean-Luc Moreau, who promised a fix.", ["Jean-Luc Moreau"]),
    ("Heat is off again.\nThanks,\nZoë Nakamura", ["Zoë Nakamura"]),
    ("Nobody came to fix the light.\n-- Chloé Fitzgerald", ["Chloé Fitzgerald"]),
    # a person's verb after the name
    ("Nadia Brown called about no hot water in the building.", ["Nadia Brown"]),
    ("Every night Tenzin parks in the bus lane.", ["Tenzin"]),
    # typed all in capitals or all in lower case
    ("MY NAME IS KEISHA MARTINEZ AND I LIVE AT 12 MAIN ST", ["KEISHA MARTINEZ"]),
    ("my neighbor jamal keeps blocking the entrance with bikes", ["jamal"]),
    ("HANNAH COHEN CALLED ABOUT NO HOT WATER IN THE BUILDING.", ["HANNAH COHEN"]),
    ("HOMELESS ENCAMPMENT, CONCERNED NEIGHBOR KEISHA REDDY (917-555-0101).", ["KEISHA REDDY"]),
    ("the building leaves trash out, owner is marcus davis.", ["marcus davis"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "names"), NAMES_AFTER_CUES_OR_BEFORE_VERBS)
def test_when_a_name_follows_a_cue_or_precedes_a_verb_then_the_rules_find_it_whole(
    rules: PersonContextRecognizer, text: str, names: list[str]
) -> None:
    assert ruled(rules, text) == names


NO_NAMES = [
    # streets and places
    "Loud music at 123 Main St every night.",
    "My neighbor on Flatbush Ave keeps parking in the bike lane.",
    "Tenant Protection Unit never responded.",
    "Landlord Tenant Association meeting blocked the lobby.",
    "Contact Con Edison about the outage on our block.",
    # vehicle makes and models
    "The driver of the Honda Civic keeps honking at 6am.",
    "A white Toyota Camry keeps blocking the driveway.",
    "Ford Explorer parks on the sidewalk daily.",
    "the Honda keeps blocking the hydrant",
    # words that open sentences, days, agencies, roles with no name
    "Graffiti keeps coming back on Grand St.",
    "Sanitation said they would come Tuesday.",
    "Email me when the light is fixed.",
    "The manager said it would be fixed by Monday.",
    "Owner is Unknown.",
    "Thanks NYC 311!",
    "I am Concerned about the tree.",
    "Super Bowl party next door is too loud.",
    "Dear Sir or Madam, the heat is off.",
    "- Broken window\n- Heat off since Sunday",
    "Ana Lopez Called",  # a heading: the verb is capitalized
    # typed all in capitals or all in lower case
    "my neighbor upstairs keeps stomping after midnight",
    "THE LANDLORD REFUSES TO FIX THE HEAT",
    "VEHICLES DOUBLE PARKED ON BEDFORD AVE EVERY MORNING",
    "super annoying noise from upstairs every night",
    "the driver got out and yelled at me",
    "caller states the light is out",
    "THEY MISS OUR PICKUP EVERY WEEK",
]


@pytest.mark.parametrize("text", NO_NAMES)
def test_when_text_holds_no_name_then_the_rules_find_none(
    rules: PersonContextRecognizer, text: str
) -> None:
    assert ruled(rules, text) == []


def artifacts_with_person(text: str, person: str) -> NlpArtifacts:
    """Artifacts as if the model had tagged ``person`` (a substring of ``text``) PERSON."""
    doc = spacy.blank("en")(text)
    start = text.index(person)
    span = doc.char_span(start, start + len(person), label="PERSON", alignment_mode="expand")
    assert span is not None
    return NlpArtifacts(
        entities=[span],
        tokens=doc,
        tokens_indices=[token.idx for token in doc],
        lemmas=[token.lower_ for token in doc],
        nlp_engine=None,
        language="en",
        scores=[0.85],
    )


@pytest.mark.parametrize(
    ("text", "tagged", "widened"),
    [
        ("Yesterday Min-jun Ali broke the lock.", "Ali", ["Min-jun Ali"]),
        ("We saw Sarah Russo-Bell there.", "Sarah", ["Sarah Russo-Bell"]),
        ("Yesterday Min-jun Ali broke the lock.", "jun Ali", ["Min-jun Ali"]),  # mid-word
        ("Graffiti on the wall again.", "Graffiti", []),  # nothing name-shaped next to it
        ("Flowers for Maria Main St tenants.", "Maria", []),  # a street word stops it
        ("gave the keys to lakisha ng yesterday", "lakisha", ["lakisha ng"]),
    ],
)
def test_when_the_model_tags_part_of_a_name_then_the_span_widens_over_the_rest(
    rules: PersonContextRecognizer, text: str, tagged: str, widened: list[str]
) -> None:
    assert ruled(rules, text, artifacts_with_person(text, tagged)) == widened


@pytest.mark.parametrize(
    ("span", "single_case", "expected"),
    [
        ("Graffiti", False, True),
        ("Email", False, True),
        ("Con Edison", False, True),
        ("Landlord Tenant Association", False, True),
        ("Maria", False, False),
        ("Rahul Park", False, False),
        ("Will", False, False),  # a stop word, and a name
        ("NEVER RESPONDED", True, True),
        ("NEVER RESPONDED", False, False),
        ("KEISHA", True, False),
    ],
)
def test_when_a_model_person_is_only_words_never_in_names_then_it_is_dropped(
    span: str, single_case: bool, expected: bool
) -> None:
    assert never_a_name(span, single_case=single_case) is expected


NAMES_REDACTED = [
    ("My neighbor Min-jun Santiago plays loud music until 3am.", "Min-jun Santiago"),
    ("Dog barking all day. The owner, Min-jun Núñez, does not respond.", "Min-jun Núñez"),
    ("The restaurant at 12 Main St runs its fan all night. The manager is Min-jun Rodriguez.",
     "Min-jun Rodriguez"),
    ("The building at 40 Grand St leaves trash bags out. Owner is Rahul Park.", "Rahul Park"),
    ("My neighbor Min-jun Ali plays loud music until 3am.", "Min-jun Ali"),
    ("No heat since Monday. Landlord Jamal Ivanov does not answer at (212) 555-0101.",
     "Jamal Ivanov"),
    ("Fresh graffiti at 9 Bedford Ave. The owner Tiffany Esposito can be reached at "
     "tiffany@gmail.com.", "Tiffany Esposito"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "name"), NAMES_REDACTED)
def test_when_engine_redacts_then_no_word_of_the_name_remains(
    engine: PiiEngine, text: str, name: str
) -> None:
    redaction = engine.redact([text])
    (redacted,) = redaction.texts
    assert redacted is not None
    assert [word for word in name.split() if word in redacted] == []
    assert redaction.found["PERSON"] >= 1


@pytest.mark.parametrize(
    "text",
    [
        "Graffiti on the wall of the laundromat on Bedford Ave.",
        "Email me at ana.lopez@gmail.com when the sidewalk is repaired.",
        "Contact Con Edison about the outage on our block.",
        "Loud music at 123 Main St every night.",
        "A white Toyota Camry keeps blocking the driveway at 12 Flatbush Ave.",
        "Sanitation said they would come Tuesday.",
    ],
)
def test_when_engine_scans_text_without_names_then_no_person_is_found(
    engine: PiiEngine, text: str
) -> None:
    assert "PERSON" not in engine.entity_types([text])
