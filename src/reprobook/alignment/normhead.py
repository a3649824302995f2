"""Explained in `notebooks/alignment/baichuan2.ipynb`: Baichuan 2's NormHead and max-z loss, for any causal LM.

**NormHead.** The output projection of a language model turns the last hidden state ``h`` into one
logit per token of the vocabulary, ``z_i = w_iᵀ h``, with ``w_i`` the i-th row of the output
embedding. Baichuan 2 normalises each row before the projection, ``z_i = (w_i / ‖w_i‖₂)ᵀ h``: a logit
then measures the angle between ``h`` and the token's direction, times ``‖h‖``. Rare tokens, whose rows
get few updates and keep a small norm, no longer lose against frequent ones by norm alone, and the
logits cannot grow by growing the rows (the paper reports that this stabilises training).
:func:`apply_normhead` swaps the output layer of any ``transformers`` causal LM for :class:`NormHead`,
which keeps the same weight tensor (a tied input embedding stays tied) and the same state-dict keys.

**Max-z loss.** To keep the logits from drifting to large values (which makes inference sensitive to
the repetition penalty, and training less stable), Baichuan 2 adds to the cross-entropy

    L_max-z = 2e-4 · z²,   z the maximum logit,                                   (paper, Eq. 1)

averaged over the predicted tokens, as in the released modelling code (``z_loss_weight`` ×
``logits.max(-1).values ** 2 .mean()``). :func:`max_z_loss` computes it from the logits of any model;
:func:`causal_lm_loss` adds it to the next-token cross-entropy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import ParameterError, check_number

if TYPE_CHECKING:
    from transformers import PreTrainedModel

MAX_Z_WEIGHT = 2e-4  # Baichuan 2, Eq. (1)


class NormHead(nn.Module):
    """An output projection whose rows are L2-normalised on the fly: logits = h · (W / ‖W‖_row)ᵀ (+ b).

    ``weight`` is used as given (not copied): a weight tied to the input embedding stays tied, and the
    raw, unnormalised rows are what the optimiser updates; gradients flow through the normalisation.
    """

    def __init__(self, weight: nn.Parameter, bias: nn.Parameter | None = None, eps: float = 1e-12):
        super().__init__()
        self.weight = weight
        self.bias = bias
        self.eps = eps

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def normalised_weight(self) -> torch.Tensor:
        # NormHead: w̃_i = w_i / ‖w_i‖₂ for every row i of the output embedding
        return F.normalize(self.weight, p=2.0, dim=-1, eps=self.eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # z_i = w̃_iᵀ h (+ b_i)
        return F.linear(hidden, self.normalised_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rows L2-normalised"


@torch.no_grad()
def normhead_init_(weight: torch.Tensor) -> torch.Tensor:
    """Initialise output rows as the released Baichuan 2 code initialises its NormHead: Kaiming-uniform with
    a = √5, i.e. uniform in ±1/√d, rows of norm ≈ 1/√3 whatever the width d.

    The norm matters although the forward pass divides it out: the gradient of a normalised row is the
    gradient of the logit divided by the row's norm, so rows started at ``transformers``' N(0, 0.02²)
    (norm 0.02·√d, 0.11 at d = 32) take steps about five times larger than rows started at 1/√3.
    """
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    return weight


def apply_normhead(model: PreTrainedModel) -> nn.Module:
    """Replace the output layer of a ``transformers`` causal LM (``get_output_embeddings()``, an
    ``nn.Linear``) by a :class:`NormHead` over the same parameters; return the model (changed in place)."""
    if not hasattr(model, "get_output_embeddings"):
        raise ParameterError("model", type(model).__name__, "a transformers model with get_output_embeddings()")
    head = model.get_output_embeddings()
    if isinstance(head, NormHead):
        return model
    if not isinstance(head, nn.Linear):
        raise ParameterError(
            "model",
            f"{type(model).__name__} with output layer {type(head).__name__}",
            "a causal LM whose output layer is an nn.Linear",
        )
    # torch stubs: nn.Linear's weight and bias are typed as tensors; they are parameters
    model.set_output_embeddings(NormHead(head.weight, head.bias))  # type: ignore[arg-type]
    return model


def has_normhead(model: nn.Module) -> bool:
    return isinstance(getattr(model, "get_output_embeddings", lambda: None)(), NormHead)


@torch.no_grad()
def fold_normhead(model: PreTrainedModel) -> nn.Module:
    """Turn a NormHead back into a plain ``nn.Linear`` whose rows are already normalised (what the
    released Baichuan 2 code does once at inference), so the model saves and loads as its plain class.
    A weight tied to the input embedding cannot be folded without changing the input embedding: refused."""
    head = model.get_output_embeddings()
    if not isinstance(head, NormHead):
        return model
    inputs = model.get_input_embeddings()
    if inputs is not None and inputs.weight is head.weight:
        raise ParameterError(
            "model",
            "tied input and output embeddings",
            "a model with untied output embeddings (folding would rescale the inputs)",
        )
    linear = nn.Linear(
        head.in_features,
        head.out_features,
        bias=head.bias is not None,
        device=head.weight.device,
        dtype=head.weight.dtype,
    )
    linear.weight.copy_(head.normalised_weight())
    if head.bias is not None:
        linear.bias.copy_(head.bias)
    model.set_output_embeddings(linear)
    return model


def max_z_loss(logits: torch.Tensor, weight: float = MAX_Z_WEIGHT, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Baichuan 2's max-z loss: ``weight`` times the mean over tokens of the squared maximum logit.

    ``logits``: (..., vocabulary); ``mask`` (the leading shape, bool): the tokens that count.
    """
    check_number("weight", weight, low=0.0)
    # z = max_i z_i, the largest logit of each token's prediction
    z = logits.max(dim=-1).values
    if mask is not None:
        z = z[mask]
    # L_max-z = 2e-4 · z², averaged over the predicted tokens (Eq. 1)
    return weight * z.float().pow(2).mean()


def causal_lm_loss(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    *,
    max_z_weight: float = 0.0,
    attention_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Next-token cross-entropy of ``logits`` (batch, length, vocabulary) on ``input_ids`` plus the max-z
    loss with ``max_z_weight`` (0: off). Returns ``(total, cross_entropy, max_z)``, each a scalar.

    Position t predicts token t + 1; with an ``attention_mask`` only the targets it marks count.
    """
    shift_logits = logits[:, :-1].float()
    targets = input_ids[:, 1:]
    mask = None if attention_mask is None else attention_mask[:, 1:].bool()
    flat_targets = targets if mask is None else targets.masked_fill(~mask, -100)
    ce = F.cross_entropy(shift_logits.reshape(-1, shift_logits.shape[-1]), flat_targets.reshape(-1), ignore_index=-100)
    mz = max_z_loss(shift_logits, max_z_weight, mask) if max_z_weight > 0 else ce.new_zeros(())
    return ce + mz, ce, mz
