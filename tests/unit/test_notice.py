"""The transparency notice (Markdown + self-contained HTML) and the policy/notice commands."""

from __future__ import annotations

import re
from pathlib import Path

import h3
import pytest

from citysieve.notice import H3_AVERAGE_AREA_KM2, h3_area, render_html, render_markdown
from citysieve.policy import load_policies
from streams.cli import main
from tests.unit.policy_fixtures import edit_policy, line_of, write_dataset

POLICIES = load_policies()
DATASETS = sorted(POLICIES)


def test_when_the_notice_is_rendered_then_every_dataset_has_its_sections() -> None:
    markdown = render_markdown(POLICIES)

    for dataset in DATASETS:
        policy = POLICIES[dataset]
        assert f"## {policy.title} ({dataset})" in markdown
        assert f"`iot.anon.{dataset}`" in markdown
    for heading in ("What is collected", "What is published", "How long it is kept"):
        assert markdown.count(f"### {heading}") == len(DATASETS)
    assert markdown.count("**Opting out.**") == len(DATASETS)
    assert markdown.count("**Erasure.**") == len(DATASETS)


def test_when_the_notice_is_rendered_then_it_states_k_granularity_and_retention() -> None:
    markdown = render_markdown({"wifi_presence": POLICIES["wifi_presence"]})

    assert "In windows of 15 minutes (events arriving up to 5 minutes late" in markdown
    assert "at least k = 5 distinct people or devices" in markdown
    assert "H3 cells of about 0.11 km² (resolution 9)" in markdown
    assert "up to about 5.2 km² (resolution 7)" in markdown
    assert "| raw (`iot.raw.wifi_presence`) | 1 day | the pipeline only |" in markdown
    assert "| anon (`iot.anon.wifi_presence`) | 30 days | the city's analysts |" in markdown
    assert "| audit (`iot.audit`) | 3650 days (10 years) | the privacy officer |" in markdown
    assert (
        "| `mac` | Wi-Fi MAC address of the passing device. | Private | removed; the event "
        "carries a keyed pseudonym instead, which changes every 30 days |" in markdown
    )


def test_when_a_dataset_has_no_subject_then_the_notice_says_no_k_applies() -> None:
    markdown = render_markdown({"air_quality": POLICIES["air_quality"]})

    assert "holds no personal data, so no minimum group size applies" in markdown
    assert "Opting out is not possible. No personal data is collected" in markdown


def test_when_html_is_rendered_then_it_is_one_self_contained_page() -> None:
    page = render_html(POLICIES)

    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert "src=" not in page
    assert "@import" not in page
    assert '<a href="mailto:privacy@city.example">' in page
    assert '<a href="#wifi_presence">Wi-Fi presence counts</a>' in page
    assert "<code>iot.raw.wifi_presence</code>" in page
    for dataset in DATASETS:
        assert f'<h2 id="{dataset}">' in page


@pytest.mark.parametrize("resolution", range(16))
def test_when_a_cell_area_is_quoted_then_it_matches_h3(resolution: int) -> None:
    expected = h3.average_hexagon_area(resolution, unit="km^2")

    assert H3_AVERAGE_AREA_KM2[resolution] == pytest.approx(expected, rel=1e-9)
    assert h3_area(resolution).startswith("about ")


def test_when_notice_command_runs_then_both_files_name_all_datasets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "notice"

    code = main(["notice", "--out", str(out)])

    assert code == 0
    markdown = (out / "notice.md").read_text(encoding="utf-8")
    page = (out / "notice.html").read_text(encoding="utf-8")
    for dataset in DATASETS:
        assert dataset in markdown
        assert dataset in page
    assert str(out / "notice.html") in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["notice.html", "notice.md"]


def test_when_shipped_policies_are_checked_then_the_command_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["policy", "check"])

    output = capsys.readouterr().out
    assert code == 0
    assert "6 dataset(s) OK" in output
    for dataset in DATASETS:
        assert dataset in output


def test_when_a_policy_has_a_mistake_then_check_exits_1_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_path, _ = write_dataset(tmp_path, edit_policy(("  k: 5", "  k: 1")))

    code = main(["policy", "check", str(tmp_path / "policies")])

    output = capsys.readouterr().out
    assert code == 1
    assert f"{policy_path}:{line_of(policy_path, '  k: 1')}: k is 1" in output
    assert "set open.k to 2 or more" in output


def test_when_notice_is_asked_of_a_broken_policy_then_it_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_path, _ = write_dataset(tmp_path, edit_policy(("  k: 5", "  k: 1")))

    code = main(["notice", "--policies", str(tmp_path / "policies"), "--out", str(tmp_path / "o")])

    assert code != 0
    assert str(policy_path) in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "o").exists()


def test_when_a_derived_schema_is_asked_then_it_is_printed_as_avro_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["policy", "schema", "micromobility_trips", "--tier", "open"])

    assert code == 0
    assert '"name": "origin_h3_cell"' in capsys.readouterr().out
