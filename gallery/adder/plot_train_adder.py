"""
Training the adder while the book is built
==========================================

A small GPT decoder learns to add two 2-digit numbers: it reads ``15+57=`` and writes ``072``.
This script trains it with the book's fast recipe (the first script or page of a build that
asks for it trains it; every later one loads the same model from a cache keyed on the
``chapter3`` source and the recipe), scores it on every one of the 10,000 possible sums, draws
the loss and the accuracy of every epoch and asks the trained model a few questions, the
hardest carries included.
"""

# %%
# Train, or load this build's model
# ---------------------------------
# :func:`chapter3.adder.checkpoints.trained_adder` returns the model and its training
# :class:`~chapter3.adder.training.History`. The model never comes from a checked-in file: a change
# anywhere in ``chapter3`` changes the cache key, and the next build trains again. It is this
# machine's own run: on another kind of CPU the same seed trains a slightly different model
# (training amplifies rounding differences), so what this page prints is a measurement of this
# machine. The next example studies the committed reference model instead.
import matplotlib.pyplot as plt
import torch

from chapter3.adder import split_strings, trained_adder
from chapter3.adder.decoding import what_is
from chapter3.adder.exhaustive import evaluate_all
from chapter3.adder.training import FAST_RECIPE, build_data
from chapter3.gpt import count_parameters

torch.set_num_threads(1)

model, history = trained_adder("fast")
config = FAST_RECIPE.model
print(
    f"recipe {history.recipe!r}: {config.num_layers} layers, {config.num_heads} heads, "
    f"d_model={config.d_model}, {count_parameters(model):,} parameters"
)
print(
    f"{history.num_train} training, {history.num_val} validation and "
    f"{history.num_test} test "
    f"equations; test equations also in the training split: {history.test_in_train}"
)
print(
    f"{history.steps} steps in {len(history.epoch)} epochs, "
    f"{history.train_seconds:.1f} s of optimisation steps; stopped on the validation "
    f"check: {history.stopped_early}"
)

# %%
# Every sum, measured again here
# ------------------------------
# Two-digit addition has only 10,000 questions, so the model is not sampled: all of them are
# decoded again here, in one batched pass, with the model as loaded (a broken checkpoint cannot
# hide behind a stored number), and the right answers are counted in each part of the split.
# A prediction counts only if all of its answer digits are right.
loaders = build_data(FAST_RECIPE)
test_equations = split_strings(loaders.test_set)
train_equations = set(split_strings(loaders.train_set))
result = evaluate_all(model, FAST_RECIPE)
print(f"every sum: {result.summary()}")
for expected, predicted, part in result.wrong[:10]:
    print(f"  wrong: expected {expected}, got {predicted} ({part})")

# %%
# Loss and accuracy, epoch by epoch
# ---------------------------------
# Both curves come from the training steps themselves: the loss is the mean over each
# epoch's batches, and the accuracy counts the training sums whose every answer token was
# already the model's first choice in the forward pass of their step (before the update), so
# watching them costs nothing. Cross-entropy counts only the answer digits and the end token,
# not the question. The loss axis is logarithmic.
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
ax_loss.semilogy(history.epoch, history.train_loss, "o-", label="training loss")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("cross-entropy (log scale)")
ax_loss.set_title("loss per epoch", fontsize=10)
ax_loss.legend()

seen = [history.num_train] * len(history.epoch)  # sums trained on in each epoch
last_steps = history.steps - (len(seen) - 1) * len(loaders.train_loader)
seen[-1] = min(history.num_train, last_steps * FAST_RECIPE.batch_size)  # stopped early?
accuracy = [100 * c / n for c, n in zip(history.train_correct, seen, strict=True)]
ax_acc.plot(history.epoch, accuracy, "o-", color="C2")
ax_acc.set_ylim(0, 105)
ax_acc.set_xlabel("epoch")
ax_acc.set_ylabel("exact-match accuracy (%)")
ax_acc.set_title("training sums right in their own step", fontsize=10)
for epoch, acc in zip(history.epoch, accuracy, strict=True):
    ax_acc.annotate(
        f"{acc:.0f}",
        (epoch, acc),
        textcoords="offset points",
        xytext=(0, -14),
        ha="center",
        fontsize=7,
    )
fig.suptitle("Training the 2-digit adder with the fast recipe, in this build")
plt.show()

# %%
# Asking the model
# ----------------
# :func:`~chapter3.adder.decoding.what_is` pads the numbers to two digits, feeds ``<BOS>a+b=`` and
# decodes three digits greedily. The questions include the two hardest carries: ``99+99``
# carries in both columns and ``50+50`` carries into a new hundreds digit from a tens column
# whose ones column has no carry at all. The last column says whether the equation string was
# in the training split: a right answer to an equation the model trained on is not yet proof
# of generalisation, so the table ends with three held-out equations that carry twice.
questions = ["15+57=", "99+99=", "50+50=", "0+0=", "9+1=", "45+55=", "1+99=", "7+8="]


def carries_twice(equation):
    """Both columns carry: the ones digits sum to 10 or more, so do the tens plus 1."""
    a, b = int(equation[0:2]), int(equation[3:5])
    return a % 10 + b % 10 >= 10 and a // 10 + b // 10 + 1 >= 10


# and three double carries from the held-out test split, which the model never trained on
questions += [e[:6] for e in test_equations if carries_twice(e)][:3]
print(f"{'question':>9}  {'model':>10}  {'true':>10}  right  in training split")
for question in questions:
    answer = what_is(question, model)
    a, b = (int(n) for n in question.rstrip("=").split("+"))
    truth = f"{a:02d}+{b:02d}={a + b:03d}"
    padded_answer = f"{a:02d}+{b:02d}=" + answer.split("=")[1]
    right = "yes" if padded_answer == truth else "NO"
    seen = "yes" if truth in train_equations else "no"
    print(f"{question:>9}  {answer:>10}  {truth:>10}  {right:>5}  {seen}")

# sphinx_gallery_thumbnail_number = 1
