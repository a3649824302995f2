"""The mode-ensemble chapter's claims: each verdict from a rule of :mod:`reprobook.claims`, over the K modes.

Explained in ``notebooks/ood/mode_ensemble.ipynb``. The chapter has K trained classifiers, so its verdicts
cover the variation between trainings, not only the resampling of the test images:

* **InD alike**: TOST equivalence, over the modes, of each mode's InD test accuracy with the mean of the
  others, within ± ``cfg.ind_margin``;
* **OoD landscapes differ**: the relative spread (coefficient of variation over the modes) of the OoD loss
  of each OoD set against that of the InD test loss: one-sided paired t-test over the OoD sets;
* **detection fluctuates across modes**: per (detector, OoD set) cell, the standard deviation of FPR95 over
  the modes against the bootstrap standard deviation of one mode's FPR95 (re-drawn test and OoD samples):
  one-sided paired t-test over the cells. "Fluctuates" then means: the training seed moves FPR95 more
  than the choice of test images does;
* **the ensemble improves detection**: per detector, FPR95 (mean over the OoD sets) of every single mode
  against the ensemble of all K: one-sided paired t-test over the modes; the claim is *reproduced* when
  it is for every detector;
* **the ensemble reduces the variance**: per cell, the standard deviation of FPR95 over single modes
  against that over ensembles of two modes: one-sided paired t-test over the cells.

All p-values of the chapter are Holm-adjusted together (:func:`reprobook.claims.holm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..claims import Verdict, all_or_partly, equivalence, holm, superiority
from ..results import glued
from .ensemble import EnsembleGain, EnsembleStudy, ModeSpread
from .landscape import Landscape
from .modes import ModeTraining

SOURCE = "Fang et al. (2024), abstract"


@dataclass
class ModeEnsembleVerdicts:
    """The claims table's rows (``rows``, for ``RunRecord.add_claims``), the per-detector ensemble verdicts
    (``per_detector``), the "Paper vs this run" RankFeat table (``rankfeat``) and each rule in words."""

    rows: list
    per_detector: Any
    rankfeat: Any
    verdicts: dict
    rule_ind: str = glued()
    rule_landscape: str = glued()
    rule_fluctuation: str = glued()
    rule_ensemble: str = glued()
    rule_variance: str = glued()
    ind_margin: float = glued(".1%")
    n_tests: int = glued()


def _cv(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / values.mean()) if len(values) > 1 and values.mean() != 0 else 0.0


def _fmt(v: Verdict) -> str:
    if v.estimate is None:
        return ""
    parts = [f"mean difference {v.estimate:+.3g}"]
    if v.low is not None and v.high is not None:
        parts.append(f"[{v.low:+.3g}, {v.high:+.3g}]")
    if v.p is not None:
        parts.append(f"p = {v.p:.2g}")
    return " ".join(parts)


def mode_ensemble_claims(training: ModeTraining, study: EnsembleStudy, spread: ModeSpread, gain: EnsembleGain,
                         landscape: Landscape, cfg: Any, scale: str, paper: dict[str, Any],
                         paper_source: str) -> ModeEnsembleVerdicts:
    """The verdicts of the chapter, Holm-adjusted together, as claims-table rows."""
    import pandas as pd

    table, k = training.table, training.n_modes
    acc = table["InD test accuracy"].to_numpy()
    others = [(acc.sum() - a) / (k - 1) for a in acc] if k > 1 else list(acc)
    tests: dict[str, Verdict] = {}
    tests["ind"] = equivalence(acc, others, margin=cfg.ind_margin, unit="modes")
    ood_cols = [c for c in table.columns if c.startswith("OoD loss ")]
    cv_ood = [_cv(table[c]) for c in ood_cols]
    cv_ind = _cv(table["InD test loss"])
    tests["landscape"] = superiority(cv_ood, [cv_ind] * len(cv_ood), unit="OoD sets")
    cells = spread.cells
    tests["fluctuation"] = superiority(cells["std over modes"], cells["bootstrap std"],
                                       unit="detector × OoD-set cells")
    pairs = study.table[study.table["size"] == 2].groupby(["detector", "ood_set"])["FPR95"].std(ddof=1)
    pair_std = [float(pairs.get((d, s), 0.0)) if np.isfinite(pairs.get((d, s), np.nan)) else 0.0
                for d, s in zip(cells.detector, cells.ood_set)]
    tests["variance"] = superiority(cells["std over modes"], pair_std, unit="detector × OoD-set cells")
    avg = study.table.groupby(["size", "members", "detector"], as_index=False)["FPR95"].mean()
    for det in study.detectors:
        singles = avg[(avg["size"] == 1) & (avg.detector == det)]["FPR95"].to_numpy()
        full = float(avg[(avg["size"] == k) & (avg.detector == det)]["FPR95"].iloc[0])
        # FPR95 is lower-better: the claim "ensemble < single" is "single − ensemble > 0"
        tests[f"ensemble {det}"] = superiority(singles, [full] * len(singles), unit="modes")
    rank_cells = cells[cells.detector == "RankFeat"]
    if len(rank_cells):
        tests["rankfeat"] = superiority(rank_cells["std over modes"], rank_cells["bootstrap std"], unit="OoD sets")
    adjusted = holm(tests)
    per_det = {d: adjusted[f"ensemble {d}"] for d in study.detectors}
    versus = gain.versus
    per_detector = pd.DataFrame([{"detector": d, "mean single FPR95": versus.loc[d, "mean single FPR95"],
                                  "ensemble FPR95": versus.loc[d, "ensemble FPR95"], "p (Holm)": v.p,
                                  "verdict": v.verdict} for d, v in per_det.items()]).set_index("detector")
    word = all_or_partly(per_det.values())
    n_repro = sum(v.verdict == "reproduced" for v in per_det.values())
    ensemble_rule = ("per detector, one-sided paired t-test over the modes of FPR95(single mode) − FPR95(ensemble of "
                     "all modes), FPR95 averaged over the OoD sets, Holm-adjusted over the chapter's tests; "
                     "reproduced when every detector is")
    ensemble_verdict = Verdict(word, rule=ensemble_rule, covers=f"{k} modes × {len(per_det)} detectors",
                               kind="all detectors")
    rows = [
        dict(claim="Independent modes reach alike InD performance",
             paper="all modes reach low-loss regions with InD data (training and test)",
             this_run=(f"InD test accuracy {training.acc_min:.1%}–{training.acc_max:.1%}, loss "
                       f"{training.loss_min:.3f}–{training.loss_max:.3f}; {_fmt(adjusted['ind'])}"),
             verdict=adjusted["ind"], source=SOURCE, scale=scale),
        dict(claim="The same modes have very different OoD loss landscapes",
             paper="modes yield significantly different loss landscapes with OoD data",
             this_run=(f"coefficient of variation over modes: InD test loss {cv_ind:.3f}; OoD loss "
                       + ", ".join(f"{c.removeprefix('OoD loss ')} {v:.3f}" for c, v in zip(ood_cols, cv_ood))
                       + f"; {_fmt(adjusted['landscape'])}"),
             verdict=adjusted["landscape"], source=SOURCE, scale=scale),
        dict(claim="OoD detection performance fluctuates across modes",
             paper="FPR95 of RankFeat ranges 46.58%–84.70% over 5 modes (iNaturalist)",
             this_run=(f"widest FPR95 range {spread.widest}: {spread.widest_low:.1%}–{spread.widest_high:.1%}; "
                       f"mean std over modes {spread.between_std:.1%} vs bootstrap std {spread.sampling_std:.1%}; "
                       f"{_fmt(adjusted['fluctuation'])}"),
             verdict=adjusted["fluctuation"], source=SOURCE, scale=scale),
        dict(claim="Mode ensemble improves OoD detection",
             paper="mode ensemble improves every detector studied (e.g. RankFeat iNaturalist FPR95 39.32% vs 46.58–84.70%)",
             this_run=(f"{n_repro} of {len(per_det)} detectors significantly better; mean FPR95 over detectors "
                       f"{gain.mean_single:.1%} (single modes) → {gain.mean_ensemble:.1%} (ensemble of {k})"),
             verdict=ensemble_verdict, source=SOURCE, scale=scale),
        dict(claim="Mode ensemble reduces the variance of OoD detection",
             paper="mode ensemble benefits the detector with reduced variances",
             this_run=(f"mean std of FPR95: {np.mean(cells['std over modes']):.1%} over single modes, "
                       f"{np.mean(pair_std):.1%} over 2-mode ensembles; {_fmt(adjusted['variance'])}"),
             verdict=adjusted["variance"], source=SOURCE, scale=scale),
    ]
    if "rankfeat" in adjusted:
        rk = rank_cells.set_index("ood_set")
        rows.append(dict(
            claim="RankFeat's FPR95 varies widely across modes (the README's example)",
            paper="; ".join(f"{s} {min(v['modes']):.2f}–{max(v['modes']):.2f} → {v['ensemble']:.2f}"
                            for s, v in paper.items()),
            this_run="; ".join(f"{s} {100 * r['min']:.2f}–{100 * r['max']:.2f} → {100 * r['ensemble']:.2f}"
                               for s, r in rk.iterrows()) + f"; spread vs bootstrap {_fmt(adjusted['rankfeat'])}",
            verdict=adjusted["rankfeat"], source=paper_source, scale=scale))
    rankfeat = pd.DataFrame(
        [{"run": "paper (DenseNet-121, ImageNet)", "OoD set": s, "best mode": min(v["modes"]), "worst mode": max(v["modes"]),
          "ensemble": v["ensemble"]} for s, v in paper.items()]
        + [{"run": "this run", "OoD set": s, "best mode": round(100 * r["min"], 2), "worst mode": round(100 * r["max"], 2),
            "ensemble": round(100 * r["ensemble"], 2)} for s, r in rank_cells.set_index("ood_set").iterrows()])
    return ModeEnsembleVerdicts(
        rows=rows, per_detector=per_detector, rankfeat=rankfeat, verdicts=adjusted,
        rule_ind=tests["ind"].rule, rule_landscape=tests["landscape"].rule, rule_fluctuation=tests["fluctuation"].rule,
        rule_ensemble=ensemble_rule, rule_variance=tests["variance"].rule, ind_margin=cfg.ind_margin,
        n_tests=sum(v.p is not None for v in adjusted.values()))


__all__ = ["ModeEnsembleVerdicts", "mode_ensemble_claims"]
