"""Training one attention head: a regression toy that shows the training loop.

The head maps an unbatched sequence (seq_len, d_model) to a sequence of the same shape; it is
trained with MSE against a random target, only to watch a loss fall. The notebook's version also
created a fourth layer, ``attention_scores``, that ``forward`` never uses; this one leaves it
out (the book page shows why the printed losses are the same either way).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from chapter3._checks import check_last_dim, check_positive_int, check_tensor


class SelfAttention(nn.Module):
    """Scaled dot-product self-attention on one sequence (seq_len, d_model), biases included.

    ``x`` must be a floating-point (seq_len, d_model) tensor; NaN or inf in it propagate to
    the output, as in torch.

    >>> import torch
    >>> from chapter3.one_head import SelfAttention
    >>> SelfAttention(4)(torch.zeros(3, 4)).shape
    torch.Size([3, 4])
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = check_positive_int(d_model, "d_model")
        self.w_query = nn.Linear(d_model, d_model)
        self.w_key = nn.Linear(d_model, d_model)
        self.w_value = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=2, shape_hint="(seq_len, d_model)")
        check_last_dim(x, self.d_model, what="d_model")
        query = self.w_query(x)  # (seq_len, d_model)
        key = self.w_key(x)  # (seq_len, d_model)
        value = self.w_value(x)  # (seq_len, d_model)
        # (L, L)
        attn_weights = torch.softmax(query @ key.T / math.sqrt(self.d_model), dim=-1)
        return attn_weights @ value  # (seq_len, d_model)


def toy_problem(seq_len: int = 8, d_model: int = 32, seed: int = 42):
    """Seed torch, then draw the input ``x`` and the ``target`` (both (seq_len, d_model)).

    The generator is left where these draws stop, so a model built right after is initialised
    exactly as in the notebook (which seeds, draws ``x``, ``target``, then builds the model).

    >>> from chapter3.one_head import toy_problem
    >>> x, target = toy_problem()
    >>> x.shape, target.shape
    (torch.Size([8, 32]), torch.Size([8, 32]))
    """
    check_positive_int(seq_len, "seq_len")
    check_positive_int(d_model, "d_model")
    torch.manual_seed(seed)
    x = torch.randn(seq_len, d_model)
    target = torch.randn(seq_len, d_model)
    return x, target


def train_one_head(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    epochs: int = 200,
    lr: float = 1e-3,
) -> list[float]:
    """Train ``model`` to map ``x`` to ``target`` with MSE and AdamW; return every epoch's loss.

    Entry *e* is the loss computed in epoch *e* *before* that epoch's update, as the notebook prints
    it. The five steps of each epoch: zero the gradients, forward, loss, backward, step.

    >>> from chapter3.one_head import SelfAttention, toy_problem, train_one_head
    >>> x, target = toy_problem()
    >>> losses = train_one_head(SelfAttention(32), x, target, epochs=3)
    >>> len(losses), losses[2] < losses[0]
    (3, True)
    """
    check_positive_int(epochs, "epochs")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor(x, "x")
    check_tensor(target, "target")
    if x.shape != target.shape:
        raise ValueError(
            f"x {tuple(x.shape)} and target {tuple(target.shape)} must match"
        )
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    model.train()
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()  # 1. forget the previous epoch's gradients
        output = model(x)  # 2. forward pass
        loss = criterion(output, target)  # 3. one scalar that measures the error
        loss.backward()  # 4. gradients of that scalar w.r.t. every parameter
        optimizer.step()  # 5. move the parameters against their gradients
        losses.append(loss.item())
    return losses
