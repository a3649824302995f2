"""Explained in ``notebooks/alignment/baichuan2.ipynb``: the Baichuan 2 chapter's figures drawn from a study's result.

:func:`compression_figure`: tokens per character against vocabulary size, from
:func:`reprobook.alignment.tokenizer.tokenizer_study` (the NormHead, max-z and scaling figures are drawn by
:mod:`.ablations` and :mod:`.prediction`, beside the runs they show).
"""

from __future__ import annotations

from typing import Any

from ...alignment.tokenizer import TokenizerStudy


def compression_figure(study: TokenizerStudy) -> Any:
    """Tokens per character against vocabulary size: the trained BPE's curve per language (colour), the
    pretrained tokenizers as open markers (shape) in the same colours."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    table = study.table
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    ours = table[table["trained here"]]
    refs = table[~table["trained here"]]
    markers = "sD^vP"
    handles = []
    for lang, label in (("en", "English"), ("zh", "Chinese"), ("mixed", "mixed")):
        (line,) = ax.plot(ours.vocabulary, ours[f"tokens/char {lang}"], "o-", label=f"BPE trained here, {label}")
        handles.append(line)
        for k, (_, r) in enumerate(refs.iterrows()):
            ax.plot(
                [r.vocabulary],
                [r[f"tokens/char {lang}"]],
                markers[k % len(markers)],
                color=line.get_color(),
                mfc="none",
                ms=8,
            )
    handles += [
        Line2D(
            [],
            [],
            ls="none",
            marker=markers[k % len(markers)],
            mfc="none",
            color="0.3",
            ms=8,
            label=f"{r.tokenizer} ({int(r.vocabulary):,})",
        )
        for k, (_, r) in enumerate(refs.iterrows())
    ]
    ax.set(xscale="log", xlabel="vocabulary size", ylabel="tokens per character (lower is better)")
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig
