"""The advice as text: the ranked table, the recommendation and how sure it is."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["advice_text", "batch_note", "none_reached", "time_text"]

_WIDTH = 44  # the candidate column


def time_text(result: Any) -> str:
    """``12.3 [11.0, 13.9]``, ``12.3`` (one seed), or the status where no time exists
    (``never, ends at 0.42``)."""
    if result.mean is None:
        if result.final_value is None:
            return result.status
        return f"{result.status}, ends at {result.final_value:.3g}"
    if result.ci95 is None:
        return f"{result.mean:.4g}"
    low, high = result.ci95
    return f"{result.mean:.4g} [{low:.4g}, {high:.4g}]"


def _label(text: str) -> str:
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _row(rank: str, result: Any) -> str:
    predicted = result.screen.predicted
    shown = "-" if predicted is None else f"{predicted:.4g}"
    if result.status == "not simulated":
        seeds = never = "-"
        simulated, hours = "not simulated (screened out)", "-"
    else:
        seeds = f"{result.reached_seeds}/{result.seeds}"
        never = f"{result.never_seeds}/{result.diverged_seeds}"
        simulated = time_text(result)
        if result.status not in ("reached", "not simulated"):
            simulated = f"{simulated} ({result.status})" if result.mean is not None else simulated
        hours = "-" if result.learner_hours is None else f"{result.learner_hours:.3g}"
    return (
        f"{rank:>4}  {_label(result.candidate.label):<{_WIDTH}}  {shown:>10}  "
        f"{simulated:<32}  {seeds:>7}  {never:>9}  {hours:>9}"
    )


def _short_reason(reason: str) -> str:
    """A screen's reason without its numbers: ``Theorem 3 (eq. 9) does not hold: eta <= ...``
    becomes ``Theorem 3 (eq. 9)'s step-size condition fails``."""
    head, _, rest = reason.partition(" does not hold: ")
    if rest:
        return f"{head}'s conditions fail"
    return reason.split(" floor ")[0].replace("the target is at or below", "the target is below")


def advice_text(advice: Any) -> str:
    """The table :meth:`~simulator.studies.advise.Advice.table` prints."""
    s = advice.settings
    best = advice.recommendation
    stay = "the rest of the run" if s.window is None else f"{s.window:g} time units"
    level = ""
    if best.level is not None and s.target_kind != "target":
        level = f" (level {best.level:.4g} on the {best.level_on})"
    lines = [
        f"target: {s.target_text()}{level}, staying there for {stay}; every candidate trains "
        f"for {advice.horizon:.4g} simulated time units",
        f"{'rank':>4}  {'candidate':<{_WIDTH}}  {'predicted':>10}  "
        f"{'time to target [95% CI]':<32}  {'reached':>7}  {'never/div':>9}  {'learner-h':>9}",
    ]
    for i, result in enumerate(advice.candidates, 1):
        rank = "-" if result.status == "not simulated" else str(i)
        lines.append(_row(rank, result))
    sure = "separated from every other candidate"
    if advice.certainty == "tied":
        sure = f"tied with {', '.join(advice.tied_with)} (seed budget spent)"
    lines.append(f"recommendation: {best.candidate.label}: {time_text(best)}, {sure}")
    gap = advice.screen_gap()
    unranked = [c for c in advice.candidates if not c.screen.ranked]
    if gap["candidates"]:
        rho = "" if gap["spearman"] is None else f", Spearman {gap['spearman']:.2f}"
        low, high = gap["ratio_range"]
        lines.append(
            f"theory screen vs simulation: predicted/simulated median {gap['ratio_median']:.3g} "
            f"(range {low:.3g}-{high:.3g}) over {gap['candidates']} candidates{rho}"
        )
    if unranked:
        reasons: dict[str, int] = {}
        for c in unranked:
            short = _short_reason(c.screen.reason)
            reasons[short] = reasons.get(short, 0) + 1
        shown = "; ".join(
            reason if n == len(unranked) else f"{reason} ({n})" for reason, n in reasons.items()
        )
        lines.append(
            f"theory cannot rank {len(unranked)} of {len(advice.candidates)} candidates: {shown} "
            "(each candidate's reason is in --json)"
        )
    rounds = ", ".join(f"{len(labels)} x {seeds} seeds" for labels, seeds in advice.rounds)
    total = sum(c.seeds for c in advice.candidates)
    stored = "" if advice.trained == total else f", {total - advice.trained} read from it"
    lines.append(
        f"simulated: {rounds}; {total} runs in all, {advice.trained} trained now into "
        f"{advice.out}{stored}"
    )
    lines.extend(advice.notes)
    return "\n".join(lines)


def batch_note(sweep: Any, candidates) -> tuple[str, ...]:
    """A warning where the mini-batch size is swept but no compute time depends on it."""
    if "batch_size" not in sweep.swept():
        return ()
    from distributions import law_symbols

    for c in candidates:
        d = c.spec.to_dict()
        texts = [d.get("law"), *(d.get("laws") or [])]
        if any(isinstance(t, str) and "m" in law_symbols(t) for t in texts):
            return ()
    return (
        "note: batch is swept but no compute time depends on the mini-batch size m, so a "
        "larger batch costs no simulated time here; write the law in m (e.g. dist = "
        '"shifted-exp:0.5*m,1") to compare mini-batch sizes',
    )


def none_reached(order, settings: Any, horizon: float) -> str:
    """The one line of an advice that has no candidate to recommend."""
    over = [r for r in order if r.status == "over learner-hours"]
    if over:
        return (
            f"no candidate reaches {settings.target_text()} within learner-hours "
            f"{settings.learner_hours:g} (the cheapest that reaches it, {over[0].candidate.label}, "
            f"uses {min(r.learner_hours for r in over):.3g}); raise learner-hours"
        )
    partly = [r for r in order if r.status == "partly"]
    best = min(order, key=lambda r: r.final_value if r.final_value is not None else math.inf)
    final = "" if best.final_value is None else f" (the best ends at {best.final_value:.4g})"
    if partly:
        r = partly[0]
        final = (
            f" on every seed ({r.candidate.label} reaches it on {r.reached_seeds} of "
            f"{r.seeds} seeds, at {r.mean:.4g} on average)"
        )
    return (
        f"no candidate reaches and stays at {settings.target_text()} within the horizon "
        f"{horizon:g}{final}; raise time-budget or the target"
    )
