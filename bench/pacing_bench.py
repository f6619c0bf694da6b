"""Pacing benchmark: every policy on the same campaigns and seeds, in the simulator.

    uv run python bench/pacing_bench.py [--seeds 3] [--hours 8] [--workers 2]

Writes bench/out/pacing.json and prints the README table. The Erlang-B column is the
best occupancy of a dialer that only sets a call rate, blind to agent state, with at most
3% of answered calls lost: the largest offered load A with B(N, A) <= 3%, carried
A (1 - B) / N, computed here; the issue's figures are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from dialer.simulator import Burst, Campaign, simulate

POLICIES = ("predictive", "progressive", "ratio", "vicidial")
RATIO = 2.0
ISSUE_ERLANG = {50: 0.813, 10: 0.536, 100: 0.881}
TARGETS = {50: 0.90, 100: 0.92, 10: 0.75}


def base(agents: int, hours: float) -> Campaign:
    return Campaign(agents=agents, answer_rate=0.25, ring_min=5, ring_max=25,
                    no_answer_timeout=25, talk_mean=150, talk_sigma=0.8, wrap=20, hours=hours)


def scenarios(hours: float) -> dict[str, Campaign]:
    burst_start = min(3.0, hours / 2) * 3600
    return {
        "50 agentes": base(50, hours),
        "10 agentes": base(10, hours),
        "100 agentes": base(100, hours),
        "5 agentes": base(5, hours),
        "50 agentes, rajada 25%→50% por 30 min": replace(
            base(50, hours), bursts=(Burst(burst_start, burst_start + 1800, 0.50),)),
        "50 agentes, atendimento 10%, fala 60 s": replace(
            base(50, hours), answer_rate=0.10, talk_mean=60),
    }


def erlang_b(servers: int, load: float) -> float:
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_occupancy(servers: int, lost: float = 0.03) -> float:
    low, high = 0.0, float(servers) * 2
    for _ in range(100):
        mid = (low + high) / 2
        if erlang_b(servers, mid) <= lost:
            low = mid
        else:
            high = mid
    return low * (1 - erlang_b(servers, low)) / servers


def run(job: tuple[str, Campaign, str, int]) -> tuple[str, str, int, dict[str, object], float]:
    name, campaign, policy, seed = job
    started = time.perf_counter()
    result = simulate(campaign, policy, seed, lines_per_agent=RATIO)
    row = result.as_dict()
    row["hourly"] = [list(h) for h in result.hourly]
    return name, policy, seed, row, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="bench/out/pacing.json")
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    campaigns = scenarios(args.hours)
    jobs = [(n, c, p, s) for n, c in campaigns.items() for p in POLICIES for s in seeds]
    runs: dict[str, dict[str, list[dict[str, object]]]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for name, policy, seed, row, took in pool.map(run, jobs):
            row["seed"], row["seconds"] = seed, round(took, 1)
            runs.setdefault(name, {}).setdefault(policy, []).append(row)

    summary = {}
    for name, by_policy in runs.items():
        agents = campaigns[name].agents
        entry: dict[str, object] = {
            "agents": agents, "erlang_b_occupancy": round(erlang_occupancy(agents), 4),
            "erlang_b_issue": ISSUE_ERLANG.get(agents), "target_occupancy":
            TARGETS.get(agents) if name == f"{agents} agentes" else None, "policies": {}}
        for policy, rows in by_policy.items():
            occ = [float(r["occupancy"]) for r in rows]  # type: ignore[arg-type]
            aband = [float(r["abandon_rate"]) for r in rows]  # type: ignore[arg-type]
            wait = [float(r["agent_wait_mean_s"]) for r in rows]  # type: ignore[arg-type]
            entry["policies"][policy] = {  # type: ignore[index]
                "occupancy_mean": round(statistics.mean(occ), 4),
                "occupancy_worst": round(min(occ), 4),
                "abandon_mean": round(statistics.mean(aband), 4),
                "abandon_worst": round(max(aband), 4),
                "agent_wait_mean_s": round(statistics.mean(wait), 1), "runs": rows}
        summary[name] = entry

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"hours": args.hours, "seeds": seeds, "ratio": RATIO,
                               "scenarios": summary}, indent=1, ensure_ascii=False))

    print("| campanha | política | ocupação média (pior) | abandono médio (pior) "
          "| espera média do agente | Erlang-B |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, entry in summary.items():
        erl = f"{entry['erlang_b_occupancy']:.1%}"
        if entry["erlang_b_issue"]:
            erl += f" (issue: {entry['erlang_b_issue']:.1%})"
        for policy in POLICIES:
            p = entry["policies"][policy]  # type: ignore[index]
            label = f"ratio {RATIO:g}" if policy == "ratio" else policy
            print(f"| {name} | {label} | {p['occupancy_mean']:.1%} ({p['occupancy_worst']:.1%}) "
                  f"| {p['abandon_mean']:.2%} ({p['abandon_worst']:.2%}) "
                  f"| {p['agent_wait_mean_s']:.1f} s | {erl} |")
    burst = summary.get("50 agentes, rajada 25%→50% por 30 min")
    if burst:
        print("\nrajada, abandono por hora (predictive, semente 1):",
              [f"{a / n:.1%}" if n else "-" for n, a in
               burst["policies"]["predictive"]["runs"][0]["hourly"]])  # type: ignore[index]
        print("rajada, abandono por hora (vicidial, semente 1):",
              [f"{a / n:.1%}" if n else "-" for n, a in
               burst["policies"]["vicidial"]["runs"][0]["hourly"]])  # type: ignore[index]


if __name__ == "__main__":
    main()
