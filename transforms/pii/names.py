"""Person names the small spaCy model misses, found from the words around them.

spaCy's ``en_core_web_sm`` misses about one name in eight in 311 text: names it
has rarely seen ("Min-jun Núñez", "Tenzin Diallo"), names it calls an
organisation or a place ("Owner is Rahul Park." comes out as a GPE), first names
alone ("my neighbor Ana keeps ..."), and most names in text typed all in
capitals or all in lower case. :class:`PersonContextRecognizer` adds three rules
on top of the model. They are plain code over the text: no list of names, no
model, nothing loaded.

1. **Cue, then name.** One to four name-shaped words right after words that
   announce a person: a naming phrase (my name is, I am, named, ask for,
   contact, reported by, spoke to, ...), an honorific (Mr., Ms., Dr., ...), a
   role (neighbor, landlord, owner, tenant, super, manager, driver, ...) or a
   sign-off (thanks, regards, signed, a line opening with ``--``). A comma, a
   colon, a line break, ``is``, ``was``, ``named`` or ``called`` may stand
   between: "The owner, Ana Singh, ...", "Owner is Rahul Park.", "Thanks,\\nAna".
   A run followed by a place's or an organisation's word ("Tenant Protection
   Unit", "Bedford Ave Realty") is no name.
2. **Name, then a person's verb.** One to three name-shaped words right before
   a verb people do in complaints (keeps, parks, said, called, refuses, ...):
   "Nadia Brown called about ...". One word opening a sentence ("Graffiti keeps
   coming back", "Sanitation said") or after an article ("the Honda keeps")
   does not count, nor does a run holding a make that is also a surname
   ("Ford Explorer parks ...").
3. **Widen the model's names.** A PERSON span from spaCy grows to whole words
   and over up to two name-shaped words on each side, so "Min-jun" is not left
   behind when the model tags only "Ali".

*Name-shaped*, in text with ordinary capitalization: a capitalized word
(letters of any script with inner hyphens or apostrophes: O'Brien, García-López,
Min-jun, DeShawn), with surname particles (de, la, van, bin, ...) allowed between
two of them. Words that are never part of a name in the city's complaints
(street types, boroughs, days and months, agencies, utilities, vehicle makes,
the words complaints open with) and English stop words end a run.

Text typed all in capitals or all in lower case has no capitals to go by: there
any letters-only word that is not one of those words is name-shaped, and rules 1
and 2 ask for more. After a role or a sign-off the run must end at punctuation
or before a person's verb ("MY NEIGHBOR JAMES KEEPS ...", "tenant william
thompson, 646 ..."; not "super annoying noise"); before a verb it must be two or
three words opening a sentence ("HANNAH COHEN CALLED ABOUT ..."; not "vehicles
double parked"). Naming phrases and honorifics with a period need nothing more.

:class:`CheckedSpacyRecognizer` drops the model's PERSON spans made only of
words that are never names ("Graffiti on the wall", "Email me at ...",
"Con Edison").

Known limits: a name with no cue and no person's verb next to it is found only
if the model finds it ("Gave the keys to Lakisha Ng"); a capitalized word after
a cue is taken for a name ("Ask for Security at the desk"). perf/bench_pii.py
measures recall and precision; tests/unit/test_pii_names.py holds the cases.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import SpacyRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

ENTITY: Final = "PERSON"
# Below the model's 0.85; above the engine's 0.35 threshold.
CUE_SCORE: Final = 0.7
VERB_SCORE: Final = 0.6
MAX_AFTER_CUE: Final = 4  # words in a name after a cue
MAX_BEFORE_VERB: Final = 3  # words in a name before a verb
MAX_WIDEN: Final = 2  # words a model span may grow by on each side

# --- words -----------------------------------------------------------------------

# Letters of any script, with inner hyphens and apostrophes: Min-jun, O'Brien, Núñez.
_WORD: Final = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# Two words belong to one name only with spaces or tabs alone between them.
_NAME_GAP: Final = re.compile(r"[ \t]{1,3}")
_SENTENCE_END: Final = frozenset('.!?;:\n"()[]')
# What may follow a name after a role or a sign-off in text typed in one case.
_CLAUSE_END: Final = frozenset(',.;:!?()[]\n"')

# Phrases after which a name comes next.
_NAMING_PHRASES: Final = (
    r"my\s+name\s+is",
    r"name\s+is",
    r"name's",
    r"names\s+are",
    r"named",
    r"i\s+am",
    r"i'm",
    r"ask\s+for",
    r"asking\s+for",
    r"follow[\s-]*up\s+(?:for|with)",
    r"(?:spoke|speak|talked|talk)\s+(?:to|with)",
    r"contact",
    r"reported\s+by",
    r"submitted\s+by",
    r"on\s+behalf\s+of",
)
_HONORIFICS: Final = "mr mrs ms mx miss dr prof rev sr sra srta mme mlle herr frau"
# Roles a name often follows, and the words that sign a message off. The word after
# one of these is often no name ("the super said", "thanks again").
_ROLES: Final = (
    "neighbor neighbors neighbour neighbours landlord landlords landlady owner owners "
    "tenant tenants super superintendent manager driver resident caller complainant roommate "
    "janitor porter doorman handyman contractor broker realtor officer inspector agent "
    "husband wife son daughter mother father brother sister friend cousin boyfriend girlfriend"
)
_SIGN_OFFS: Final = (
    r"this\s+is",
    r"signed",
    r"regards",
    r"thanks",
    r"thank\s+you",
    r"sincerely",
    r"attn",
    r"attention",
    r"c/o",
    r"cc",
)
# "The owner, Ana Singh" / "Owner is Rahul Park" / "neighbor named Ana" / "Thanks,\nAna".
_CUE_GAP: Final = (
    r"(?:[ \t]*[,:]?[ \t]*\n?[ \t]*(?:(?:is|was|named|called)[ \t]+)?|[ \t]*--?[ \t]*)"
)
_WHOLE: Final = r"(?<![\w'’-])(?:{})(?![\w'’-])"
_CUE: Final = re.compile(
    "(?i:"
    + _WHOLE.format("|".join(_NAMING_PHRASES))
    + _CUE_GAP
    + "(?P<naming>)"
    + r"|(?<![\w'’-])(?:"
    + "|".join(_HONORIFICS.split())
    + r")(?:\.(?P<titled>)|(?![\w'’-]))[ \t]+"
    + "|"
    + _WHOLE.format("|".join((*_ROLES.split(), *_SIGN_OFFS)))
    + _CUE_GAP
    + r"|(?:^|\n)[ \t]*(?:--|—|–)[ \t]*)"
)

# Verbs people do in complaints: a run of name words right before one is a name.
_PERSON_VERB_WORDS: Final = (
    "keeps parks said says told tells called calls phoned reported reports complained "
    "complains refuses refused lives lived plays smokes yells yelled screams screamed "
    "threatened threatens harassed harasses owns rents works feeds throws doesn't didn't "
    "won't hasn't isn't can't wont doesnt didnt hasnt isnt cant never always also asked "
    "asks wants wanted saw sees mentioned confirmed agreed promised insists insisted "
    "claims claimed ignores ignored answered replied responded knows knew drives drove "
    "moved stays stayed"
)
_PERSON_VERBS: Final = frozenset(_PERSON_VERB_WORDS.split())

# Lower-case particles between the words of a name: De la Cruz, van der Berg, bin Said.
_PARTICLE_WORDS: Final = "de del della der di da das do dos du la le van von ter ten bin ibn al el"
_PARTICLES: Final = frozenset(_PARTICLE_WORDS.split())

# A capitalized run right before one of these names a place or an organisation
# ("Tenant Protection Unit", "Bedford Ave Realty"), not a person.
_ORG_TAIL_WORDS: Final = (
    "st street ave avenue rd road blvd boulevard pl place ln ct pkwy parkway ter terrace "
    "hwy highway sq square plaza bridge tunnel unit association council committee board "
    "management company co corp corporation inc llc ltd group realty properties services "
    "school hospital clinic center centre market deli restaurant bar cafe pizza store "
    "shop pharmacy laundromat garage hotel precinct department dept agency authority "
    "office"
)
_ORG_TAILS: Final = frozenset(_ORG_TAIL_WORDS.split())
# Words that are never part of a name in the city's complaints, whatever their case.
# Words that are names too stay out: Park, Lane, Court, Van, Ed, Jun, Thu, May, June.
_NEVER_NAME_WORDS: Final = (
    # places
    "av expy expressway tpke turnpike plz cir circle concourse broadway bowery brooklyn "
    "queens manhattan bronx staten island harlem nyc ny nj usa america york jersey city "
    "borough downtown uptown midtown north south east west ne nw se sw "
    # days and months
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thur thurs "
    "fri sat january february march july september october november december feb mar "
    "apr jul aug sep sept oct nov dec today tomorrow yesterday tonight "
    # agencies, utilities, companies
    "nypd fdny dsny dep dot hpd dob doe mta nycha doh dohmh tlc dcwp sanitation police "
    "fire service con edison coned verizon spectrum optimum comcast xfinity fios grid "
    "amazon ups fedex usps uber lyft doordash grubhub citibike revel state federal "
    "government building buildings housing transit parks "
    # vehicle makes and models (Ford, Mercedes, Lincoln are names too: see _VEHICLES)
    "toyota honda nissan chevrolet chevy hyundai bmw benz jeep subaru tesla lexus kia "
    "volkswagen vw dodge acura audi buick cadillac chrysler gmc infiniti mazda "
    "mitsubishi porsche volvo civic camry corolla accord altima sentra prius suv "
    # words complaints open with or put in a heading
    "graffiti email e-mail phone tel cell mobile number address apt apartment floor fl "
    "room suite ste noise loud heat hot water leak leaking trash garbage rats rat mice "
    "roaches illegal parking parked car cars truck bus taxi cab vehicle vehicles plate "
    "plates license dog dogs pothole sidewalk light lights tree trees construction "
    "abandoned blocked driveway hydrant dirty condition request complaint report "
    "reported follow urgent help thanks thank regards sincerely hello hi dear sir madam "
    "team staff info information details note notes subject re fwd attn attention "
    "unknown anonymous bowl "
    # roles (a cue, not a name)
    "owner owners landlord landlords tenant tenants super supers manager managers "
    "neighbor neighbors neighbour neighbours resident residents driver drivers caller "
    "complainant mr mrs ms dr miss mx "
    # what follows "I am", "my neighbor", "the super" when no name does
    "concerned writing calling reporting disabled elderly senior sick tired worried "
    "afraid scared pregnant upstairs downstairs nextdoor across hallway lobby basement "
    "roof guy guys lady ladies man men woman women people family kids children"
)
_NEVER_NAMES: Final = _ORG_TAILS | frozenset(_NEVER_NAME_WORDS.split())
# Makes that are surnames or given names too: a name, except before a person's verb.
_VEHICLES: Final = frozenset({"ford", "mercedes", "lincoln"})
# A run right after one of these is a thing ("the Honda keeps ...").
_ARTICLE_WORDS: Final = (
    "the a an this that these those my our your his her their its some any every each "
    "no one another"
)
_ARTICLES: Final = frozenset(_ARTICLE_WORDS.split())


@dataclass(frozen=True, slots=True)
class _Word:
    start: int
    end: int
    text: str


def _single_case(text: str) -> bool:
    """Typed all in capitals or all in lower case: capitalization says nothing."""
    return text.isupper() or text.islower()


def _name_shaped(word: str, *, single_case: bool) -> bool:
    lower = word.lower()
    if len(word) < 2 or lower in _NEVER_NAMES or lower in STOP_WORDS or lower in _PERSON_VERBS:
        return False
    return single_case or (word[0].isupper() and not word.isupper())


def _starts_sentence(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t\r":
        index -= 1
    return index < 0 or text[index] in _SENTENCE_END


class _Text:
    """One text's words, and the runs of name-shaped words among them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words = [_Word(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        self.single_case = _single_case(text)
        self.starts = [word.start for word in self.words]

    def word_at(self, offset: int) -> int | None:
        """The index of the word starting at ``offset``, if one does."""
        index = bisect.bisect_left(self.starts, offset)
        if index < len(self.starts) and self.starts[index] == offset:
            return index
        return None

    def joined(self, left: int, right: int) -> bool:
        """Whether only spaces stand between word ``left`` and word ``right``."""
        gap = (self.words[left].end, self.words[right].start)
        return _NAME_GAP.fullmatch(self.text, *gap) is not None

    def shaped(self, index: int) -> bool:
        return _name_shaped(self.words[index].text, single_case=self.single_case)

    def particle(self, index: int) -> bool:
        return not self.single_case and self.words[index].text in _PARTICLES

    def lower(self, index: int) -> str:
        return self.words[index].text.lower()

    def run_from(self, first: int) -> int:
        """Index past the name run that starts at word ``first`` (``first`` when none does)."""
        if first >= len(self.words) or not self.shaped(first):
            return first
        end, count, index = first + 1, 1, first + 1
        while index < len(self.words) and count < MAX_AFTER_CUE and self.joined(index - 1, index):
            if self.shaped(index):
                end, count, index = index + 1, count + 1, index + 1
            elif self.particle(index):
                index += 1  # kept only when a name word follows
            else:
                break
        return end

    def run_to(self, last: int) -> int:
        """Index of the first word of the name run ending at ``last`` (``last + 1`` if none)."""
        if last < 0 or not self.shaped(last):
            return last + 1
        begin, count, index = last, 1, last - 1
        while index >= 0 and count < MAX_BEFORE_VERB and self.joined(index, index + 1):
            if self.shaped(index):
                begin, count, index = index, count + 1, index - 1
            elif self.particle(index):
                index -= 1
            else:
                break
        return begin

    def org_follows(self, end: int) -> bool:
        """Whether the word at ``end``, joined to the run before it, names a place or an org."""
        if end >= len(self.words) or not self.joined(end - 1, end):
            return False
        word = self.words[end].text
        return word.lower() in _ORG_TAILS and (self.single_case or word[0].isupper())

    def clause_ends(self, end: int) -> bool:
        """Whether the run ending before word ``end`` is followed by punctuation or a verb."""
        rest = self.text[self.words[end - 1].end :].lstrip(" \t")
        if not rest or rest[0] in _CLAUSE_END:
            return True
        return (
            end < len(self.words) and self.joined(end - 1, end) and self.lower(end) in _PERSON_VERBS
        )


def _after_cues(text: _Text) -> Iterator[tuple[int, int, float]]:
    for cue in _CUE.finditer(text.text):
        first = text.word_at(cue.end())
        if first is None:
            continue
        end = text.run_from(first)
        if end == first or text.org_follows(end):
            continue
        naming = cue.group("naming") is not None or cue.group("titled") is not None
        if text.single_case and not naming and not text.clause_ends(end):
            continue  # "super annoying noise", "the driver got out"
        yield text.words[first].start, text.words[end - 1].end, CUE_SCORE


def _before_verbs(text: _Text) -> Iterator[tuple[int, int, float]]:
    words = text.words
    for verb in range(1, len(words)):
        if text.lower(verb) not in _PERSON_VERBS or not text.joined(verb - 1, verb):
            continue
        if not text.single_case and not words[verb].text.islower():
            continue  # "Ana Lopez Called" is a heading
        first = text.run_to(verb - 1)
        if first == verb:
            continue
        run = range(first, verb)
        if any(text.lower(index) in _VEHICLES for index in run):
            continue  # "Ford Explorer parks on the sidewalk"
        opens = _starts_sentence(text.text, words[first].start)
        if len(run) == 1 and opens:
            continue  # "Graffiti keeps coming back", "Sanitation said"
        if text.single_case and (len(run) == 1 or not opens):
            continue  # "VEHICLES DOUBLE PARKED", "and flat tires left"
        if not opens and text.lower(first - 1) in _ARTICLES:
            continue  # "the Honda keeps blocking"
        yield words[first].start, words[verb - 1].end, VERB_SCORE


def _widened(
    text: _Text, people: Sequence[tuple[int, int, float]]
) -> Iterator[tuple[int, int, float]]:
    """Each model PERSON span grown to whole words and over the name words next to it."""
    words = text.words
    reach = 1 if text.single_case else MAX_WIDEN
    for start, end, score in people:
        first = max(bisect.bisect_right(text.starts, start) - 1, 0)
        last = bisect.bisect_left(text.starts, end) - 1
        if last < first or words[first].end <= start:
            first += 1  # the span starts between words
        if last < first:
            continue
        new_first, new_last = first, last
        while (
            new_last + 1 < len(words)
            and new_last - last < reach
            and text.joined(new_last, new_last + 1)
            and text.shaped(new_last + 1)
            and not text.org_follows(new_last + 2)  # "Maria Main St": the street stays
        ):
            new_last += 1
        while (
            new_first > 0
            and first - new_first < reach
            and text.joined(new_first - 1, new_first)
            and text.shaped(new_first - 1)
            and not _starts_sentence(text.text, words[new_first - 1].start)
        ):
            new_first -= 1
        span = (min(start, words[new_first].start), max(end, words[new_last].end))
        if span != (start, end):
            yield span[0], span[1], score


def _model_people(nlp_artifacts: NlpArtifacts) -> list[tuple[int, int, float]]:
    return [
        (entity.start_char, entity.end_char, float(score))
        for entity, score in zip(nlp_artifacts.entities, nlp_artifacts.scores, strict=False)
        if entity.label_ == ENTITY
    ]


class PersonContextRecognizer(LocalRecognizer):
    """PERSON spans from cues, a person's verbs, and widened model spans (see the module)."""

    ENTITY: Final = ENTITY

    def __init__(self) -> None:
        super().__init__(
            supported_entities=[ENTITY], name=type(self).__name__, supported_language="en"
        )

    def load(self) -> None:
        """Nothing to load: the rules are code."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if ENTITY not in entities or not text:
            return []
        words = _Text(text)
        if not words.words:
            return []
        spans = [*_after_cues(words), *_before_verbs(words)]
        if nlp_artifacts is not None:
            spans.extend(_widened(words, _model_people(nlp_artifacts)))
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        return [
            RecognizerResult(ENTITY, start, end, score, recognition_metadata=dict(metadata))
            for start, end, score in spans
        ]


def never_a_name(span: str, *, single_case: bool = False) -> bool:
    """Whether every word of ``span`` is one that is never part of a name ("Graffiti").

    In text typed all in one case, stop words and a person's verbs count too
    ("NEVER RESPONDED"); elsewhere a capitalized stop word may be a name ("Will").
    """
    words = [word.lower() for word in _WORD.findall(span)]
    if not words:
        return False
    if single_case:
        return all(w in _NEVER_NAMES or w in STOP_WORDS or w in _PERSON_VERBS for w in words)
    return all(word in _NEVER_NAMES for word in words)


class CheckedSpacyRecognizer(SpacyRecognizer):
    """spaCy's entities, less the PERSON spans made only of words that are never names.

    The small model calls words that open a complaint ("Graffiti on the wall",
    "Email me at ...") and utilities ("Con Edison") persons.
    """

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts)
        single_case = _single_case(text)
        return [
            result
            for result in results
            if result.entity_type != ENTITY
            or not never_a_name(text[result.start : result.end], single_case=single_case)
        ]
