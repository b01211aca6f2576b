"""The simulation: same seed same results, metrics on a hand-checked trace, the shared functions
really called, ratings scored exactly as the validator scores them, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import llmnet.sim.world as world_module
from llmnet.cli.main import app
from llmnet.errors import InputError
from llmnet.reputation.beta import decay_from_float
from llmnet.reputation.consensus import normalize_score, normalize_scores
from llmnet.reputation.selection import ThompsonSampling
from llmnet.reputation.settlement import outcome_rows
from llmnet.roles.outcome import CheckedOutcome, CheckedRating, score_outcome
from llmnet.sim.metrics import after_warmup, cumulative_regret, summarize, windowed
from llmnet.sim.runner import Trace, run_scenario
from llmnet.sim.scenario import Scenario, build_population
from llmnet.sim.world import FEE, SimWorld

TINY = Scenario(providers=16, requests=240, domains=2, k=2, validators=3, batch=20,
                policies=("thompson", "random", "yuma"), warmup_per_domain=40)  # fmt: skip


def test_the_same_seed_gives_the_same_results_and_another_seed_does_not() -> None:
    _, first = run_scenario(TINY)
    _, again = run_scenario(TINY)
    _, other = run_scenario(Scenario(**{**TINY.__dict__, "seed": 1}))
    for a, b in zip(first, again, strict=True):
        for field in ("domain", "expert_share", "chosen_quality", "delivered"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a.reputation, b.reputation, strict=True))
    assert not np.array_equal(first[0].delivered, other[0].delivered)


def test_metrics_on_a_hand_checked_trace() -> None:
    trace = Trace(
        policy="p", domain=np.array([0, 0, 1, 1, 0]), expert_share=np.array([0.0, 1.0, 0.5, 1.0, 0.5]),
        attacker_share=np.array([0.5, 0.0, 0.0, 0.0, 0.0]), chosen_quality=np.array([0.5, 0.9, 0.7, 0.9, 0.8]),
        oracle_quality=np.array([0.9, 0.9, 0.9, 0.9, 0.9]), delivered=np.array([0.4, 0.8, 0.6, 1.0, 0.7]),
        batch_end=[5], reputation=[],
    )  # fmt: skip
    assert after_warmup(trace.domain, 1).tolist() == [False, True, False, True, True]
    assert cumulative_regret(trace) == pytest.approx([0.4, 0.4, 0.6, 0.6, 0.7])
    s = summarize(trace, 1)
    assert s.expert_share_after_warmup == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    assert s.attacker_share_after_warmup == 0.0
    assert s.cumulative_regret == pytest.approx(0.7)
    assert s.delivered_quality == pytest.approx(0.7)
    x, y = windowed(trace.delivered, windows=2)
    assert x.tolist() == [2.0, 5.0] and y == pytest.approx([0.6, (0.6 + 1.0 + 0.7) / 3])


def test_reputation_based_selection_finds_the_experts_and_random_does_not() -> None:
    _, (thompson, random, _) = run_scenario(TINY)
    late = after_warmup(thompson.domain, TINY.warmup_per_domain)
    assert thompson.expert_share[late].mean() > 0.6 > random.expert_share[late].mean()
    assert cumulative_regret(thompson)[-1] < cumulative_regret(random)[-1]


class Spy:
    def __init__(self, fn: object) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self.fn(*args, **kwargs)  # type: ignore[operator]


def test_the_sim_runs_the_live_networks_functions_and_settles_on_its_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    spies = {name: Spy(getattr(world_module, name)) for name in ("consensus_rows", "normalize_scores", "plan_rows")}
    for name, spy in spies.items():
        monkeypatch.setattr(world_module, name, spy)
    rank = Spy(ThompsonSampling.rank_arrays)
    monkeypatch.setattr(ThompsonSampling, "rank_arrays", lambda self, *a, **k: rank(self, *a, **k))
    settled: list[SimWorld] = []
    monkeypatch.setattr(
        SimWorld, "settle", lambda self, outcomes, f=SimWorld.settle: (settled.append(self), f(self, outcomes))[1]
    )
    run_scenario(Scenario(**{**TINY.__dict__, "policies": ("thompson",)}))
    assert spies["plan_rows"].calls == 12 and spies["normalize_scores"].calls >= 12
    assert spies["consensus_rows"].calls >= 12 and rank.calls >= 12
    ledger = settled[0].ledger
    assert ledger.batch_count() == 12 and ledger.task_count() == 240
    assert sum(c.reputation.count for d in ledger.domains() for c in ledger.candidates(d)) == 240 * 2
    assert any(v.trust_ppm != 500_000 for v in ledger.validators())


def test_batch_scoring_equals_the_validators_score_outcome() -> None:
    pop = build_population(TINY)
    world = SimWorld(pop, decay_from_float(0.98))
    world.register_joining(0)
    ratings = np.array([[[7.0, 8.0, 2.0], [3.0, 3.5, 9.0]], [[10.0, 9.0, 9.5], [5.0, 5.0, 5.0]]])
    chosen = np.array([[0, 1], [2, 3]])
    ids = world.open_tasks(0, 2, 2)
    rows = world.outcomes(ids, 0, chosen, ratings)
    for i in range(2):
        checked = tuple(
            CheckedRating(validator=v.address, respondent=world.providers[p].address, score=float(ratings[i, j, vi]),
                          epoch=0, digest="")
            for j, p in enumerate(chosen[i]) for vi, v in enumerate(world.validators)
        )  # fmt: skip
        c = CheckedOutcome(task_id=ids[i], task_key=ids[i], domain="d0", fee=FEE, requester=world.requester.address,
                           coordinator=world.coordinator.address, receipt_hash=rows.receipts[i], claim_digest="",
                           failed=(), ratings=checked)  # fmt: skip
        want = outcome_rows([score_outcome(c, checked, world.keeper.weights())])
        names = lambda r, cols: [r.names[x] for x in cols]  # noqa: E731
        assert names(rows, rows.respondents[i]) == names(want, want.respondents[0])
        assert rows.scores[i].tolist() == pytest.approx(want.scores[0].tolist())
        assert names(rows, rows.validators[i]) == names(want, want.validators[0])
        assert rows.weights[i].tolist() == want.weights[0].tolist()
        agreement = dict(zip(names(rows, rows.raters[i]), rows.agreement[i].tolist(), strict=True))
        assert agreement == pytest.approx(
            dict(zip(names(want, want.raters[0]), want.agreement[0].tolist(), strict=True))
        )
        assert (rows.task_ids[i], rows.fees[i], rows.domains[i]) == (want.task_ids[0], want.fees[0], want.domains[0])


def test_memory_ledger_evidence_follows_settlement() -> None:
    world = SimWorld(build_population(TINY), decay_from_float(0.98))
    world.register_joining(0)
    members = world.ledger.evidence("d0").members
    before = world.ledger.evidence("d0").alpha.copy()
    chosen = np.array([[world.index[members[0]], world.index[members[1]]]])
    world.settle([world.outcomes(world.open_tasks(0, 1, 2), 0, chosen, np.full((1, 2, 3), 9.0))])
    ev = world.ledger.evidence("d0")
    assert [c.reputation.alpha / 1e9 for c in world.ledger.candidates("d0")] == pytest.approx(ev.alpha.tolist())
    assert [c.reputation.count for c in world.ledger.candidates("d0")] == ev.count.tolist()
    assert ev.alpha[:2].tolist() != before[:2].tolist() and ev.count[:2].tolist() == [1.0, 1.0]


def test_scenario_refuses_bad_input_with_what_to_change() -> None:
    with pytest.raises(InputError, match="--providers 0 is out of range"):
        Scenario(providers=0)
    with pytest.raises(InputError, match="unknown policy 'thompsen'"):
        Scenario(policies=("thompsen",))
    with pytest.raises(InputError, match="unknown attacker 'ddos'"):
        Scenario(attackers=("ddos",))
    with pytest.raises(InputError, match="need at least 15 providers"):
        Scenario(providers=10)
    with pytest.raises(InputError, match="raise --providers or lower --k"):
        run_scenario(Scenario(providers=4, domains=2, experts_per_domain=1, k=4, requests=10, policies=("random",)))


def test_cli_bad_input_prints_one_clear_error_line() -> None:
    run = subprocess.run([sys.executable, "-m", "llmnet.cli.main", "sim", "--providers", "0"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 1
    assert "error:" in run.stderr and "--providers 0 is out of range" in run.stderr
    assert "Traceback" not in run.stderr


def test_cli_runs_prints_the_table_and_writes_plots_and_numbers(tmp_path: Path) -> None:
    args = ["sim", "--providers", "16", "--requests", "200", "--domains", "2", "--validators", "3",
            "--policies", "thompson,random,moving_average", "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "thompson (llmnet)" in result.output and "peak RSS" in result.output
    report = json.loads((tmp_path / "summary.json").read_text())
    assert [s["policy"] for s in report["summaries"]] == ["thompson", "random", "moving_average"]
    for png in ("simulation.png", "baselines.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_array_normalization_equals_the_scalar_one() -> None:
    values = np.array([-3.0, 1.0, 4.0, 5.5, 9.99, 10.0, 12.0])
    assert normalize_scores(values).tolist() == [normalize_score(float(v)) for v in values]
