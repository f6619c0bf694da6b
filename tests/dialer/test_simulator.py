"""The simulator: reproducible, consistent, and the predictive policy holds its target."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

from dialer.simulator import Campaign, simulate

CAMPAIGN = Campaign(agents=20, answer_rate=0.25, ring_min=5, ring_max=25, no_answer_timeout=25,
                    talk_mean=150, talk_sigma=0.8, wrap=20, hours=0.5)


def test_same_seed_same_figures_other_seed_other_figures() -> None:
    first = simulate(CAMPAIGN, "predictive", 7)
    assert simulate(CAMPAIGN, "predictive", 7) == first
    assert simulate(CAMPAIGN, "predictive", 8) != first


def test_figures_are_consistent_for_every_policy() -> None:
    for policy in ("predictive", "progressive", "ratio", "vicidial"):
        result = simulate(CAMPAIGN, policy, 3)
        assert result.policy == policy
        assert 0 <= result.abandoned <= result.answered <= result.dialed
        assert 0 <= result.occupancy <= 1
        assert result.abandon_rate == (result.abandoned / result.answered)


def test_progressive_never_abandons() -> None:
    assert simulate(CAMPAIGN, "progressive", 5).abandoned == 0


def test_predictive_keeps_agents_busier_than_progressive_within_its_target() -> None:
    predictive = simulate(CAMPAIGN, "predictive", 11)
    progressive = simulate(CAMPAIGN, "progressive", 11)
    assert predictive.occupancy > progressive.occupancy
    assert predictive.abandon_rate <= 0.03 + 0.01


def test_with_a_huge_abandon_target_predictive_is_at_least_as_busy_as_progressive() -> None:
    loose = replace(CAMPAIGN, abandon_target=0.9)
    assert (simulate(loose, "predictive", 2).occupancy
            >= simulate(loose, "progressive", 2).occupancy)


def test_cli_prints_the_figures_as_json() -> None:
    answer = subprocess.run(
        ["uv", "run", "--no-sync", "regua", "dialer", "simulate", "--policy", "ratio",
         "--ratio", "1.5", "--agents", "5", "--answer-rate", "0.3", "--ring-min", "5",
         "--ring-max", "20", "--no-answer-timeout", "25", "--talk-mean", "90",
         "--talk-sigma", "0.6", "--wrap", "10", "--hours", "0.25", "--seed", "4", "--json"],
        capture_output=True, text=True, timeout=120, check=False)
    assert answer.returncode == 0, answer.stderr
    figures = json.loads(answer.stdout)
    assert set(figures) == {"policy", "occupancy", "abandon_rate", "dialed", "answered",
                            "abandoned", "agent_wait_mean_s"}
    assert figures["policy"] == "ratio" and figures["dialed"] > 0


def test_cli_refuses_ring_min_above_ring_max() -> None:
    answer = subprocess.run(
        ["uv", "run", "--no-sync", "regua", "dialer", "simulate", "--policy", "predictive",
         "--agents", "5", "--answer-rate", "0.3", "--ring-min", "30", "--ring-max", "20",
         "--no-answer-timeout", "25", "--talk-mean", "90", "--talk-sigma", "0.6", "--wrap",
         "10", "--hours", "0.25", "--seed", "4"],
        capture_output=True, text=True, timeout=120, check=False)
    assert answer.returncode == 2 and "--ring-min" in answer.stderr
