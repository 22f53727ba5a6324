"""Specs, tag maps and definitions are read by core.documents: duplicate keys, deep nesting, alias bombs
and oversized files are refused with the place named; nothing else about YAML changes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin.core import limits
from bioprocess_twin.core.documents import DocumentError, load_document, read_document
from bioprocess_twin.core.spec import SpecError, load_spec, read_spec_file


def test_plain_documents_read_as_before():
    assert load_document("model: x\nparameters: {a: 1, b: '2 bar'}\ntimes: [0, 1]\n") == {
        "model": "x",
        "parameters": {"a": 1, "b": "2 bar"},
        "times": [0, 1],
    }
    assert load_document('{"model": "x", "n": 3}') == {"model": "x", "n": 3}  # JSON is YAML
    assert load_document("") is None


def test_a_duplicate_key_is_refused_with_both_places():
    with pytest.raises(DocumentError) as info:
        load_document("model: a\nparameters:\n  p: 1\n  q: 2\n  p: 3\n")
    assert info.value.where == "line 5, column 3"
    assert "duplicate key 'p'" in info.value.message and "line 3, column 3" in info.value.message


def test_merge_keys_may_be_overridden():
    doc = load_document("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 5\n")
    assert doc["other"] == {"x": 5, "y": 2}


def test_deep_nesting_is_refused_before_python_runs_out_of_stack():
    with pytest.raises(DocumentError, match="nested deeper than 40"):
        load_document("a: " + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(DocumentError, match="nested deeper"):
        load_document("".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n")


def test_an_alias_bomb_is_refused_without_expanding_it():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]" for k in range(1, 9)]  # 1e9 values
    text = "\n".join(lines) + "\n"
    assert len(text) < 600
    with pytest.raises(DocumentError, match="expands to more than"):
        load_document(text)


def test_a_few_aliases_are_fine():
    assert load_document("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


def test_limits_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BIOPROCESS_TWIN_MAX_YAML_DEPTH", "3")
    with pytest.raises(DocumentError, match="deeper than 3"):
        load_document("a: {b: {c: {d: 1}}}")
    monkeypatch.setenv("BIOPROCESS_TWIN_MAX_SPEC_BYTES", "100")
    big = tmp_path / "big.yaml"
    big.write_text("model: x\n" + "# padding\n" * 20)
    with pytest.raises(DocumentError, match="exceed the limit of 100"):
        read_document(big)
    monkeypatch.setenv("BIOPROCESS_TWIN_MAX_SPEC_BYTES", "-1")
    with pytest.raises(ValueError, match="BIOPROCESS_TWIN_MAX_SPEC_BYTES"):
        limits.current()


def test_spec_files_report_the_problem_on_the_file_field(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("model: emulsion_homogenizer\nmodel: cho_fed_batch\n")
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert info.value.errors[0][0] == "file" and "duplicate key 'model'" in info.value.errors[0][1]
    spec.write_bytes(b"model: \xff\xfe\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        read_spec_file(spec)
    with pytest.raises(SpecError, match="not found"):
        read_spec_file(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="not found"):
        read_spec_file(tmp_path)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="{}[]:,&*!<>-? \n'\"ab1#|%@`\t", max_size=200))
def test_any_text_gives_data_or_a_document_error(text):
    try:
        load_document(text)
    except DocumentError as exc:
        assert exc.where and exc.message
