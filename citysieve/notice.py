"""The public transparency notice, generated from the same policy files the pipeline runs on.

Pure: policies in, a Markdown string and a self-contained HTML page out
(``citysieve notice`` writes them). Both are rendered from one list of blocks
(:func:`notice_blocks`), so they always say the same thing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from citysieve.policy import TIERS, DatasetPolicy, FieldTreatment, Tier, aggregate_row_schema
from citysieve.policy.durations import humanize_duration

TITLE: Final = "How the city collects, protects and publishes smart-city data"

# Average H3 hexagon area per resolution, km² (H3 documentation, "Cell area" table).
H3_AVERAGE_AREA_KM2: Final = (
    4_357_449.416078383,
    609_788.4417941332,
    86_801.7803989972,
    12_393.43465508816,
    1_770.347654491307,
    252.9038581819449,
    36.12906216441245,
    5.161293359717191,
    0.7373275975944177,
    0.1053325134272067,
    0.01504750190766435,
    0.002149643129451879,
    0.000307091875631606,
    4.387026794728296e-05,
    6.267181135324313e-06,
    8.95311590760579e-07,
)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass(frozen=True)
class Paragraph:
    text: str
    label: str | None = None


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


Block = Heading | Paragraph | Table | Bullets


# --- what the notice says ------------------------------------------------------------------------


def h3_area(resolution: int) -> str:
    """``9`` -> "about 0.11 km²"."""
    area = H3_AVERAGE_AREA_KM2[resolution]
    return f"about {area:,.0f} km²" if area >= 100 else f"about {area:.2g} km²"


def notice_blocks(policies: Mapping[str, DatasetPolicy]) -> list[Block]:
    ordered = [policies[name] for name in sorted(policies)]
    blocks: list[Block] = [
        Heading(1, TITLE),
        Paragraph(
            "This notice is generated from the policy files the city's data pipeline runs "
            "on, so it says what the pipeline does. For each kind of data it says why it is "
            "collected, what is collected and how, what is published and how long each copy "
            "is kept, and how to opt out or ask for erasure."
        ),
        *_tiers_section(),
        Heading(2, "Datasets", "datasets"),
        Bullets(tuple(f"[{p.title}](#{p.dataset}) (`{p.dataset}`)" for p in ordered)),
    ]
    for policy in ordered:
        blocks.extend(_dataset_section(policy))
    return blocks


def _tiers_section() -> list[Block]:
    rows = tuple(
        (f"`{info.topic_for('<dataset>')}`", info.holds, info.readers, info.ceiling.label)
        for info in TIERS.values()
    )
    return [
        Heading(2, "How data moves and who can read it", "tiers"),
        Paragraph(
            "Every field is classified Public, Sensitive, Private or Confidential; personal "
            "data is at least Private, and a record that puts a place, a time and a person "
            "or device together is at least Private as a whole. Personal data is anonymized "
            "before anyone but the pipeline sees it, and only data that is Public after "
            "anonymization is published. Each copy is kept in one tier:"
        ),
        Table(("Tier", "What it holds", "Who can read it", "Highest class"), rows),
        Paragraph(
            "Every export, erasure and opt-out is recorded in the audit tier. Identifiers are "
            "replaced by keyed pseudonyms (HMAC-SHA256): unlike a plain hash, they cannot be "
            "reversed by trying every possible MAC address or plate without the key."
        ),
    ]


def _dataset_section(policy: DatasetPolicy) -> list[Block]:
    collection = policy.collection
    return [
        Heading(2, f"{policy.title} ({policy.dataset})", policy.dataset),
        Paragraph(policy.purpose, "Why."),
        Paragraph(collection.what, "What."),
        Paragraph(collection.how, "How."),
        Paragraph(f"{collection.device} {collection.placement}", "With what, and where."),
        Paragraph(policy.legal_basis, "Legal basis."),
        Heading(3, "What is collected, field by field"),
        _fields_table(policy),
        Heading(3, "What is published"),
        *_published(policy),
        Heading(3, "How long it is kept"),
        _retention_table(policy),
        Heading(3, "Your choices"),
        *_choices(policy),
    ]


def _fields_table(policy: DatasetPolicy) -> Table:
    header = ("Field", "What it is", "Class", "What analysts see")
    rows = tuple(
        (
            f"`{t.field.name}`",
            t.field.doc + (f" ({t.field.unit})" if t.field.unit else ""),
            t.field.classification.label,
            _treatment_words(policy, t),
        )
        for t in policy.treatments
    )
    return Table(header, rows)


def _treatment_words(policy: DatasetPolicy, treatment: FieldTreatment) -> str:
    if treatment.location is not None:
        location = next(loc for loc in policy.locations if loc.name == treatment.location)
        return (
            f"replaced by the H3 cell ({h3_area(location.resolution)}, resolution "
            f"{location.resolution}) that holds the point"
        )
    if treatment.field.name in policy.subject and treatment.removed:
        period = humanize_duration(policy.pseudonym_epoch) if policy.pseudonym_epoch else ""
        return f"removed; the event carries a keyed pseudonym instead, which changes every {period}"
    return treatment.describe()


def _published(policy: DatasetPolicy) -> list[Block]:
    window = policy.open.window
    areas = ["area" if loc.name == "location" else f"{loc.name} area" for loc in policy.locations]
    keys = areas + [f"`{name}`" for name in policy.open.dimensions]
    counts = "the number of events" + (
        " and of distinct people or devices" if policy.has_subject else ""
    )
    statistics = ", and statistics of the measurements" if policy.open.measures else ""
    blocks: list[Block] = [
        Paragraph(
            f"In windows of {humanize_duration(window.size)} (events arriving up to "
            f"{humanize_duration(window.allowed_lateness)} late are still counted), the "
            f"pipeline publishes, per {_and_list(keys)}, {counts}{statistics}. "
            f"Licence: {policy.open.licence}."
        ),
        Paragraph(_granularity(policy)),
    ]
    row = aggregate_row_schema(policy)
    rows = tuple(
        (f"`{field['name']}`", field["doc"], field.get("unit", "")) for field in row["fields"]
    )
    blocks.append(Table(("Column", "Meaning", "Unit"), rows))
    return blocks


def _granularity(policy: DatasetPolicy) -> str:
    h3 = policy.open.h3
    area = (
        "This dataset has no map position: groups are formed by the keys above, coarsened "
        "as the table below says."
    )
    if h3 is not None:
        area = f"Areas are hexagonal H3 cells of {h3_area(h3.finest)} (resolution {h3.finest})" + (
            f"; a cell with too few people is merged into its larger parent cell, up to "
            f"{h3_area(h3.coarsest)} (resolution {h3.coarsest})."
            if h3.coarsest < h3.finest
            else "."
        )
    if not policy.has_subject:
        return f"{area} This dataset holds no personal data, so no minimum group size applies."
    return (
        f"{area} A group is published only if it holds at least k = {policy.open.k} distinct "
        "people or devices (counted by pseudonym, never by events); smaller groups are merged "
        "into coarser ones, and what is still too small is not published, only counted. "
        "Each event counts in one published row only, so rows cannot be subtracted from "
        "each other to reveal a smaller group."
    )


def _retention_table(policy: DatasetPolicy) -> Table:
    rows = tuple(
        (
            f"{tier.value} (`{policy.topic(tier)}`)",
            humanize_duration(policy.retention.duration(tier)),
            TIERS[tier].readers,
        )
        for tier in Tier
    )
    return Table(("Tier", "Kept for", "Who can read it"), rows)


def _choices(policy: DatasetPolicy) -> list[Block]:
    opt_out = policy.opt_out
    if opt_out.allowed:
        opting = opt_out.how or ""
    else:
        opting = f"Opting out is not possible. {opt_out.reason}"
    contact = policy.contact
    contact_text = f"{contact.name}, {contact.email}" + (f", {contact.url}" if contact.url else "")
    return [
        Paragraph(opting, "Opting out."),
        Paragraph(policy.erasure.how, "Erasure."),
        Paragraph(contact_text, "Contact."),
    ]


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# --- Markdown ------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown_block(block: Block) -> str:
    if isinstance(block, Heading):
        anchor = f' <a id="{block.anchor}"></a>' if block.anchor else ""
        return f"{'#' * block.level} {block.text}{anchor}"
    if isinstance(block, Paragraph):
        text = " ".join(block.text.split())
        return f"**{block.label}** {text}" if block.label else text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    lines = [
        "| " + " | ".join(block.header) + " |",
        "|" + "|".join("---" for _ in block.header) + "|",
    ]
    lines.extend("| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in block.rows)
    return "\n".join(lines)


def render_markdown(policies: Mapping[str, DatasetPolicy]) -> str:
    return "\n\n".join(_markdown_block(block) for block in notice_blocks(policies)) + "\n"


# --- HTML ----------------------------------------------------------------------------------------

_STYLE: Final = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f24; background: #fff; }
h1 { font-size: 1.9rem; border-bottom: 3px solid #0b5cad; padding-bottom: .4rem; }
h2 { font-size: 1.45rem; margin-top: 2.5rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; width: 100%; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #d0d7de; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f5f9; }
tr:nth-child(even) td { background: #fafbfc; }
code { background: #eef2f6; padding: 0 .25rem; border-radius: 3px; font-size: .9em; }
a { color: #0b5cad; }
strong { color: #0b3d75; }
"""
_LINK: Final = re.compile(r"\[([^\]]+)\]\((#[a-z0-9_]+)\)")
_URL: Final = re.compile(r"https?://[^\s<]+[^\s<.,;:)]")
_EMAIL: Final = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CODE: Final = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escape, then turn `code`, [text](#anchor), URLs and emails into HTML."""
    out = html.escape(" ".join(text.split()), quote=False)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _LINK.sub(r'<a href="\2">\1</a>', out)
    out = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', out)
    return _EMAIL.sub(lambda m: f'<a href="mailto:{m.group(0)}">{m.group(0)}</a>', out)


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        anchor = f' id="{block.anchor}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{_inline(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        label = f"<strong>{html.escape(block.label)}</strong> " if block.label else ""
        return f"<p>{label}{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>"
    head = "".join(f"<th>{_inline(cell)}</th>" for cell in block.header)
    body = "".join(_html_row(row) for row in block.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_row(cells: Iterable[str]) -> str:
    return "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in cells) + "</tr>\n"


def render_html(policies: Mapping[str, DatasetPolicy]) -> str:
    """One self-contained page: inline CSS, no scripts, fonts or images from elsewhere."""
    body = "\n".join(_html_block(block) for block in notice_blocks(policies))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(TITLE)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
