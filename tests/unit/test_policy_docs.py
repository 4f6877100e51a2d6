"""docs/adding-a-dataset.md: its worked example loads, and says what the tools really print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from citysieve.paths import REPO_ROOT
from citysieve.policy import aggregate_row_schema, check_policies, load_policy

GUIDE = REPO_ROOT / "docs" / "adding-a-dataset.md"


def _blocks(language: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _write_example(root: Path, policy: str) -> Path:
    (root / "policies").mkdir()
    (root / "schemas").mkdir()
    (root / "schemas" / "parking_sessions.avsc").write_text(_blocks("json")[0], encoding="utf-8")
    policy_path = root / "policies" / "parking_sessions.yaml"
    policy_path.write_text(policy, encoding="utf-8")
    return policy_path


def test_when_the_guide_example_is_added_then_it_loads_with_the_columns_it_lists(
    tmp_path: Path,
) -> None:
    _write_example(tmp_path, _blocks("yaml")[0])

    policy = load_policy("parking_sessions", tmp_path / "policies")

    columns = [field["name"] for field in aggregate_row_schema(policy)["fields"]]
    listed = re.search(
        r"The open rows of this example have (.*?)\.\n\n", GUIDE.read_text(), flags=re.DOTALL
    )
    assert listed is not None
    assert columns == re.findall(r"`(\w+)`", listed.group(1))


def test_when_the_guide_example_lacks_an_operator_then_the_error_is_the_one_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = _blocks("yaml")[0].replace(
        "    plate: drop                       # carried as subject_pseudonym\n", ""
    )
    _write_example(tmp_path, policy)
    monkeypatch.chdir(tmp_path.parent)
    shown = re.search(r"^error: (.*)$", GUIDE.read_text(), flags=re.MULTILINE)
    assert shown is not None

    result = check_policies(Path(tmp_path.name) / "policies")

    assert [str(e) for e in result.errors] == [
        shown.group(1).replace("my-city/", f"{tmp_path.name}/")
    ]
