"""Every worked example of docs/analysis.md runs: its commands exit 0 and its checks hold."""

import re
import shlex
import shutil
from pathlib import Path

import pytest

from analysis_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "analysis.md"
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.S | re.M)


def sections() -> dict[str, list[tuple[str, str]]]:
    """Code blocks (language, text) of each second-level section, in order."""
    out = {}
    for part in DOC.read_text().split("\n## ")[1:]:
        title = part.splitlines()[0]
        out[title] = BLOCK.findall(part)
    return out


def test_every_assay_has_a_worked_example():
    titles = " ".join(sections()).lower()
    for assay in ("cck-8", "flow", "qrt-pcr", "nta", "western", "expression", "statistics"):
        assert assay in titles
    for title, blocks in sections().items():
        assert any(lang == "python" for lang, _ in blocks), title


@pytest.mark.parametrize("title", list(sections()))
def test_docs_example_runs(title, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "docs" / "examples" / "analysis", tmp_path / "docs" / "examples"
                    / "analysis")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for lang, text in sections()[title]:
        if lang == "python":
            exec(compile(text, f"{DOC.name}: {title}", "exec"), namespace)
            continue
        for line in text.replace("\\\n", " ").splitlines():
            if line.strip():
                words = shlex.split(line)
                assert words[0] == "exotwin"
                code, _, stderr = run_cli(*words[1:])
                assert code == 0, f"{line}\n{stderr}"
