"""
Training one attention head: the loss curve
===========================================

One self-attention head (:class:`chapter3.one_head.SelfAttention`) learns to map a random
sequence of 8 vectors of width 32 to another random sequence of the same shape, with a mean
squared error loss and AdamW. There is nothing to generalise here: the toy only shows the five
steps of a training loop at work, and how the loss falls when they are right.
"""

# %%
# The toy problem and the model
# -----------------------------
# :func:`~chapter3.one_head.toy_problem` seeds torch with 42 and draws the input ``x`` and the
# ``target``; the model is built right after, so its initial weights are those of the
# notebook that trains one attention head.
import matplotlib.pyplot as plt
import torch

from chapter3.one_head import SelfAttention, toy_problem, train_one_head

torch.set_num_threads(1)

x, target = toy_problem(seq_len=8, d_model=32, seed=42)  # (8, 32) each
model = SelfAttention(d_model=32)

# %%
# Two hundred epochs
# ------------------
# :func:`~chapter3.one_head.train_one_head` runs zero-grad, forward, loss, backward and step
# once per epoch and returns the loss of every epoch (measured before that epoch's update).
losses = train_one_head(model, x, target, epochs=200, lr=1e-3)
for epoch in range(0, 200, 50):
    print(f"epoch {epoch:3d}  loss {losses[epoch]:.4f}")
print(f"epoch 199  loss {losses[-1]:.4f}")

# %%
# A useful yardstick: a model that ignores its input and always outputs zeros scores
# ``mean(target ** 2)``, about 1 for a standard normal target.
zero_baseline = float((target**2).mean())
print(f"loss of always predicting 0: {zero_baseline:.4f}")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(range(len(losses)), losses, label="training loss (MSE)")
ax.axhline(zero_baseline, color="0.5", linestyle="--", label="always predict 0")
ax.set_xlabel("epoch")
ax.set_ylabel("MSE loss")
ax.set_ylim(0, max(max(losses), zero_baseline) * 1.1)
ax.legend()
ax.set_title("One attention head fitting a random target with MSE and AdamW (lr 1e-3)")
plt.show()

# %%
# What the curve shows
# --------------------
# The first loss (0.9530) is slightly *above* the zero-output yardstick: the untrained head's
# outputs are noise that adds to the error. The loss drops below the yardstick within a few
# epochs, falls fastest between roughly epochs 30 and 90, then flattens; at epoch 199 it is
# still falling (0.0637, printed above), not yet at zero. A falling training loss on a random
# target only proves that the optimiser can move the head's weights; what a head learns that
# *generalises* is the subject of the adder, later in the book.
