"""The perturbation of RWP and the ARWP family over one flat buffer per quantity.

Explained in ``notebooks/sharpness/step_cost.ipynb``. Drawn and scaled one parameter at a time, the
filter-wise noise costs a dozen small operator calls per parameter tensor (norms, draws, scaling,
damping, adding, restoring, the accumulator), and on a CPU, or on a GPU with a small model, those calls
and not the arithmetic are what make an ARWP step dearer than an SGD step. Here every quantity of a
parameter group lives in one flat buffer (the saved weights, the noise, the ARWP accumulator), with a
view of it shaped like each parameter, and the per-filter quantities are segment sums over the buffer
(products with a sparse 0/1 matrix):

    ‖W_j‖₂² = Σ_{i ∈ filter j} w_i²,      F_j = Σ_{i ∈ row j} A_i,      s_j = σ ‖W_j‖₂ / d(F_j),
    ε = z ⊙ s,  z ~ N(0, I) drawn once for the whole buffer (as :func:`.rwp.standard_normal_draws` does),

with d = 1 for RWP and d(F) = √(1 + η F) or (1 + η F)^{1/4} for ARWP (:mod:`.arwp`). A filter j is an
output row of a weight; a 1-D parameter is one filter for its norm, and each of its entries is its own
row of F (the official code's convention). The values equal the per-parameter functions'
(:func:`.rwp.filter_wise_noises`, :func:`.arwp.adaptive_noise_divisors`) up to floating-point rounding,
from the same draws.
"""

from __future__ import annotations

import warnings

import torch


def _rows(p: torch.Tensor) -> tuple[list[int], list[int]]:
    """Segment lengths of ``p`` flattened: (filters for the norm, rows of F)."""
    n = p.numel()
    if p.dim() > 1:
        filters = [n // p.shape[0]] * p.shape[0]
        return filters, filters
    return [n], [1] * n


class FlatBuffers:
    """The flat buffers of one parameter group, built once and reused while the parameters keep their storage.

    ``FlatBuffers.of(params)`` is None when the parameters cannot share a buffer (mixed dtypes or devices, a
    non-contiguous tensor); the optimisers then take their per-parameter path.
    """

    def __init__(self, params: list[torch.Tensor]):
        self.params = list(params)
        self.ptrs = [p.data_ptr() for p in params]
        first = params[0]
        numels = [p.numel() for p in params]
        total = sum(numels)
        self.saved = first.new_empty(total)
        # z, and before it is drawn the squared weights of the norms (a buffer fewer to keep in cache)
        self.noise = first.new_empty(total)
        self.accumulator: torch.Tensor | None = None
        self.param_flat = [p.view(-1) for p in params]
        offsets = [0]
        for n in numels:
            offsets.append(offsets[-1] + n)
        self._slices = [(offsets[i], offsets[i + 1]) for i in range(len(params))]
        self.saved_views = self._views(self.saved)
        self.noise_views = self._views(self.noise)
        filters, rows = [], []
        for p in params:
            f, r = _rows(p)
            filters += f
            rows += r
        device = first.device
        # segment sums as products with 0/1 matrices in CSR form (one sparse matrix-vector product each); the
        # two matrices share their column indices and their values (both 0, 1, …, n − 1 and all ones)
        self.filter_sum = _segment_matrix(filters, first)
        self.row_sum = _segment_matrix(rows, first, like_matrix=self.filter_sum)
        row_lengths = torch.tensor(rows, device=device)
        # row j of F lies in filter filter_of_row[j]
        filter_ids = torch.repeat_interleave(
            torch.arange(len(filters), device=device), torch.tensor(filters, device=device)
        )
        self.filter_of_row = filter_ids[torch.cumsum(row_lengths, 0) - row_lengths]
        # s_j, one value per row of F, and a view of it per parameter that broadcasts over the parameter
        self.row_scale = first.new_empty(len(rows))
        self.row_scale_views, start = [], 0
        for p in params:
            n = p.shape[0] if p.dim() > 1 else p.numel()
            self.row_scale_views.append(
                self.row_scale[start : start + n].view(p.shape[0], *([1] * (p.dim() - 1)))
                if p.dim() > 1
                else self.row_scale[start : start + n].view(p.shape)
            )
            start += n
        self.accumulator_views: list[torch.Tensor] = []
        self._linked = False  # whether state[p]["accumulator"] are the views of the flat accumulator

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [flat[a:b].view_as(p) for (a, b), p in zip(self._slices, self.params)]

    @classmethod
    def of(cls, params: list[torch.Tensor]) -> FlatBuffers | None:
        first = params[0]
        if all(p.dtype == first.dtype and p.device == first.device and p.is_contiguous() for p in params):
            return cls(params)
        return None

    def fits(self, params: list[torch.Tensor]) -> bool:
        """True while ``params`` are this group's tensors with the storage they had when it was built."""
        return (
            len(params) == len(self.params)
            and all(p is q for p, q in zip(params, self.params))
            and all(p.data_ptr() == ptr for p, ptr in zip(params, self.ptrs))
        )

    # ----------------------------------------------------------------------------------------- weights
    def save(self) -> None:
        """The saved copy ← w (one concatenation)."""
        torch.cat(self.param_flat, out=self.saved)

    def restore(self) -> None:
        """w ← the saved copy (bit-exact)."""
        torch._foreach_copy_(self.params, self.saved_views)

    # ----------------------------------------------------------------------------------------- noise
    def scales(self, sigma: float, divisor: torch.Tensor | None = None) -> torch.Tensor:
        """s_j = σ ‖W_j‖₂ (/ d_j), one value per row of F (``row_scale``; ``row_scale_views`` broadcast it)."""
        # ‖W_j‖₂ = √(Σ_{i ∈ filter j} w_i²)   (from the saved copy: call save() first; the squares go through
        # the noise buffer, which the draw overwrites)
        norms = (self.filter_sum @ torch.mul(self.saved, self.saved, out=self.noise)).sqrt_()
        # σ_j = σ ‖W_j‖₂, one value per row of F
        torch.mul(norms.index_select(0, self.filter_of_row), sigma, out=self.row_scale)
        if divisor is not None:
            # s_j = σ_j / d_j
            self.row_scale.div_(divisor)
        return self.row_scale

    def add_noise(self, sigma: float, generator: torch.Generator | None, divisor: torch.Tensor | None = None) -> None:
        """w ← w + s ⊙ z,  z ~ N(0, I) drawn as :func:`.rwp.standard_normal_draws` draws it (into ``noise``)."""
        self.scales(sigma, divisor)
        device = generator.device if generator is not None else self.noise.device
        if device == self.noise.device:  # z ~ N(0, I), one draw for the whole buffer
            self.noise.normal_(generator=generator)
        else:  # the generator lives elsewhere (a CPU generator for GPU weights): draw there, copy once
            self.noise.copy_(torch.randn(self.noise.shape, generator=generator, dtype=self.noise.dtype, device=device))
        # w ← w + ε,  ε_j = s_j z_j  (each parameter's rows of s broadcast over its filters)
        torch._foreach_addcmul_(self.params, self.noise_views, self.row_scale_views)

    # ----------------------------------------------------------------------------------------- ARWP
    def accumulators(self, state: dict) -> torch.Tensor:
        """The flat accumulator A (zeros before a parameter's first step: no damping), holding what
        ``state[p]["accumulator"]`` held when the buffers were built (an earlier step, a loaded state dict)."""
        if self.accumulator is None:
            self.accumulator = torch.zeros_like(self.saved)
            self.accumulator_views = self._views(self.accumulator)
            for p, view in zip(self.params, self.accumulator_views):
                if state.get(p, {}).get("accumulator") is not None:
                    view.copy_(state[p]["accumulator"])
        return self.accumulator

    def divisor(self, state: dict, eta: float, scaling: str) -> torch.Tensor:
        """d_j = √(1 + η F_j) (``"std"``) or (1 + η F_j)^{1/4} (``"var"``), one value per row of F."""
        # F_j = Σ_{i ∈ row j} A_i
        rows = self.row_sum @ self.accumulators(state)
        # 1 + η F_j, then its square root (std) or fourth root (var)
        inflation = rows.mul_(eta).add_(1.0).sqrt_()
        return inflation.sqrt_() if scaling == "var" else inflation

    def accumulate(self, state: dict, grads: list[torch.Tensor], beta: float) -> None:
        """A ← β A + g²; from the first call on, ``state[p]["accumulator"]`` is the view of A (the optimiser
        drops these buffers when it loads a state dict, so the next step copies the loaded values in)."""
        accumulator = self.accumulators(state)
        accumulator.mul_(beta)
        torch._foreach_addcmul_(self.accumulator_views, grads, grads)
        if not self._linked:
            for p, view in zip(self.params, self.accumulator_views):
                state[p]["accumulator"] = view
            self._linked = True


def _segment_matrix(lengths: list[int], like: torch.Tensor, like_matrix: torch.Tensor | None = None) -> torch.Tensor:
    """The 0/1 matrix (len(lengths) × Σ lengths), in CSR form, whose product with a vector sums its
    consecutive segments of the given lengths. Every such matrix has the column indices 0, 1, …, n − 1 and
    all-one values: with ``like_matrix`` (another of them, over as many columns) it shares its tensors."""
    n = sum(lengths)
    # 32-bit indices where they suffice: the sparse kernels take them as they are (64-bit ones are converted
    # at every product)
    index = torch.int32 if n < 2**31 else torch.int64
    rows = torch.tensor([0, *lengths], device=like.device).cumsum(0).to(index)
    if like_matrix is not None and like_matrix.shape[1] == n:
        columns, ones = like_matrix.col_indices(), like_matrix.values()
    else:
        columns = torch.arange(n, device=like.device, dtype=index)
        ones = torch.ones(n, dtype=like.dtype, device=like.device)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rows, columns, ones, size=(len(lengths), n))
