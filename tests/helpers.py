"""Small helpers shared by tests: Antimony text to SBML, protocol files and their errors."""

import antimony


def sbml_from_antimony(text: str) -> str:
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        raise ValueError(antimony.getLastError())
    return antimony.getSBMLString(antimony.getMainModuleName())


def write_protocol(tmp_path, text):
    """Write protocol text to ``tmp_path/p.yaml``; returns the path."""
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def assert_load_error(path, field, reason):
    """Loading ``path`` fails with one line naming the file, the field and the reason."""
    import pytest

    from exotwin.errors import ExotwinError
    from exotwin.protocols import load

    with pytest.raises(ExotwinError) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text
    assert str(path) in text and field in text and reason in text, text
