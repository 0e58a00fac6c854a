"""
The adder's learning-rate schedule
==================================

The adder notebook's original recipe trains with the schedule of "Attention Is All You
Need": the learning rate rises linearly for a few thousand steps (here: three epochs),
then decays like :math:`1/\\sqrt{\\text{step}}`. This script draws it step by step,
exactly as the optimiser sees it, next to the shorter warm-up and linear decay of the
book's fast recipe.
"""

# %%
# The Noam factor
# ---------------
# :class:`~chapter3.adder.training.NoamSchedule` is the factor that ``LambdaLR`` multiplies Adam's
# base learning rate by at every step:
#
# .. math::
#
#    \text{factor}(s) = d_\text{model}^{-1/2}\,
#    \min\bigl((s+1)^{-1/2},\; (s+1)\,w^{-3/2}\bigr)
#
# The two terms meet at :math:`s + 1 = w`, the last warm-up step, where the factor peaks at
# :math:`(d_\text{model}\,w)^{-1/2}`. The original recipe multiplies it by a base rate of 0.2, an
# unusual number that only makes sense together with this factor.
import matplotlib.pyplot as plt
import torch

from chapter3.adder.training import (
    FAST_RECIPE,
    ORIGINAL_RECIPE,
    build_data,
    make_schedule,
)

torch.set_num_threads(1)


def lr_per_step(recipe):
    """The learning rate of every optimiser step of ``recipe``, and its warm-up in steps.

    The scheduler is the one :func:`~chapter3.adder.training.train` builds
    (:func:`~chapter3.adder.training.make_schedule`), fed the number of batches of the
    recipe's own training loader; the rates are read back from the optimiser step by step.
    """
    steps_per_epoch = len(build_data(recipe).train_loader)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([param], lr=recipe.lr)
    scheduler = make_schedule(optimizer, recipe, steps_per_epoch)
    lrs = []
    for _ in range(recipe.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])  # the rate this step's update uses
        optimizer.step()
        scheduler.step()
    return lrs, steps_per_epoch, scheduler.lr_lambdas[0].warmup_steps


# %%
# The original recipe: steps per epoch come from its own data loader (7,000 training equations in
# batches of 256), and the warm-up lasts ``warmup_epochs`` epochs.
assert ORIGINAL_RECIPE.schedule == "noam", (
    "this script draws the original recipe's Noam schedule"
)
original_lrs, original_steps, original_warmup = lr_per_step(ORIGINAL_RECIPE)
peak_step = max(range(len(original_lrs)), key=original_lrs.__getitem__)
print(
    f"original recipe: {original_steps} steps per epoch, warm-up {original_warmup} steps"
)
print(f"peak learning rate {original_lrs[peak_step]:.5f} at step {peak_step}")
print(f"last learning rate {original_lrs[-1]:.5f} at step {len(original_lrs) - 1}")

# %%
# The fast recipe (the model this book trains at build time) warms up for half an epoch and
# then decays linearly to zero at the last step
# (:class:`~chapter3.adder.training.WarmupLinearSchedule`).
assert FAST_RECIPE.schedule == "warmup_linear", (
    "update this script: the fast recipe changed"
)
fast_lrs, fast_steps, fast_warmup = lr_per_step(FAST_RECIPE)
fast_total = len(fast_lrs)
print(f"fast recipe: {fast_steps} steps per epoch, warm-up {fast_warmup} steps")
print(f"peak learning rate {max(fast_lrs):.5f}")

# %%
# Both schedules against the optimiser step
# -----------------------------------------
# The dashed curve on the left is the decay term alone, :math:`0.2\,(d_\text{model}\,s)^{-1/2}`
# continued back into the warm-up: after the peak, the schedule *is* that curve.
fig, (ax_original, ax_fast) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
steps = range(len(original_lrs))
ax_original.plot(steps, original_lrs, label="Noam schedule (as used)")
decay = [
    ORIGINAL_RECIPE.lr * (ORIGINAL_RECIPE.model.d_model * (s + 1)) ** -0.5
    for s in steps
]
ax_original.plot(steps, decay, "--", color="0.5", label="0.2 · (d_model · (s+1))^-1/2")
ax_original.axvline(
    original_warmup - 1,
    color="C3",
    linewidth=1,
    label=f"end of warm-up (step {original_warmup - 1})",
)
ax_original.set_ylim(0, original_lrs[peak_step] * 1.6)
ax_original.set_xlabel("optimiser step")
ax_original.set_ylabel("learning rate")
ax_original.set_title(
    f"original recipe: Noam, d_model={ORIGINAL_RECIPE.model.d_model}, "
    f"warm-up {original_warmup} steps",
    fontsize=10,
)
ax_original.legend(fontsize=8)

ax_fast.plot(range(fast_total), fast_lrs, color="C2")
ax_fast.axvline(fast_warmup - 1, color="C3", linewidth=1)
ax_fast.set_xlabel("optimiser step")
ax_fast.set_title(
    f"fast recipe: warm-up {fast_warmup} steps, then linear decay to 0", fontsize=10
)
fig.suptitle("Learning rate at every optimiser step of the two adder recipes")
plt.show()

# %%
# What the curves show
# --------------------
# Under Noam the learning rate climbs in a straight line to its peak at the end of the
# three-epoch warm-up, then falls steeply at first and ever more slowly: at the last step it
# is still about a third of the peak (the numbers are printed above), because
# :math:`1/\sqrt{s}` decays slowly. The fast recipe peaks higher and earlier, and its linear
# decay ends at exactly zero on the last step; the training example next in this gallery
# shows what the model makes of it.
