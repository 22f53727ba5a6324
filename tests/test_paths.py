"""Paths named in documents stay in the document's folder unless the caller opts out."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioprocess_twin.core.parameters import ParameterError
from bioprocess_twin.core.paths import confined_path


@pytest.mark.parametrize(
    "value, reason",
    [
        ("/etc/passwd", "not absolute"),
        ("../x.yaml", "no '..'"),
        ("sub/../../x.yaml", "no '..'"),
        ("~/x.yaml", "not absolute"),
        ("C:\\\\Windows\\\\win.ini", "not absolute"),
        ("..\\\\x.yaml", "no '..'"),
        ("", "is empty"),
        ("a\\x00b", "NUL"),
        ("x" * 2000, "longer than 1024"),
    ],
)
def test_escaping_paths_are_named_errors(tmp_path, value, reason):
    with pytest.raises(ParameterError) as info:
        confined_path(value.encode().decode("unicode_escape"), tmp_path, "files.0.path")
    assert info.value.errors[0][0] == "files.0.path" and reason in info.value.errors[0][1]


def test_links_out_and_loops_are_refused_and_inside_is_fine(tmp_path):
    (tmp_path / "doc").mkdir()
    (tmp_path / "outside.csv").write_text("x")
    (tmp_path / "doc" / "out.csv").symlink_to(tmp_path / "outside.csv")
    (tmp_path / "doc" / "loop").symlink_to(tmp_path / "doc" / "loop")
    with pytest.raises(ParameterError, match="leads outside"):
        confined_path("out.csv", tmp_path / "doc", "data")
    with pytest.raises(ParameterError, match="cannot be resolved"):
        confined_path("loop", tmp_path / "doc", "data")
    assert confined_path("sub/a.csv", tmp_path / "doc", "data") == (tmp_path / "doc" / "sub" / "a.csv").resolve()
    assert confined_path("../outside.csv", tmp_path / "doc", "data", allow_outside=True) == tmp_path / "outside.csv"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="./\\\\~:ab \\x00", max_size=30))
def test_any_text_is_inside_or_refused(tmp_path_factory, text):
    base = tmp_path_factory.getbasetemp() / "confined"
    base.mkdir(exist_ok=True)
    try:
        path = confined_path(text, base, "data")
    except ParameterError as exc:
        assert exc.errors[0][0] == "data"
    else:
        assert path.is_relative_to(base.resolve())
