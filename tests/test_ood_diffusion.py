"""The DDPM of the DDoS chapter on a tiny random UNet: a training step, the cache, reconstruction, sampling."""

import pytest
import torch

from reprobook import profiles
from reprobook.data import vision
from reprobook.ood.diffusion import (
    Diffusion,
    build_unet,
    check_noise_level,
    ddpm_training_step,
    from_pixels,
    noise_scheduler,
    reconstruct,
    sample,
    to_pixels,
    train_ddpm,
    unet_config,
)
from reprobook.profiles import ParameterError

CFG = profiles.config("ddos", "tiny")


def _diffusion(seed=0, unet=None, max_t=999):
    torch.manual_seed(seed)
    return Diffusion(
        unet=unet or build_unet(CFG, 1, 28).eval(),
        scheduler_config=noise_scheduler(CFG).config,
        max_t=max_t,
        history=None,
        loaded=False,
        path="",
        device=torch.device("cpu"),
        train_seconds=0.0,
    )


def _pixels(n=3, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_one_training_step_on_a_tiny_random_unet_moves_the_weights():
    torch.manual_seed(0)
    unet = build_unet(CFG, 1, 28)
    before = [p.detach().clone() for p in unet.parameters()]
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    loss = ddpm_training_step(unet, noise_scheduler(CFG), _pixels(4) * 2 - 1, torch.Generator().manual_seed(1))
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    assert all(p.grad is not None for p in unet.parameters())
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, unet.parameters()))


def test_training_draws_only_the_noise_levels_up_to_max_t(monkeypatch):
    scheduler = noise_scheduler(CFG)
    seen = []
    real = scheduler.add_noise

    def spy(x0, noise, t):
        seen.append(t.clone())
        return real(x0, noise, t)

    monkeypatch.setattr(scheduler, "add_noise", spy)
    unet = build_unet(CFG, 1, 28)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        ddpm_training_step(unet, scheduler, _pixels(8) * 2 - 1, gen, max_t=40)
    drawn = torch.cat(seen)
    assert int(drawn.max()) <= 40 and int(drawn.min()) >= 0 and len(drawn.unique()) > 20


class _Oracle(torch.nn.Module):
    """A perfect noise predictor for known clean images x₀: ε = (x_t − √ᾱ_t·x₀) / √(1 − ᾱ_t)."""

    def __init__(self, x0, scheduler):
        super().__init__()
        self.x0, self.alphas = x0, scheduler.alphas_cumprod.double()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, t):
        a = self.alphas[int(t)]
        eps = (x.double() - a.sqrt() * self.x0[: len(x)].double()) / (1 - a).sqrt()
        return type("Out", (), {"sample": eps.to(x.dtype)})()


def test_ddim_with_a_perfect_noise_predictor_returns_the_input_exactly():
    x = _pixels(4, seed=5)
    oracle = _Oracle(x * 2 - 1, noise_scheduler(CFG))
    for t in (50, 250, 400):
        out = reconstruct(_diffusion(unet=oracle), x, t, stride=50, generator=torch.Generator().manual_seed(t))
        assert torch.allclose(out, x, atol=1e-4), t


def test_reconstruction_refuses_a_level_the_ddpm_was_not_trained_on():
    with pytest.raises(ParameterError, match="'t'"):
        reconstruct(_diffusion(max_t=200), _pixels(1), 300, stride=100)


def test_training_is_cached_by_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    images = _pixels(10)
    first = train_ddpm(CFG, images, seed=0, progress=False)
    assert not first.loaded and len(first.history.train_loss) == CFG.ddpm_steps
    again = train_ddpm(CFG, images, seed=0, progress=False)
    assert again.loaded and again.path == first.path
    for a, b in zip(first.unet.state_dict().values(), again.unet.state_dict().values()):
        assert torch.equal(a, b)
    other = train_ddpm(CFG, images, seed=1, progress=False)
    assert not other.loaded and other.path != first.path


def test_the_ema_network_is_the_average_of_the_weights_along_training(tmp_path, monkeypatch):
    """diffusers' EMA warms up as (1 + k) / (10 + k): after one step it is the weights themselves, after three
    it is a running average that matches none of them; each setting has its own cache entry."""
    import dataclasses

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    images = _pixels(10)
    one = dataclasses.replace(CFG, ddpm_steps=1, ddpm_ema=None)
    plain = train_ddpm(one, images, seed=0, progress=False)
    averaged = train_ddpm(dataclasses.replace(one, ddpm_ema=0.9999), images, seed=0, progress=False)
    assert not averaged.loaded and averaged.path != plain.path
    for a, b in zip(plain.unet.state_dict().values(), averaged.unet.state_dict().values()):
        assert torch.equal(a, b)  # decay 0 at the first step: θ̄ = θ
    three = dataclasses.replace(CFG, ddpm_steps=3, ddpm_lr=1e-2, ddpm_ema=None)
    last = train_ddpm(three, images, seed=0, progress=False).unet.state_dict()
    ema = train_ddpm(dataclasses.replace(three, ddpm_ema=0.9999), images, seed=0, progress=False).unet.state_dict()
    weights = [k for k, v in last.items() if v.dtype.is_floating_point and v.dim() > 1]
    assert any(not torch.allclose(last[k], ema[k]) for k in weights)
    with pytest.raises(ParameterError, match="'ddpm_ema'"):
        train_ddpm(dataclasses.replace(one, ddpm_ema=1.0), images, seed=0, progress=False)


def test_training_refuses_images_outside_the_pixel_range():
    with pytest.raises(ParameterError, match="'images'"):
        train_ddpm(CFG, _pixels(4) * 2 - 1, progress=False)
    with pytest.raises(ParameterError, match="'images'"):
        train_ddpm(CFG, torch.rand(4, 28, 28), progress=False)


def test_reconstruction_at_t0_returns_x():
    x = _pixels()
    assert torch.equal(reconstruct(_diffusion(), x, 0, stride=CFG.ddim_stride), x)


def test_reconstruction_is_a_seeded_image_in_the_pixel_range():
    diffusion, x, t = _diffusion(), _pixels(5), CFG.noise_t
    a = reconstruct(diffusion, x, t, stride=CFG.ddim_stride, generator=torch.Generator().manual_seed(3), batch_size=2)
    b = reconstruct(diffusion, x, t, stride=CFG.ddim_stride, generator=torch.Generator().manual_seed(3))
    c = reconstruct(diffusion, x, t, stride=CFG.ddim_stride, generator=torch.Generator().manual_seed(4))
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.allclose(a, b, atol=1e-5)  # batching does not change the draw
    assert not torch.allclose(a, c) and not torch.allclose(a, x)


@pytest.mark.parametrize(
    "t, stride, name", [(-100, 100, "t"), (1000, 100, "t"), (150, 100, "t"), (100, 300, "stride"), (100, 0, "stride")]
)
def test_bad_noise_levels_are_named(t, stride, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        reconstruct(_diffusion(), _pixels(1), t, stride=stride)


def test_noise_level_check():
    assert check_noise_level(500, 1000, 50) == 500 and check_noise_level(0, 1000, 50) == 0


def test_samples_come_from_the_ddim_pipeline():
    images = sample(_diffusion(), 3, steps=2, seed=0)
    assert images.shape == (3, 1, 28, 28) and float(images.min()) >= 0 and float(images.max()) <= 1
    assert torch.allclose(images, sample(_diffusion(), 3, steps=2, seed=0))


def test_pixels_and_classifier_inputs_round_trip():
    spec = vision.input_spec("cifar10")
    p = torch.rand(2, 3, 32, 32)
    assert torch.allclose(to_pixels(from_pixels(p, spec), spec), p, atol=1e-6)
    gray = vision.input_spec("fashion-mnist")
    assert torch.equal(to_pixels(p[:, :1, :28, :28], gray), p[:, :1, :28, :28])


def test_the_paper_unet_has_attention_where_asked():
    paper = profiles.config("ddos", "paper")
    config = unet_config(paper, 3, 32)
    assert config["down_block_types"][1] == "AttnDownBlock2D" and config["up_block_types"][-2] == "AttnUpBlock2D"
    assert config["block_out_channels"] == (128, 256, 256, 256) and config["layers_per_block"] == 2
