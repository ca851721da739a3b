"""Which of the papers' assumptions a measured log supports: identical learners,
exponential compute times, new-longer-than-used (Dutta et al. 2018, section 4 and
Definition 3).

- Identical learners: a likelihood-ratio test of (a) one law against (b) a speed per
  worker times the same law (nested: all speeds 1), ``2 (l_b - l_a)`` against chi-squared
  with W - 1 degrees of freedom on the training rows, beside a Kruskal-Wallis test of the
  workers' observed durations (all steps; not computed where rows are censored, which it
  cannot take). Both treat rows as independent: rows of one step are correlated, so the
  p-values are optimistic; the held-out scores of (a) and (b) are shown beside them.
- Exponential: the held-out KS distance of the i.i.d. exponential fit (a) against the 99%
  critical value of the Kolmogorov distribution for that many observed held-out rows
  (:data:`scipy.stats.kstwo`; the parameters were fitted on other rows, so it applies).
- New-longer-than-used: the ``aging`` label of the chosen law (every worker's, for c).
- Independent learners: every model pssim fits draws each worker's durations independently
  of the others'. A factor shared by all workers in a step (one slow input batch, a noisy
  neighbour) breaks it and makes every fitted model misstate synchronous steps. Test: the
  log durations less each worker's mean level, grouped by step, in a one-way analysis of
  variance (F test); not supported where the step explains at least
  :data:`SHARED_SHARE` of that variance and the test rejects at :data:`LEVEL` (with many
  rows a negligible shared factor is still significant, so both are required).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.stats

from simulator.measured import MeasuredDurations
from simulator.studies._fit_candidates import FitCandidate

__all__ = ["LEVEL", "Verdict", "verdicts"]

#: Significance level of the tests (a 99% confidence level).
LEVEL = 0.01
#: Share of the within-worker variance of log durations that a shared per-step factor must
#: explain to count against independence.
SHARED_SHARE = 0.05
_WORDS = {True: "supported", False: "not supported", None: "undetermined"}
#: Why a family's laws carry no aging label (distributions/, Definition 3).
_UNLABELLED = {
    "lognormal": "the log-normal's hazard rises then falls",
    "pareto": "the Pareto's hazard falls past its scale, and it is not NLTU at the scale",
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether the data support one assumption (None: undetermined), and why.

    Attributes:
        assumption: ``identical learners``, ``independent learners``, ``exponential`` or
            ``new-longer-than-used``.
        supported: True, False or None (undetermined).
        evidence: one sentence with the numbers.
        statistic: the test statistic (LR, KS) or None; ``p_value`` its p-value or None.
    """

    assumption: str
    supported: bool | None
    evidence: str
    statistic: float | None = None
    p_value: float | None = None

    def line(self) -> str:
        """``identical learners: not supported: ...``."""
        return f"{self.assumption}: {_WORDS[self.supported]}: {self.evidence}"

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "verdict": _WORDS[self.supported]}


def _p(p: float) -> str:
    return "p < 1e-300" if p < 1e-300 else f"p = {p:.3g}"


def _pick(candidates, structure: str, family: str) -> FitCandidate | None:
    return next(
        (c for c in candidates if c.ok and c.structure == structure and c.family == family),
        None,
    )


def _identical(measured: MeasuredDurations, candidates, chosen: FitCandidate) -> Verdict:
    families = [chosen.family] + [c.family for c in candidates if c.structure == "b" and c.ok]
    pair = next(
        (
            (a, b)
            for f in families
            if (a := _pick(candidates, "a", f)) and (b := _pick(candidates, "b", f))
        ),
        None,
    )
    kruskal = ""
    if not measured.any_censored:
        h, p_kw = scipy.stats.kruskal(*measured.durations)
        kruskal = f"; Kruskal-Wallis H = {h:.4g} across {measured.num_workers} workers ({_p(p_kw)})"
    if pair is None:
        return Verdict("identical learners", None, "no family fitted as both (a) and (b)" + kruskal)
    a, b = pair
    lr = max(0.0, 2.0 * (b.train_loglik - a.train_loglik))
    df = measured.num_workers - 1
    p = float(scipy.stats.chi2.sf(lr, df))
    held = (
        f"held-out log-likelihood per row {b.heldout_loglik:.4g} with speeds, "
        f"{a.heldout_loglik:.4g} without"
    )
    evidence = (
        f"per-worker speeds ({b.name}) raise the training log-likelihood by "
        f"{b.train_loglik - a.train_loglik:.4g} over {a.name} (likelihood ratio {lr:.4g} on "
        f"{df} df, {_p(p)}){kruskal}; {held}"
    )
    return Verdict("identical learners", p >= LEVEL, evidence, lr, p)


def _exponential(candidates, chosen: FitCandidate) -> Verdict:
    exp = _pick(candidates, "a", "exp")
    if exp is None or exp.heldout_ks is None:
        return Verdict("exponential", None, "the i.i.d. exponential fit has no held-out score")
    n = exp.heldout_observed
    critical = float(scipy.stats.kstwo.ppf(1.0 - LEVEL, n))
    p = float(scipy.stats.kstwo.sf(exp.heldout_ks, n))
    side = ">" if exp.heldout_ks > critical else "<="
    evidence = (
        f"held-out KS distance of the i.i.d. exponential fit ({exp.dist.spec}) "
        f"{exp.heldout_ks:.4g} {side} {critical:.4g}, the 99% critical value for {n} rows "
        f"({_p(p)}); its held-out "
        f"log-likelihood per row {exp.heldout_loglik:.4g} against {chosen.heldout_loglik:.4g} "
        f"for {chosen.name}"
    )
    return Verdict("exponential", exp.heldout_ks <= critical, evidence, exp.heldout_ks, p)


def _labels(candidate: FitCandidate) -> list[str]:
    laws = candidate.laws if candidate.laws is not None else (candidate.dist,)
    return [str(law.aging) for law in laws]


def _verdict(labels: list[str]) -> bool | None:
    if "nstu" in labels:
        return False
    return None if "None" in labels else True


def _aging(candidates, chosen: FitCandidate) -> Verdict:
    labels = _labels(chosen)
    supported = _verdict(labels)
    law = chosen.dist.spec if chosen.laws is None else "per-worker laws"
    if chosen.laws is not None:
        counts = ", ".join(f"{labels.count(x)} {x}" for x in sorted(set(labels)))
        law += f": {counts}"
    tail = {
        True: "aging label nltu or both (Definition 3), so Lemma 5's K-async bound applies",
        False: "a new-shorter-than-used law (nstu, Definition 3): Lemma 5's bound does not apply",
        None: "no aging label: "
        + _UNLABELLED.get(chosen.family, "neither new-longer- nor new-shorter-than-used"),
    }[supported]
    evidence = f"the chosen {chosen.name} ({law}) has {tail}"
    if supported is None:
        ranked = sorted((c for c in candidates if c.ok), key=lambda c: -c.heldout_loglik)
        other = next((c for c in ranked if _verdict(_labels(c)) is not None), None)
        if other is not None:
            label = "/".join(sorted(set(_labels(other))))
            evidence += (
                f"; the best candidate with one, {other.name} (held-out log-likelihood per "
                f"row {other.heldout_loglik:.4g}), is {label}"
            )
    return Verdict("new-longer-than-used", supported, evidence)


def _independent(measured: MeasuredDurations) -> Verdict:
    name = "independent learners"
    logs = [np.log(d) for d in measured.durations]
    resid = np.concatenate([y - y.mean() for y in logs])
    steps = np.concatenate(measured.steps)
    _, inverse, counts = np.unique(steps, return_inverse=True, return_counts=True)
    shared = counts[inverse] >= 2
    if shared.sum() < 3 or (counts >= 2).sum() < 2:
        return Verdict(name, None, "too few steps measured on two or more workers to test")
    r, group = resid[shared], np.unique(inverse[shared], return_inverse=True)[1]
    n_groups, n_rows = group.max() + 1, r.size
    means = np.bincount(group, weights=r) / np.bincount(group)
    ss_step = float(np.sum(np.bincount(group) * means**2) - r.size * r.mean() ** 2)
    ss_res = float(np.sum((r - means[group]) ** 2))
    df_step = n_groups - 1
    df_res = n_rows - n_groups - measured.num_workers + 1
    total = ss_step + ss_res
    if df_res < 1 or total <= 0:
        return Verdict(name, None, "too few rows beside the steps and workers to test")
    share = ss_step / total
    f = (ss_step / df_step) / (ss_res / df_res) if ss_res > 0 else np.inf
    p = float(scipy.stats.f.sf(f, df_step, df_res))
    supported = not (p < LEVEL and share >= SHARED_SHARE)
    evidence = (
        f"a factor shared by all workers in a step explains {share:.1%} of the variance of "
        f"log durations beside each worker's own level (F = {f:.4g} on {df_step} and "
        f"{df_res} df, {_p(p)}; against: at least {SHARED_SHARE:.0%} and p < {LEVEL})"
    )
    if not supported:
        evidence += (
            "; fitted models draw workers independently and misstate synchronous steps: "
            "replay the log (--durations) for sync and K-sync"
        )
    return Verdict(name, supported, evidence, f, p)


def verdicts(
    measured: MeasuredDurations, candidates: tuple[FitCandidate, ...], chosen: FitCandidate
) -> dict[str, Verdict]:
    """The assumptions' verdicts, keyed ``identical``, ``independent``, ``exponential``,
    ``nltu``."""
    return {
        "identical": _identical(measured, candidates, chosen),
        "independent": _independent(measured),
        "exponential": _exponential(candidates, chosen),
        "nltu": _aging(candidates, chosen),
    }
