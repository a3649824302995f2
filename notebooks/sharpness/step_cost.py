# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -user_expressions,-execution,-papermill,-scrolled,-collapsed,-ExecuteTime
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (reprobook)
#     language: python
#     name: reprobook
# ---

# %% [markdown]
# (step-cost)=
# # What a step costs
#
# **The papers.** SAM {cite:p}`foret2021sam` perturbs the weights along its own clean gradient,
# $\hat\epsilon = \rho \nabla L(w) / \|\nabla L(w)\|_2$, so every step is two forward-backward passes, the
# second waiting for the first. {cite:t}`li2022rwp` draw the perturbation at random instead. Their two
# gradients do not depend on each other, so they "can be efficiently computed in parallel, enabling
# nearly the same training speed as regular training", where SAM "inevitably doubles the training
# time": RWP beats SAM on ImageNet at half of SAM's training time (their official code runs the clean
# and the perturbed gradient on two GPUs at once). {cite:t}`li2024marwp` mix and adapt the perturbation
# (m-RWP, ARWP, m-ARWP) and claim to match or beat SAM at a lower cost; ARWP uses only the perturbed
# gradient, one gradient per step.
#
# **This chapter** puts those cost claims to a clock. It implements RWP's parallel step in two ways,
# one batched pass on one device and two processes, checks that both make exactly the sequential
# RWP's update, and then times one optimiser step of every method of Part I on the same model and the
# same batch, in one run on one machine, as a ratio to an SGD step. The methods themselves are
# explained in {ref}`rwp` and {ref}`marwp`; here only their cost matters.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a code check;
                   # "smoke": the RWP chapter's CNN and batch, CPU;
                   # "paper": ResNet-18, batch 256, GPU
seed = 0  # the seed of the model's initialisation, the batch and the order of the
          # timed rounds
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook (no data is read)

# %%
from reprobook import benchmarks, claims, profiles
from reprobook.chapters.step_cost import experiment as step_cost_chapter
from reprobook.configs import marwp as paper
from reprobook.notebook import show_source, start
from reprobook.sharpness import ARWP, SAM, BatchedRWP, DistributedRWP, FlatBuffers

session = start("step_cost", profile=profile, seed=seed, device=device,
                data_dir=data_dir, title="What a step costs")
rec = session.record
cfg = profiles.config("step_cost", profile)

# %% [markdown]
# ## Three shapes of a step
#
# Every method hands one gradient $g$ to the same base optimiser (SGD with momentum); they differ in
# how many gradients $g$ needs and whether those can be computed at the same time.
#
# **SAM: two gradients, one after the other.** The perturbation needs the clean gradient first:
#
# $$
# g_0 = \nabla L(w), \qquad \hat\epsilon = \rho\, \frac{g_0}{\|g_0\|_2}, \qquad g = \nabla L(w + \hat\epsilon).
# $$ (eq-step-sam)
#
# The two passes of {eq}`eq-step-sam` form a chain, so a SAM step costs about two SGD steps on any
# hardware:

# %%
show_source(SAM.step)

# %% [markdown]
# **RWP: two gradients, independent.** The noise $\epsilon_j \sim \mathcal N(0, (\gamma \|W_j\|_2)^2 I)$
# depends on the weights only, not on a gradient:
#
# $$
# g_0 = \nabla L(w), \qquad g_1 = \nabla L(w + \epsilon), \qquad g = (1-\alpha)\, g_0 + \alpha\, g_1 .
# $$ (eq-step-rwp)
#
# The sequential `RWP` of {ref}`rwp` computes $g_0$ and $g_1$ one after the other. `BatchedRWP` stacks
# the two parameter sets $[w, w+\epsilon]$ along a new axis and computes both gradients of
# {eq}`eq-step-rwp` in *one* pass, `torch.func.vmap` over `torch.func.grad` of a `functional_call` of
# the model. BatchNorm layers update their running statistics in place, which `vmap` refuses for an
# unbatched buffer, so each parameter set gets its own copy of the buffers and only the clean copy is
# kept: the running statistics move as in the clean pass alone, as in the sequential RWP.

# %%
show_source(BatchedRWP.step)

# %% [markdown]
# `DistributedRWP` puts the two gradients of {eq}`eq-step-rwp` on two processes, one device each, as the
# official code does with two GPUs: rank 0 computes $g_0$, rank 1 computes $g_1$, and one all-reduce of
# the weighted gradients gives both ranks
#
# $$
# g = \sum_r c_r\, g_r, \qquad c_0 = 1 - \alpha, \quad c_1 = \alpha,
# $$ (eq-step-allreduce)
#
# so both take the same base step and keep identical weights; rank 0's BatchNorm statistics (the clean
# pass) are broadcast to rank 1. With two devices a step therefore costs about *one* SGD step of wall
# time plus that all-reduce (one message the size of the model).

# %%
show_source(DistributedRWP.step)

# %% [markdown]
# **ARWP: one gradient.** With the mixing weight $\lambda = 1$ there is no clean gradient: the step is
# $g = \nabla L(w + \epsilon)$, with $\epsilon$ shrunk where past perturbed gradients were large. Its
# cost is one SGD step plus drawing, damping and accumulating the noise. The step keeps each of those
# quantities, for all the parameters of a group, in one flat buffer with a view of it shaped like each
# parameter; the per-filter norms $\lVert W_j \rVert_2$ and the accumulator's row sums $F_j$ are segment sums
# over the buffer, so the operator calls the step adds do not grow a dozen per parameter tensor (the values
# are those of the per-parameter functions shown in {doc}`the m-ARWP chapter <marwp>`, to rounding; a test
# checks it in double precision). m-RWP and m-ARWP ($0 < \lambda < 1$) have two independent gradients like RWP, computed here one
# after the other:

# %%
show_source(ARWP.step)

# %% [markdown]
# The per-filter scale $s_j = \sigma \lVert W_j \rVert_2 / d_j$ over the flat buffer (a segment sum per
# filter, one value per row of $F$, then spread over the elements), and the noise it scales:

# %%
show_source(FlatBuffers.scales)

# %%
show_source(FlatBuffers.add_noise)

# %% [markdown]
# ### A check: the parallel step makes the sequential update
#
# On a small CNN with BatchNorm, in double precision, a few steps of `BatchedRWP` and of the sequential
# `RWP` from the same initialisation, on the same batches, with the same noise generator seed:

# %%
update = rec.glue_result(step_cost_chapter.same_update_check(cfg, seed), "sc_check")
rec.check("the batched RWP step makes the sequential RWP's update", update.passed,
          update.detail)

# %% [markdown]
# After {eval}`sc_check_steps` steps the weights and running statistics of the two agree to a relative
# {eval}`sc_check_gap` (largest over {eval}`sc_check_tensors` tensors): rounding, not a different
# update; a larger gap fails the check, and with it the book's end-to-end test. The two-process step is
# checked the same way by the test suite (`tests/test_rwp_parallel.py` runs it under `torchrun` with two CPU
# processes and the gloo backend): both ranks end with bit-identical weights, equal to the sequential RWP's.
#
# ### Facts: the passes a step takes
#
# What the cost claims rest on is fixed by each method's construction: how many forward-backward passes a
# step takes, and whether the second needs the first's gradient. These are facts, not claims: counted
# here (the calls of the closure in one step of each optimiser) and recorded as checks beside the papers' words.

# %%
passes = rec.glue_result(step_cost_chapter.passes_per_step(cfg, seed), "sc_passes")
n = passes.counts
rec.check("SAM: two passes per step, the second needing the first's gradient",
          n["sam"] == 2,
          f"{n['sam']} passes counted in one step", paper=paper.SAM_COST)
rec.check("ARWP: one pass per step, as SGD", n["arwp"] == n["sgd"] == 1,
          f"{n['arwp']} pass counted in one step", paper=paper.ARWP_COST)
two = {m: n[m] for m in ("rwp", "mrwp", "marwp")}
rec.check("RWP, m-RWP, m-ARWP: two independent passes per step",
          set(two.values()) == {2},
          f"passes counted in one step: {two}", paper=paper.PAPER_CLAIMS["cost"])
passes.table

# %% [markdown]
# ### The claims this chapter can and cannot test
#
# The papers' savings for RWP and m-ARWP rest on computing their two independent gradients on two devices at
# once. Declared before the measurement, as every claim of the book (`reprobook.claims`):

# %%
specs = paper.step_cost_claim_specs(cfg)
claims.design_frame(specs)

# %% [markdown]
# On one device those two gradients are two passes one after the other, so neither claim can be tested here.
# What one device does measure is the wall time of a step: it is reported below as a measurement with its
# interval over the timed rounds, not as a verdict on a paper claim (the papers' claims are about whole
# trainings on GPUs).
#
# ## The experiment
#
# `reprobook bench step-cost` (here called from the notebook) builds one model per method from the same
# initialisation and one fixed random batch of the profile's shape; pixel values do not change the cost
# of a step. After untimed warm-up steps it runs several rounds; in each round every method takes a few
# steps back to back, timed together (synchronising the GPU before and after), and the order of the
# methods is shuffled from round to round, so a slow spell of the machine hits all of them alike (on a
# very busy machine no new round starts once a time budget is spent, after at least three). The
# ratio of a method to SGD is taken round by round and summarised by its median and quartiles. Besides
# the methods, one reference row times an SGD step on the batch repeated twice: one pass doing the work
# of two gradients, about the best a single batched pass could do on this device.

# %%
with rec.timer("benchmark"):
    measured = benchmarks.run("step-cost", device=session.device, profile=profile,
                              seed=seed)
    cost = rec.glue_result(step_cost_chapter.step_cost(
        measured, benchmarks.recorded("step-cost"), session.device), "sc")
rec.metric("step_cost_table", cost.result.table.to_dict(orient="records"))
rec.metric("step_cost_settings",
           {k: v for k, v in cost.result.settings.items() if k != "rounds_ms"})
cost.table

# %% [markdown]
# The table gives the time of one optimiser step of each method on this machine (median over the rounds and
# quartiles) and the ratio to SGD (median and quartiles of the per-round ratios; the same from the CPU time of this
# process, which other work on a shared CPU moves less); "passes in a chain" counts the forward-backward passes
# that must run one after the other. It was measured on {eval}`sc_machine` with
# {eval}`sc_threads` torch thread(s): the model is {eval}`sc_model`, the batch {eval}`sc_batch`;
# {eval}`sc_warmup` warm-up steps per method, then {eval}`sc_rounds` rounds of {eval}`sc_steps`
# steps. An SGD step took {eval}`sc_sgd_ms` ms. {eval}`sc_load_note`
#
# ```{figure}
# :name: fig-step-cost
#
# {eval}`sc_fig_ratios`
#
# Time of one optimiser step as a multiple of an SGD step (median over the rounds; the whiskers span the
# quartiles of the per-round ratios). Green: RWP's two gradients in one batched pass; grey: an SGD step
# on the batch twice over. The dashed line marks two SGD steps. Panels after the first, if any, are
# measurements recorded on other machines or at another profile's scale (each titled with its machine,
# model, batch and rounds; a panel may time only some of the methods).
# ```
#
# In {numref}`fig-step-cost` an SGD step on this machine is the unit. SAM costs {eval}`sc_ratio_sam` of
# them and the sequential RWP {eval}`sc_ratio_rwp`: two gradients in a chain. m-RWP costs
# {eval}`sc_ratio_mrwp` and m-ARWP {eval}`sc_ratio_marwp`, two gradients one after the other.
#
# **ARWP against its goal.** ARWP, one gradient per step, costs {eval}`sc_ratio_arwp` SGD steps (median of the
# per-round ratios; {eval}`sc_cpu_ratio_arwp` in CPU time). Its distribution-free interval over the
# {eval}`sc_rounds` rounds, from two order statistics, is {eval}`sc_arwp_low` to {eval}`sc_arwp_high` (coverage
# {eval}`sc_arwp_coverage`; it covers this machine's variation from round to round, not other machines'). The
# engineering goal of its batched step is at most {eval}`sc_arwp_goal` SGD steps of wall time. Read on the
# interval, never on the median alone (met when the whole interval lies at or below the goal, not met when it
# lies wholly above it, not settled otherwise), the goal is here: **{eval}`sc_arwp_goal_met`**. RWP's two gradients in one batched pass cost
# {eval}`sc_ratio_rwp_batched`, against {eval}`sc_ratio_sgd_double_batch` for one SGD pass over the
# batch twice over: {eval}`sc_batched_note`
#
# The last column of the table counts the tensor operator calls one step dispatches (forward, backward and
# update). ARWP's forward-backward pass is SGD's; a step of it issues {eval}`sc_calls_arwp` calls against
# SGD's {eval}`sc_calls_sgd`. What remains per parameter tensor is inside single `torch._foreach_*` calls
# (adding the noise to the weights, restoring them, updating the accumulator); the draw of the noise, the
# norms and the damping are whole-buffer operations. Every call has a fixed cost (Python,
# dispatch, a kernel launch on a GPU) whatever its size, so "one gradient per step" is about one SGD step only
# where the arithmetic dominates. {eval}`sc_calls_note`
#
# Here ARWP adds {eval}`sc_arwp_extra_ms` ms to an SGD step of {eval}`sc_sgd_ms` ms. That overhead is the
# draw of z (one random number per weight; on a CPU, torch's generator makes them one after another), a
# few passes over the weights (saving and restoring them, their norms, the accumulator) and a few dozen
# small calls: it grows with the number of weights. The arithmetic of the forward and backward passes
# grows with the weights times the positions each filter is applied to and the batch. So the ratio is a
# property of the model as much as of the step. {eval}`sc_scale_note`
#
# ### Measurements from other machines
#
# A measurement made elsewhere (a GPU, the paper profile) is kept in `book/measurements/` with its
# machine and the commit it ran; {eval}`sc_recorded_note` {eval}`sc_arwp_goal_recorded` A dash in
# the table: that measurement did not time the method.

# %%
cost.recorded

# %% [markdown]
# ## Paper vs this run
#
# The declared claims, on this run: both need two devices. The facts they rest on (the passes a step takes) are
# the checks recorded above, listed on the status page beside the papers' words.
#
# The function that turns this run into the claims table below, as it runs: each declared claim tested on its
# units, with its guards and Holm's adjustment over the chapter's tested claims.

# %%
show_source(step_cost_chapter.chapter_claims)

# %%
tests = step_cost_chapter.chapter_claims(cfg, cost, profile)
rec.add_claims(tests)
rec.glue("sc_claims_scale", tests[0].scale)
rec.claims_frame()

# %% [markdown]
# Scale of this run: {eval}`sc_claims_scale`. The papers' claims are about the wall time of whole
# trainings on GPUs; a step's cost on this machine is the part of that claim one run can check, and the parallel
# claims need two devices, which this run does not have.
#
# ## Deviations from the paper
#
# - **One device.** The papers' speed claims for RWP and m-ARWP rest on computing the two gradients on
#   two GPUs at once. This run times everything on one device; `DistributedRWP` implements the two-device
#   step (and is tested to make the sequential update on two CPU processes), but its wall time on two
#   devices is not measured here. On two devices its step costs about one SGD step plus an all-reduce of
#   the gradients, which overlaps with nothing here (the official code lets DistributedDataParallel
#   overlap it with the backward pass).
# - **Same batch for both gradients.** The official two-GPU code gives each GPU its own batch, so a step
#   sees twice the data; the parallel steps here compute both gradients on the batch they are given (the
#   same batch reproduces the sequential update exactly; `DistributedRWP` accepts two shards as well).
# - **Step time, not training time.** The papers compare whole trainings (and m-ARWP doubles its epochs
#   when it alternates clean and perturbed batches); this chapter times single steps of a fixed batch
#   with random pixel values, without data loading or evaluation.
# - **ARWP's noise schedule** is not stepped during the timing (its cost does not depend on $\sigma$).
# - **Scale.** The smoke profile times the small CNN of {ref}`rwp` at its batch size on a shared CPU; the paper
#   profile times ResNet-18 on CIFAR-shaped batches of 256 on a GPU
#   (`reprobook bench step-cost --profile paper --device cuda`).

# %%
rec.save()
