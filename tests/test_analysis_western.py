"""Western: ratios by hand; band detection and densities on synthetic blot images."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_helpers import run_cli
from exotwin.analysis import western
from exotwin.analysis.stats import t_test
from exotwin.errors import ExotwinError

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis"
AMPLITUDES = [40.0, 80.0, 120.0, 160.0]
CENTRES = [30, 90, 150, 210]


def lane_shape(x, centre):
    return np.exp(-(((x - centre) / 14.0) ** 6))


def blot(path, dark=True, noise=0.0, seed=0):
    """A 160 x 240 blot: 4 lanes, one band each (row 80, sigma 4 px) on a sloped background."""
    from skimage import io

    y, x = np.mgrid[0:160, 0:240].astype(float)
    image = 20.0 + 30.0 * x / 240.0 + 10.0 * y / 160.0
    for a, c in zip(AMPLITUDES, CENTRES, strict=True):
        image += a * lane_shape(x, c) * np.exp(-((y - 80.0) ** 2) / (2 * 4.0**2))
    image += np.random.default_rng(seed).normal(0, noise, image.shape)
    image = np.clip(255.0 - image if dark else image, 0, 255)
    io.imsave(path, image.round().astype(np.uint8), check_contrast=False)
    return path


def expected_density(a):
    return a * lane_shape(np.arange(240.0), CENTRES[0]).sum() * 4.0 * np.sqrt(2 * np.pi)


@pytest.mark.parametrize("dark", [True, False])
def test_bands_are_found_and_integrated_densities_are_proportional(tmp_path, dark):
    bands = western.band_densities(blot(tmp_path / "blot.png", dark=dark), radius=50)
    assert list(bands["lane"]) == [1, 2, 3, 4] and (bands["band"] == 1).all()
    centres = (bands["left"] + bands["right"] - 1) / 2
    np.testing.assert_allclose(centres, CENTRES, atol=2)
    assert ((bands["top"] < 80) & (bands["bottom"] > 80)).all()
    density = bands["integrated_density"].to_numpy()
    np.testing.assert_allclose(density / density[0], [1, 2, 3, 4], rtol=0.04)
    np.testing.assert_allclose(density, [expected_density(a) for a in AMPLITUDES], rtol=0.07)


def test_noisy_blot_with_given_lane_count(tmp_path):
    bands = western.band_densities(blot(tmp_path / "n.png", noise=2.0), radius=50, lanes=4)
    top = bands.loc[bands.groupby("lane")["integrated_density"].idxmax()]
    density = top["integrated_density"].to_numpy()
    np.testing.assert_allclose(density / density[0], [1, 2, 3, 4], rtol=0.05)


def test_ratios_by_hand_and_cli_outputs(tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "western", EXAMPLES / "western_density.csv",
                                   blot(tmp_path / "blot.png"), "--loading", "GAPDH",
                                   "--control", "NC", "--out", out)
    assert code == 0, stderr
    r = pd.read_csv(out / "ratios.csv").set_index("sample")
    assert r.loc["NC-2", "ratio"] == pytest.approx(0.55)
    assert r.loc["sh-1", "relative"] == pytest.approx(0.2 / 0.51)
    c = pd.read_csv(out / "comparisons.csv").iloc[0]
    assert c["mean"] == pytest.approx(np.mean([0.2 / 0.51, 0.25 / 0.51, 0.18 / 0.51]))
    rel = r.groupby("group")["relative"].apply(list)
    assert c["p"] == pytest.approx(t_test(rel["shERp44"], rel["NC"]))
    assert {"bands.csv", "bands_blot.png", "relative_density.svg"} <= {
        p.name for p in out.iterdir()}
    assert "4 bands in 4 lanes" in stdout


def test_missing_loading_band_and_unreadable_image_are_one_line_errors(tmp_path):
    text = (EXAMPLES / "western_density.csv").read_text()
    bad = tmp_path / "dens.csv"
    bad.write_text("\n".join(x for x in text.splitlines() if not x.startswith("sh-2,shERp44,G")))
    code, _, stderr = run_cli("analyze", "western", bad, "--loading", "GAPDH", "--control",
                              "NC", "--out", tmp_path / "o")
    assert code == 2 and stderr.strip() == f"error: {bad}: sample sh-2: no GAPDH band"
    png = tmp_path / "broken.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ExotwinError, match="broken.png: not a readable image"):
        western.band_densities(png)
    assert not (tmp_path / "o").exists()
