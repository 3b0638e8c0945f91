"""The 2AFC user study: trial design, crash-safe recording, analysis on synthetic participants."""

import json
import math

import pytest

from jscc_lab.classroom import (
    ATTENTION,
    ResultsFile,
    fit_preference,
    make_trials,
    simulate_answers,
)

CBR_OURS = 1 / 48
CBR_REFS = [1 / 48, 1 / 32, 1 / 24, 1 / 16, 1 / 12]


def test_trials_are_randomised_per_participant_and_include_attention_checks():
    a = make_trials(["kodim01", "kodim02"], CBR_OURS, CBR_REFS, "alice", repeats=2)
    b = make_trials(["kodim01", "kodim02"], CBR_OURS, CBR_REFS, "bob", repeats=2)
    assert a == make_trials(["kodim01", "kodim02"], CBR_OURS, CBR_REFS, "alice", repeats=2)
    assert [t.image for t in a] != [t.image for t in b]
    compare = [t for t in a if t.kind == "compare"]
    assert len(compare) == 2 * 5 * 2
    assert sum(t.kind == ATTENTION for t in a) >= 1
    assert {t.left for t in compare} == {"ours", "ref"}
    assert [t.index for t in a] == list(range(len(a)))


def test_results_file_resumes_after_restart_without_duplicates(tmp_path):
    path = tmp_path / "answers.jsonl"
    trials = make_trials(["img"], CBR_OURS, CBR_REFS, "p1")
    first = ResultsFile(path)
    for t in trials[:3]:
        first.record("p1", t, "left", time=1.5)
    # a "kernel restart": a new object reads the file back
    again = ResultsFile(path)
    assert again.answered("p1") == {0, 1, 2}
    with pytest.raises(ValueError, match="already answered"):
        again.record("p1", trials[1], "right", time=1.0)
    for t in trials[3:]:
        again.record("p1", t, "right", time=2.0)
    lines = path.read_text().splitlines()
    assert len(lines) == len(trials)
    assert len({json.loads(line)["trial"] for line in lines}) == len(trials)
    rec = json.loads(lines[0])
    assert rec["prefers_ours"] == (trials[0].left == "ours")


def test_results_file_rejects_corrupt_lines(tmp_path):
    path = tmp_path / "answers.jsonl"
    trials = make_trials(["img"], CBR_OURS, CBR_REFS, "p1")
    ResultsFile(path).record("p1", trials[0], "left", time=1.0)
    with open(path, "a") as f:
        f.write('{"participant": "p1", "trial": "three"\n')
    with pytest.raises(ValueError, match="line 2"):
        ResultsFile(path)
    path.write_text('{"participant": "p1"}\n')
    with pytest.raises(ValueError, match="line 1: missing key"):
        ResultsFile(path)
    with pytest.raises(ValueError, match="choice"):
        ResultsFile(tmp_path / "new.jsonl").record("p", trials[0], "middle", time=0.0)


@pytest.mark.parametrize("true_saving", [0.3, 0.5])
def test_analysis_recovers_a_known_saving(true_saving):
    trials = {f"p{i}": make_trials([f"img{j}" for j in range(4)], CBR_OURS, CBR_REFS, f"p{i}",
                                   repeats=2, seed=1)
              for i in range(25)}
    records = simulate_answers(trials, true_saving=true_saving, seed=2)
    fit = fit_preference(records, n_boot=300, seed=3)
    lo, hi = fit.saving_ci
    assert lo <= true_saving <= hi
    assert abs(fit.saving - true_saving) < 0.12
    assert hi - lo < 0.3
    assert fit.slope < 0 and not fit.extrapolated
    assert fit.n_participants == 25
    assert "bandwidth saving" in str(fit)


def test_inattentive_participants_are_excluded():
    trials = {f"p{i}": make_trials(["a", "b"], CBR_OURS, CBR_REFS, f"p{i}", attention_every=2)
              for i in range(6)}
    records = simulate_answers(trials, true_saving=0.5, seed=0)
    for r in records:  # p0 fails every attention check
        if r["participant"] == "p0" and r["kind"] == ATTENTION:
            r["prefers_ours"] = False
    assert fit_preference(records, n_boot=50).n_participants == 5


def test_fit_refuses_data_without_a_trend():
    trials = {"p": make_trials(["a"], CBR_OURS, [1 / 48, 1 / 24], "p", repeats=10)}
    records = simulate_answers(trials, true_saving=0.5, seed=0)
    for r in records:
        if r["kind"] == "compare":  # preference *rises* with the reference's CBR
            r["prefers_ours"] = r["cbr_ref"] > 0.03
    with pytest.raises(ValueError, match="does not fall"):
        fit_preference(records, n_boot=10)
    with pytest.raises(ValueError, match="two or more"):
        fit_preference([r for r in records if r["cbr_ref"] in (0.0, 1 / 48)], n_boot=10)


def test_bad_design_arguments():
    with pytest.raises(ValueError, match="cbr_refs"):
        make_trials(["a"], CBR_OURS, [0.0], "p")
    with pytest.raises(ValueError, match="images"):
        make_trials([], CBR_OURS, CBR_REFS, "p")
    with pytest.raises(ValueError, match="true_saving"):
        simulate_answers({}, true_saving=1.5)
    assert math.isfinite(CBR_OURS)


def test_study_widget_records_and_resumes(tmp_path):
    import torch

    from jscc_lab.classroom import user_study

    originals = {name: torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(i))
                 for i, name in enumerate(["a", "b"])}
    calls = []

    def reconstruct(image, system, cbr):
        calls.append((image, system, cbr))
        return originals[image] * (0.5 if system == "ref" else 0.9)

    path = tmp_path / "study.jsonl"
    study = user_study(originals.__getitem__, reconstruct, path, "p1", ["a", "b"], CBR_OURS,
                       CBR_REFS[:2])
    n = len(study.trials)
    assert "1 of" in study.progress.value and study.left.value[:4] == b"\x89PNG"
    study.left_button.click()
    study.answer("right")
    # restart: a new widget for the same participant continues at trial 3
    resumed = user_study(originals.__getitem__, reconstruct, path, "p1", ["a", "b"], CBR_OURS,
                         CBR_REFS[:2])
    assert len(resumed.remaining) == n - 2 and "3 of" in resumed.progress.value
    while resumed.current is not None:
        resumed.answer("left")
    assert "Done" in resumed.progress.value and resumed.left_button.disabled
    assert len(ResultsFile(path).records) == n
    with pytest.raises(RuntimeError, match="finished"):
        resumed.answer("left")
    assert {c[1] for c in calls} == {"ours", "ref"}
    with pytest.raises(ValueError, match="participant"):
        user_study(originals.__getitem__, reconstruct, path, "", ["a"], CBR_OURS, CBR_REFS)
