"""The adversary suite: every attack against a real network on 127.0.0.1, in one table.

    .venv/bin/python benchmarks/adversaries.py [--rounds 6] [--per-round 40] [--only a,c] [--json OUT.json]

Each attack gets a fresh network (embedded chain, contracts, coordinator, validators,
respondents as separate processes). Traffic comes in rounds of ``--per-round`` questions from
knowledge/questions.jsonl; after each round the suite waits until every task is settled on
chain, so the next round is chosen by the reputation the last one earned. Scripted providers
(``oracle`` backends) answer with the known reference, so their quality is known; honest
validators judge against the reference, the coordinator mixes in gold tasks (10 %).

Attacks, and what is measured:
  (a) a lazy provider (short generic answers)            share of answers per round
  (b) a wrong-model provider (real llama.cpp: serves     share per round, slashed
      Gemma-3-270M under SmolLM2's registered weights)
  (c) two colluding validators (2 of 7, < 1/3 of the     the friend's settled scores, recomputed
      stake) rating a mediocre friend 10                 from the same ratings without theirs
  (d) a validator copying on-chain reputation instead    its pay and trust against the honest ones
      of judging
  (e) a Sybil swarm of 20 fresh mediocre providers        the swarm's share per round
  (f) a provider that goes offline mid-task              share per round, what it earned
  (g) a validator rating at random                       its share of the consensus weight
Goals: attacker share <= 5 % after warm-up for (a), (b), (e), (g); (b) slashed; (c) moves its
friend's reputation by < 10 %; (d) earns less than an honest validator; no honest party slashed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from llmnet.config import load_settings
from llmnet.data import QUESTIONS_FILE
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from llmnet.questions import load_questions
from llmnet.reputation.trust import TrustRule

QUESTIONS = QUESTIONS_FILE
SMOLLM2 = {"model": "smollm2", "n_threads": 1}


def oracle(name: str, **options: Any) -> RespondentPlan:
    return RespondentPlan(name, ("general",), backend="oracle",
                          options={"references": str(QUESTIONS), "model_id": name, **options})  # fmt: skip


GOOD = tuple(oracle(f"good-{i}", accuracy=0.95, seed=i) for i in range(3))


@dataclass
class Scenario:
    key: str
    title: str
    respondents: tuple[RespondentPlan, ...]
    attackers: tuple[str, ...] = ()  # respondent names
    judges: tuple[dict[str, Any], ...] = ()  # one per validator; {} is an honest reference judge
    attacking_validators: tuple[int, ...] = ()
    k: int = 2
    spot_check_rate: float = 0.0
    real_models: bool = False
    notes: list[str] = field(default_factory=list)


KNOWS = {"references_file": str(QUESTIONS)}  # honest validators know the answers, gold tasks' too


def scenarios() -> list[Scenario]:
    honest = (KNOWS, KNOWS, KNOWS)
    return [
        Scenario("a", "lazy provider", (*GOOD, oracle("lazy", lazy=True)), ("lazy",), honest),
        Scenario("b", "wrong-model provider",
                 (RespondentPlan("honest-smollm2", ("general",), options=SMOLLM2),
                  RespondentPlan("honest-smollm2-b", ("general",), options=SMOLLM2),
                  RespondentPlan("impostor", ("general",), backend="impostor",
                                 options={"serve": {"model": "gemma3-270m", "mode": "completion", "n_threads": 1},
                                          "claim": SMOLLM2})),
                 ("impostor",), (KNOWS, KNOWS), spot_check_rate=0.5, real_models=True),
        Scenario("c", "colluding validators (2 of 7) inflating a friend", (*GOOD, oracle("friend", accuracy=0.5)),
                 (), (KNOWS,) * 5 + ({"kind": "collude", "friends": ["@friend"]} | KNOWS,) * 2, (5, 6)),
        Scenario("d", "validator copying others", (*GOOD, oracle("mediocre", accuracy=0.5)), (),
                 (KNOWS, KNOWS, KNOWS, KNOWS, {"kind": "copy"}), (4,)),
        Scenario("e", "Sybil swarm of 20 fresh providers",
                 (*GOOD, *(oracle(f"sybil-{i}", accuracy=0.3, seed=100 + i) for i in range(20))),
                 tuple(f"sybil-{i}" for i in range(20)), honest),
        Scenario("f", "provider going offline mid-task", (*GOOD, oracle("flaky", accuracy=0.95, offline_after=8)),
                 ("flaky",), honest),
        Scenario("g", "validator rating at random", (*GOOD, oracle("mediocre", accuracy=0.5)), (),
                 (KNOWS, KNOWS, KNOWS, KNOWS, {"kind": "random"}), (4,)),
    ]  # fmt: skip


def questions() -> list[str]:
    return [q.question for q in load_questions(QUESTIONS)]


async def _round(net: Network, asked: list[str], concurrency: int = 8) -> list[dict[str, Any]]:
    """The receipts of one round of questions."""
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {net.api_key}"}
    async with httpx.AsyncClient(timeout=300) as client:

        async def one(q: str) -> dict[str, Any] | None:
            async with sem:
                body = {"model": "llmnet/general", "messages": [{"role": "user", "content": q}], "max_tokens": 32}
                resp = await client.post(f"{net.base_url}/chat/completions", json=body, headers=headers)
                return resp.json()["llmnet"]["receipt"] if resp.status_code == 200 else None

        results = await asyncio.gather(*(one(q) for q in asked))
    return [r for r in results if r is not None]


def settle(net: Network, timeout: float = 180) -> None:
    base = net.base_url.removesuffix("/v1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(httpx.get(f"{base}/health", timeout=30).json()["tasks"]) <= {"settled"}:
            return
        time.sleep(1)


def run(s: Scenario, rounds: int, per_round: int, tmp: Path) -> dict[str, Any]:
    settings = load_settings(data_dir=tmp / s.key, chain_port=19845)
    names = [p.name for p in s.respondents]
    judges = s.judges or (KNOWS, KNOWS, KNOWS)
    options = NetworkOptions(coordinator_port=19800, respondent_base_port=19900, validator_base_port=19850,
                             respondents=s.respondents, validators=len(judges), judge="reference", k=s.k, rounds=0,
                             max_tokens=32, gold_rate=0.1, spot_check_rate=s.spot_check_rate)  # fmt: skip
    net = Network(settings, options)
    # a colluder's friends are named by respondent; their addresses are known once accounts are assigned
    from llmnet.chain.network import dev_account
    from llmnet.launcher import respondent_dev, validator_dev

    address = {n: dev_account(respondent_dev(i)).address for i, n in enumerate(names)}
    options.validator_judges = tuple(
        j | ({"friends": [address[f.removeprefix("@")] for f in j["friends"]]} if "friends" in j else {})
        for j in judges
    )
    validators = [dev_account(validator_dev(i)).address for i in range(len(judges))]
    net.start(timeout=600)
    try:
        assert net.ledger is not None
        ledger = net.ledger
        stakes0 = {n: ledger.get_provider(address[n]).stake for n in names}
        pool = questions()
        shares: list[float] = []
        for r in range(rounds):
            asked = [pool[(r * per_round + i) % len(pool)] for i in range(per_round)]
            receipts = asyncio.run(_round(net, asked))
            answers = [x["address"] for rc in receipts for x in rc["respondents"] if x["answered"]]
            attackers = {address[a] for a in s.attackers}
            shares.append(sum(a in attackers for a in answers) / max(1, len(answers)))
            settle(net)
        stakes = {n: ledger.get_provider(address[n]).stake for n in names}
        book = {v.address: v for v in ledger.validators()}
        effect = None
        if s.attacking_validators and "friend" in address:
            # as the consensus weighs them: stake x trust ** power (TrustRule.power, 2)
            weights = {v.address: v.stake / 1e18 * v.trust ** TrustRule().power for v in book.values()}
            colluders = {validators[i] for i in s.attacking_validators}
            effect = collusion_effect(net, address["friend"], colluders, weights)
        return {
            "friend_score_with_and_without_colluders": effect,
            "shares": shares,
            "earned": sum(ledger.credits_of(address[a]) for a in s.attackers),
            "slashed": [n for n in names if stakes[n] < stakes0[n]],
            "reputation": {n: ledger.reputation(address[n], "general").mean() for n in names},
            "validator_trust": [book[v].trust for v in validators],
            "validator_pay": [ledger.credits_of(v) for v in validators],
            "validator_stake": [book[v].stake for v in validators],
        }
    finally:
        net.stop()


def collusion_effect(net: Network, friend: str, colluders: set[str], weights: dict[str, float]) -> tuple[float, float]:
    """The friend's mean settled score over its non-gold tasks, from the ratings the settler
    settled: with every validator's ratings, and recomputed without the colluders' (same
    tasks, same answers, same weights), so the difference is the collusion alone."""
    import sqlite3

    from llmnet.reputation.consensus import normalize_score, robust_consensus
    from llmnet.roles.outcome import CheckedOutcome

    db = next((net.root / "state").glob("chain-*/validator-1-settlement.sqlite"))
    rows = sqlite3.connect(db).execute("SELECT outcome FROM outcomes WHERE batch_id IS NOT NULL").fetchall()
    with_all, without = [], []
    for (text,) in rows:
        c = CheckedOutcome.model_validate_json(text)
        table: dict[str, dict[str, float]] = {}
        for r in c.ratings:
            table.setdefault(r.validator, {})[r.respondent] = r.score
        honest = {v: t for v, t in table.items() if v not in colluders}
        if c.gold is not None or not honest or not any(friend in t for t in honest.values()):
            continue
        with_all.append(normalize_score(robust_consensus(table, weights).scores[friend]))
        without.append(normalize_score(robust_consensus(honest, weights).scores[friend]))
    return sum(with_all) / max(1, len(with_all)), sum(without) / max(1, len(without))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=40)
    parser.add_argument("--only", default="", help="comma-separated attack keys, e.g. a,e")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console(width=max(140, Console().width))
    wanted = set(args.only.split(",")) - {""}
    results: dict[str, Any] = {}
    table = Table(title="llmnet under attack: real services on 127.0.0.1, one fresh network per attack")
    for col in ("attack", "attacker's share, per round", "earned (wei)", "slashed", "outcome", "goal"):
        table.add_column(col)
    with tempfile.TemporaryDirectory() as tmp:
        for s in scenarios():
            if wanted and s.key not in wanted:
                continue
            per_round = max(6, args.per_round // 5) if s.real_models else args.per_round
            console.print(f"({s.key}) {s.title}: {args.rounds} rounds of {per_round} questions ...")
            t0 = time.perf_counter()
            m = run(s, args.rounds, per_round, Path(tmp))
            m["seconds"] = time.perf_counter() - t0
            results[s.key] = m
            table.add_row(*row(s, m))
            console.print(f"    done in {m['seconds']:.0f} s")
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def weight_share(m: dict[str, Any], i: int, power: float) -> float:
    """Validator i's share of stake x trust ** power."""
    weights = [st / 1e18 * t**power for st, t in zip(m["validator_stake"], m["validator_trust"], strict=True)]
    return weights[i] / sum(weights) if sum(weights) else 0.0


def row(s: Scenario, m: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    shares = " ".join(f"{x:.0%}" for x in m["shares"]) if s.attackers else "-"
    slashed = ", ".join(m["slashed"]) or "nobody"
    honest_slashed = [n for n in m["slashed"] if n not in s.attackers]
    last = m["shares"][-1] if m["shares"] else 0.0
    if s.key in ("a", "e"):
        outcome, ok = f"final round {last:.0%}", last <= 0.05
    elif s.key == "b":
        outcome, ok = f"final round {last:.0%}", "impostor" in m["slashed"] and last <= 0.05
    elif s.key == "f":
        outcome, ok = f"final round {last:.0%}", last <= 0.05
    elif s.key == "c":
        with_all, honest = m["friend_score_with_and_without_colluders"]
        change = abs(with_all - honest) / honest if honest else 0.0
        outcome = (f"friend's mean score {with_all:.3f}, {honest:.3f} without the colluders' ratings "
                   f"({change:.1%} apart); its reputation {m['reputation']['friend']:.3f}")  # fmt: skip
        ok = change < 0.10
    else:
        i = s.attacking_validators[0]
        # the consensus weighs stake x trust ** power (TrustRule.power, 2); stake x trust is shown too
        weights = [weight_share(m, i, power) for power in (TrustRule().power, 1.0)]
        honest_pay = [p for j, p in enumerate(m["validator_pay"]) if j not in s.attacking_validators]
        pay, trust = m["validator_pay"][i], m["validator_trust"][i]
        honest_trust = [t for j, t in enumerate(m["validator_trust"]) if j not in s.attacking_validators]
        outcome = (f"weight share {weights[0]:.1%} (stake x trust: {weights[1]:.1%}), trust {trust:.2f} "
                   f"(honest {min(honest_trust):.2f}-{max(honest_trust):.2f}), "
                   f"pay {pay} vs honest {min(honest_pay)}-{max(honest_pay)}")  # fmt: skip
        ok = pay < min(honest_pay) and (max(weights) <= 0.05 if s.key == "g" else True)
    ok = ok and not honest_slashed
    return (f"({s.key}) {s.title}", shares, str(m["earned"]) if s.attackers else "-", slashed, outcome,
            "met" if ok else "NOT met")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
