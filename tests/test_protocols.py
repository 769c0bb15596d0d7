"""Protocol files: the library validates; malformed files give one-line errors."""

import textwrap

import pytest

from exotwin.errors import ExotwinError
from exotwin.protocols import library, load
from helpers import assert_load_error

GOOD = textwrap.dedent(
    """
    id: t1
    title: test
    cells_per_well: 10000
    duration: 48 h
    groups:
      - label: A
        treatments:
          - {type: drug, name: cisplatin, concentration: 20 ug/mL}
      - label: B
    assays:
      - {type: cck8, times: [48 h]}
    comparisons:
      - {claim: c, readout: OD450, time: 48 h, groups: [A, B], expected: less}
    """
)


def write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_library_protocols_validate():
    protocols = library()
    assert protocols
    for pid, path in protocols.items():
        assert load(path).id == pid


def test_good_protocol_and_unit_conversion(tmp_path):
    p = load(write(tmp_path, GOOD))
    assert abs(p.groups[0].treatments[0].concentration_um() - 66.66) < 0.01


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (("type: drug", "type: radiation"), "groups.0.treatments.0", "unknown treatment type"),
        (("20 ug/mL", "-5 uM"), "groups.0.treatments.0", "negative"),
        (("20 ug/mL", "20 furlongs"), "groups.0.treatments.0", "expected a concentration"),
        (("duration: 48 h", "duration: 48 kg"), "duration", "time unit"),
        (("cells_per_well: 10000\n", ""), "cells_per_well", "missing"),
        (("groups: [A, B]", "groups: [A, Z]"), "comparisons.0.groups", "no group named 'Z'"),
        (("title: test", "title: test\ncolour: blue"), "colour", "unknown field; known: "),
        (("duration: 48 h", "duration: 48 h\nreplicate: 3"), "replicate",
         "unknown field; did you mean 'replicates'?"),
        (("concentration: 20 ug/mL}", "concentration: 20 ug/mL, strat: 1 h}"),
         "groups.0.treatments.0.strat", "unknown field; did you mean 'start'?"),
        (("cells_per_well: 10000", "cels_per_well: 10000"), "cells_per_well",
         "required field is missing (the unknown field 'cels_per_well' is given instead?)"),
        (("readout: OD450", "readout: OD405"), "comparisons.0.readout",
         "not measured: 'OD405' (did you mean 'OD450'?); measured: OD450"),
        (("readout: OD450, time: 48 h", "readout: OD450, time: 24 h"), "comparisons.0.time",
         "'OD450' is measured at 48 h, not at 24 h"),
        (("title: test", "title: test\nparameters: {SV_k_nfkb_ERp44: -0.5}"),
         "parameters.SV_k_nfkb_ERp44", "greater than or equal to 0"),
    ],
)
def test_malformed_protocols_name_file_field_and_reason(tmp_path, change, field, reason):
    assert_load_error(write(tmp_path, GOOD.replace(*change)), field, reason)


def test_builtin_model_parameters_are_never_negative():
    """The rule behind refusing a negative ``parameters:`` value holds for every model."""
    from exotwin import models
    from exotwin.kinetics.sbml_reader import read_spec

    for info in models.list_models():
        spec = read_spec(models._builtin_sbml(info.name), label=info.name)
        values = {k: v[1] for k, v in spec.initial.items() if v[0] == "n"}
        assert len(values) > 20
        assert min(values.values()) >= 0, info.name


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ExotwinError, match="not valid YAML"):
        load(write(tmp_path, "id: [unclosed"))
    with pytest.raises(ExotwinError, match="file not found"):
        load(tmp_path / "nope.yaml")


# library protocols whose assays all name their readouts up front, covering every such type
NAMED = ["xia2021-fig2C", "xia2021-fig2AB-CNE2", "xia2021-fig2E", "xia2021-fig3BD",
         "xia2021-fig4B", "xia2021-fig3A", "deng2023-abs-AktERK-required",
         "deng2023-abs-exo-pAktERK"]  # fmt: skip


@pytest.mark.parametrize("pid", NAMED)
def test_declared_readout_names_are_what_the_assays_write(pid):
    from exotwin.protocols import run_protocol

    p = load(library()[pid])
    declared = [a.readout_names() for a in p.assays]
    assert all(names is not None for names in declared)
    small = p.model_copy(update={"agents_per_well": 8, "replicates": 2})
    written = set(run_protocol(small, 1).readouts["readout"])
    assert written == {n for names in declared for n in names}


def test_every_assay_type_with_declared_names_is_covered():
    from exotwin.protocols.measure import MEASURES

    covered = {a.type for pid in NAMED for a in load(library()[pid]).assays}
    assert covered == {k for k, m in MEASURES.items() if m.names is not None}



def test_load_time_check_accepts_a_time_the_run_accepts(tmp_path):
    # the run matches times with np.isclose; the load-time check must not be stricter
    p = load(write(tmp_path, GOOD.replace("readout: OD450, time: 48 h",
                                          "readout: OD450, time: 48.0001 h")))  # fmt: skip
    assert p.comparisons[0].readout == "OD450"
