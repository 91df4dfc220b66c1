"""``testbed sweep``: designs x fault sets x seeds in one table, the same whichever
engine runs it (local processes, one process, a Dask LocalCluster), and bad input
refused with the file, the field and what was expected (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from testbed.cli import main
from testbed.study import sweep
from testbed.study.sweeps import KEYS

ROOT = Path(__file__).resolve().parents[3]
DRILL = ROOT / "scenarios" / "revocation-offboarding-drill.yaml"
DESIGNS = ["flat-shared-credentials", "zero-trust-microsegmentation"]
GRID = """\
fault_sets:
  - {name: none, faults: []}
  - name: ca-outage
    faults: [{kind: ca-outage, start: 2d, end: 4d}]
"""


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(GRID, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("grid") / "grid.yaml"
    path.write_text(GRID, encoding="utf-8")
    return sweep(DRILL, DESIGNS, seeds=2, fault_grid=path, workers=1)


def test_one_row_per_design_fault_set_and_seed_in_order(one_process: pd.DataFrame) -> None:
    keys = list(one_process[list(KEYS)].itertuples(index=False, name=None))
    assert keys == [(d, f, s) for d in DESIGNS for f in ("none", "ca-outage") for s in (31, 32)]
    assert one_process["passed"].dtype == bool
    assert one_process["at"].isna().all()  # analysis at the start
    # the design changes the analysis, not the seeded run's clinical numbers here
    flat = one_process[one_process["design"] == DESIGNS[0]]
    zero = one_process[one_process["design"] == DESIGNS[1]]
    assert (flat["bre_k"] > zero["bre_k"].max()).all()


def test_local_processes_give_the_same_table(one_process: pd.DataFrame, grid: Path) -> None:
    local = sweep(DRILL, DESIGNS, seeds=2, fault_grid=grid, workers=2)
    pd.testing.assert_frame_equal(local, one_process)


@pytest.fixture
def dask_cluster() -> Iterator[str]:
    """A Dask cluster of two worker processes on this machine, for one test (its
    threads end with it, before other tests fork local workers)."""
    distributed = pytest.importorskip("distributed", reason="the optional extra testbed[dask]")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:  # fmt: skip
        yield str(cluster.scheduler_address)


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_table(
    one_process: pd.DataFrame, grid: Path, dask_cluster: str
) -> None:
    seen: list[tuple[int, int]] = []
    on_dask = sweep(DRILL, DESIGNS, seeds=2, fault_grid=grid, scheduler=dask_cluster,
                    progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    pd.testing.assert_frame_equal(on_dask, one_process)
    assert seen == [(i, 8) for i in range(1, 9)]


def test_the_command_writes_one_table_and_a_plot(
    tmp_path: Path, grid: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["sweep", str(DRILL), "--design", DESIGNS[1], "--seeds", "2",
                 "--fault-grid", str(grid), "--out", str(out), "--workers", "2", "--quiet"])
    assert code == 0
    assert "4 runs, 0 with a failed expectation" in capsys.readouterr().out
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4 and list(table.columns[:3]) == list(KEYS)
    assert (out / "sweep.png").read_bytes().startswith(b"\x89PNG")


def test_without_a_grid_the_scenarios_own_faults_run(tmp_path: Path) -> None:
    table = sweep(DRILL, DESIGNS[:1], workers=1)
    assert list(table["faults"]) == ["scenario"] and list(table["seed"]) == [31]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("fault_sets: []\n", "fault_sets"),
        ("- just a list\n", "(top level)"),
        ("fault_sets: [{name: x, faults: [{kind: no-such-fault, start: 1d, end: 2d}]}]\n",
         "fault_sets[0].faults[0].kind"),
        ("fault_sets: [{name: x, faults: [{kind: ca-outage, start: 1d}]}]\n",
         "fault_sets[0].faults[0].end"),
        ("fault_sets: [{name: x, faults: [{kind: blocked-route, from: bedside, to: ehr,"
         " site: mars, start: 1d, end: 2d}]}]\n", "fault_sets[0].faults[0].site"),
        ("fault_sets: [{name: x, faults: []}, {name: x, faults: []}]\n", "fault_sets[1].name"),
        ("fault_sets: [{name: x, fault: []}]\n", "fault_sets[0].fault"),
    ],
)
def test_a_bad_fault_grid_exits_2_naming_file_and_field(
    tmp_path: Path, text: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(text, encoding="utf-8")
    code = main(["sweep", str(DRILL), "--fault-grid", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: error: {where}: expected " in err


def test_an_unknown_design_or_a_missing_grid_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o")
    assert main(["sweep", str(DRILL), "--design", "nope", "--out", out]) == 2
    assert "nope.yaml: error: expected an existing design file" in capsys.readouterr().err
    missing = tmp_path / "missing.yaml"
    assert main(["sweep", str(DRILL), "--fault-grid", str(missing), "--out", out]) == 2
    assert f"{missing}: error: expected an existing file" in capsys.readouterr().err


def test_a_scheduler_that_does_not_answer_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed", reason="the optional extra testbed[dask]")
    code = main(["sweep", str(DRILL), "--design", DESIGNS[0], "--out", str(tmp_path),
                 "--scheduler", "tcp://127.0.0.1:9", "--quiet"])  # fmt: skip
    assert code == 2
    assert "tcp://127.0.0.1:9: expected the address of a running Dask scheduler" in (
        capsys.readouterr().err)


CA_OUTAGE = ROOT / "scenarios" / "ca-outage-longer-than-lifetime.yaml"  # outage 8d-18d


def test_at_takes_the_analysis_at_a_scenario_time_as_compare_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sweep --at`` goes through the one sweep function to the same measures as
    ``compare --at``: mid-outage the central CA design's certificate flows are closed."""
    from testbed.study import compare

    central = "central-ca-automated-renewal"
    out = tmp_path / "out"
    code = main(["sweep", str(CA_OUTAGE), "--design", central, "--at", "16d",
                 "--out", str(out), "--workers", "1", "--quiet"])  # fmt: skip
    assert code == 0
    assert "1 runs (analysis at 16d), 0 with a failed expectation" in capsys.readouterr().out
    row = pd.read_csv(out / "sweep.csv").iloc[0]
    assert row["at"] == "16d"  # the table says when its analysis was taken
    during = compare(CA_OUTAGE, [central], at="16d").table().loc[central]
    start = sweep(CA_OUTAGE, [central], workers=1).iloc[0]
    for measure in ("assets_reachable", "bre_k", "flows_accepted"):
        assert row[measure] == pytest.approx(during[measure]), measure
    assert row["flows_accepted"] < start["flows_accepted"]
    assert row["bre_k"] < start["bre_k"]


@pytest.mark.parametrize("at", ["40d", "soon"])
def test_at_outside_the_run_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    code = main(["sweep", str(DRILL), "--design", DESIGNS[0], "--at", at,
                 "--out", str(tmp_path / "o"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"{DRILL}: error: at: expected a scenario time within the run, from 0s to" in err
    assert not (tmp_path / "o" / "sweep.csv").exists()
