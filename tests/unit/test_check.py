"""`rcgate check`: validation, dead rules, coverage against mappings/documented.yaml."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gateway.check import check_mappings, render_markdown, render_text
from gateway.cli import main

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"


@pytest.fixture
def mappings_copy(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, target)
    return target


def edit(path: Path, change) -> None:
    """Load a YAML file, let `change` modify the dict, write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    return [str(p) for p in check_mappings(directory).problems]


# --------------------------------------------------------------------------- the real files


def test_real_mappings_pass(capsys):
    assert main(["check", "--mappings", str(MAPPINGS)]) == 0
    out = capsys.readouterr()
    assert "ok: no problems" in out.out
    assert out.err == ""


def test_table_lists_every_documented_method():
    documented = yaml.safe_load((MAPPINGS / "documented.yaml").read_text(encoding="utf-8"))
    report = check_mappings(MAPPINGS)
    text, markdown = render_text(report), render_markdown(report)
    assert [c.name for c in report.coverage] == ["rhodecode1", "kallithea", "rhodecode"]
    for cov in report.coverage:
        assert [r.method for r in cov.rows] == documented[cov.name]["methods"]
        assert cov.count("missing") == 0
        for method in documented[cov.name]["methods"]:
            assert f"`{method}`" in markdown
            assert f"  {method} " in text


def test_documented_lists_have_the_spec_sizes():
    documented = yaml.safe_load((MAPPINGS / "documented.yaml").read_text(encoding="utf-8"))
    assert len(documented["rhodecode1"]["methods"]) == 29  # RC 1.2 - 1.7.2 (28) + add_user_users_group
    assert len(documented["kallithea"]["methods"]) == 48  # K 0.7.0: 47 + show_ip
    # RhodeCode CE 4.22's 77 public methods + seed 000's two Enterprise license methods
    # (tests/unit/test_canonical_api.py checks the list itself against the 4.22 signatures)
    assert len(documented["rhodecode"]["methods"]) == 79


def test_table_says_where_each_call_goes():
    report = check_mappings(MAPPINGS)
    rows = {c.name: {r.method: r for r in c.rows} for c in report.coverage}
    row = rows["rhodecode1"]["get_users_group"]
    assert (row.status, row.canonical) == ("mapped", "get_user_group")
    assert row.backends["kallithea"].text == "get_user_group"
    strip = rows["rhodecode"]["strip"].backends["kallithea"]
    assert strip.method is None and "no API method to strip" in strip.reason
    assert rows["rhodecode1"]["lock"].backends["kallithea"].method == "get_repo"  # composed: the state, never locked
    assert rows["rhodecode1"]["add_user_users_group"].alias_of == "add_user_to_users_group"
    assert rows["rhodecode"]["get_repo_changeset"].backends["kallithea"].method == "get_changeset"


def test_committed_coverage_doc_is_current(monkeypatch):
    monkeypatch.chdir(REPO)
    report = check_mappings("mappings")
    assert (REPO / "docs" / "coverage.md").read_text(encoding="utf-8") == render_markdown(report), (
        "docs/coverage.md is stale: run `rcgate check --markdown > docs/coverage.md`"
    )


# --------------------------------------------------------------------------- broken copies


def _drop_method(d: dict, method: str) -> None:
    d["methods"].pop(method)
    for overlay in d.get("versions", {}).values():  # and the older versions' rules for it
        overlay.get("methods", {}).pop(method, None)
        overlay.get("spellings", {}).pop(method, None)


def test_missing_documented_method_fails(mappings_copy: Path, capsys):
    edit(mappings_copy / "rhodecode1.yaml", lambda d: _drop_method(d, "get_users_group"))
    assert main(["check", "--mappings", str(mappings_copy)]) == 1
    err = capsys.readouterr().err
    assert "rhodecode1.yaml: methods.get_users_group: documented" in err
    row = next(r for c in check_mappings(mappings_copy).coverage if c.name == "rhodecode1" for r in c.rows if r.method == "get_users_group")
    assert row.status == "missing"


def test_version_overlay_cannot_add_a_method(mappings_copy: Path, capsys):
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["methods"].pop("get_users_group"))
    assert main(["check", "--mappings", str(mappings_copy)]) == 1
    assert "rhodecode1.yaml: versions.1.3.methods.get_users_group: not in this file's `methods:`" in capsys.readouterr().err


def test_version_spelling_must_be_an_older_name(mappings_copy: Path, capsys):
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["versions"]["1.3"]["spellings"]["pull"].append("repoid"))
    assert main(["check", "--mappings", str(mappings_copy)]) == 1
    assert "versions.1.3.spellings.pull: `repoid` is neither an alias nor a renamed argument here" in capsys.readouterr().err


def test_dead_alias_fails(mappings_copy: Path):
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["methods"]["pull"]["aliases"].update(repo_path="nosuch"))
    found = problems(mappings_copy)
    assert any("rhodecode1.yaml: methods.pull.aliases.repo_path:" in p and "`nosuch`" in p for p in found), found


def test_alias_of_absent_argument_is_dead(mappings_copy: Path):
    # remote_uri is absent in RhodeCode 1.x: an alias of it could never be accepted
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["methods"]["pull"]["aliases"].update(url="remote_uri"))
    found = problems(mappings_copy)
    assert any("methods.pull.aliases.url" in p and "absent" in p for p in found), found


def test_unknown_converter_fails(mappings_copy: Path, capsys):
    edit(mappings_copy / "kallithea.yaml", lambda d: d["methods"]["pull"]["result"]["values"].update(msg="no_such_converter"))
    assert main(["check", "--mappings", str(mappings_copy)]) == 1
    err = capsys.readouterr().err
    assert "kallithea.yaml: methods.pull.result.values.msg" in err and "unknown converter `no_such_converter`" in err


def test_values_on_a_renamed_away_argument_is_dead(mappings_copy: Path):
    # kallithea calls remote_uri `clone_uri`: a converter keyed by the canonical name never fires
    edit(mappings_copy / "kallithea.yaml", lambda d: d["methods"]["pull"].update(values={"remote_uri": "landing_rev_ref"}))
    found = problems(mappings_copy)
    assert any("methods.pull.values.remote_uri" in p and "clone_uri" in p for p in found), found


def test_object_rule_field_renamed_and_dropped_is_dead(mappings_copy: Path):
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["objects"]["user"]["drop"].append("extern_name"))
    found = problems(mappings_copy)
    assert any("objects.user.rename.ldap_dn" in p and "drop" in p for p in found), found


def test_unreachable_object_rule_is_dead(mappings_copy: Path):
    # no RhodeCode 1.x method answers with a pull request
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["objects"].update(pull_request={"drop": ["reviewers"]}))
    found = problems(mappings_copy)
    assert any("rhodecode1.yaml: objects.pull_request" in p and "never applies" in p for p in found), found


def test_fetch_into_unknown_method_fails(mappings_copy: Path):
    edit(mappings_copy / "rhodecode1.yaml", lambda d: d["methods"]["create_repo"]["result"]["fetch"][0].update(method="get_repository"))
    found = problems(mappings_copy)
    assert any("methods.create_repo.result.fetch" in p and "get_repository" in p for p in found), found


def test_unused_converter_fails(mappings_copy: Path):
    def drop_rc1_cache_msg(d):
        d["methods"]["invalidate_cache"]["result"].pop("values")

    edit(mappings_copy / "rhodecode1.yaml", drop_rc1_cache_msg)
    found = problems(mappings_copy)
    assert any("converters.py: rc1_cache_msg: converter used by no mapping file" in p for p in found), found


def test_missing_documented_list_fails(mappings_copy: Path):
    (mappings_copy / "documented.yaml").unlink()
    found = problems(mappings_copy)
    assert any("documented.yaml: -: file not found" in p for p in found), found


def test_markdown_goes_to_stdout_problems_to_stderr(mappings_copy: Path, capsys):
    edit(mappings_copy / "kallithea.yaml", lambda d: d["methods"].pop("edit_reviewers"))
    assert main(["check", "--markdown", "--mappings", str(mappings_copy)]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("# Coverage of the mapping files")
    assert "| `edit_reviewers` | missing |" in out.out
    assert "kallithea.yaml: methods.edit_reviewers" in out.err
