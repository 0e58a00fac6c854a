"""Adam in a dozen lines, for a training run that must start in well under a second.

``torch.optim`` is the right tool almost everywhere, but building the first optimizer of a
process imports torch's compiler stack (``torch._dynamo``), which takes about a second on a
2-core machine: a tenth of the fast recipe's whole budget. :class:`LightAdam` is the same
update (Kingma & Ba's Adam, as ``torch.optim.Adam`` computes it, without weight decay or
AMSGrad) with the learning-rate schedule built in, applied by the fused kernel that
``torch.optim.Adam(fused=True)`` calls: one pass over each tensor instead of seven tensor-list
operations. ``tests/test_optim.py`` checks that it follows ``torch.optim.Adam`` with a
``LambdaLR`` step for step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch


def check_adam_args(params, lr, betas, eps) -> None:
    """Raise unless Adam's arguments are usable: some tensors to train, a positive finite
    ``lr``, two ``betas`` in [0, 1) and a non-negative ``eps``."""
    if not params or not all(isinstance(p, torch.Tensor) for p in params):
        raise ValueError("params must hold at least one tensor that requires grad")
    for value, name in ((lr, "lr"), (eps, "eps")):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be 0 or more, got {eps!r}")
    if (
        not isinstance(betas, (tuple, list))
        or len(betas) != 2
        or not all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
            for b in betas
        )
    ):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")


class LightAdam:
    """Adam whose learning rate at step ``s`` (counting from 0) is ``lr * schedule(s)``.

    ``param_groups[0]["lr"]`` is the rate the next step will use, as with ``torch.optim``
    and a ``LambdaLR`` that is stepped after each optimizer step.

    >>> import torch
    >>> from chapter3.adder.optim import LightAdam
    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> opt = LightAdam([w], lr=0.1)
    >>> (w**2).sum().backward(); opt.step()
    >>> w.data  # Adam's first step moves each weight by lr, against its gradient's sign
    tensor([ 0.9000, -1.9000])
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        check_adam_args(self.params, lr, betas, eps)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.schedule = schedule or (lambda step: 1.0)
        self.m = [torch.zeros_like(p) for p in self.params]  # mean of the gradients
        self.v = [torch.zeros_like(p) for p in self.params]  # mean of their squares
        self.t = 0  # steps taken
        self._t = torch.zeros((), device=self.params[0].device if self.params else None)
        self.param_groups = [{"lr": lr * self.schedule(0)}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (``set_to_none`` is accepted for torch's signature)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        lr = self.lr * self.schedule(self.t)
        self.t += 1
        self.param_groups[0]["lr"] = self.lr * self.schedule(self.t)
        have_grad = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not have_grad:
            return
        params = [self.params[i] for i in have_grad]
        m, v = [self.m[i] for i in have_grad], [self.v[i] for i in have_grad]
        grads = [p.grad for p in params]
        beta1, beta2 = self.betas
        self._t.fill_(self.t)  # bias corrections 1 - β^t, read by the kernel
        # m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;
        # w ← w - lr / (1-β1^t) · m / (√v / √(1-β2^t) + ε), one pass over each tensor
        torch._fused_adam_(
            params,
            grads,
            m,
            v,
            [],  # no AMSGrad maxima
            [self._t] * len(params),
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )


@torch.no_grad()
def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale ``grads`` in place so that their joint 2-norm is at most ``max_norm``; returns
    the norm before clipping.

    The arithmetic of :func:`torch.nn.utils.clip_grad_norm_` on CPU, operation for operation
    (so the result is the same to the bit), for a list of gradients gathered once: torch's
    function walks ``model.parameters()`` and groups the tensors by device on every call,
    which costs more than the clipping itself for a model of 46k parameters.

    >>> import torch
    >>> from chapter3.adder.optim import clip_grad_norm
    >>> g = [torch.tensor([3.0]), torch.tensor([4.0])]
    >>> clip_grad_norm(g, max_norm=1.0), g
    (tensor(5.), [tensor([0.6000]), tensor([0.8000])])
    """
    norms = torch._foreach_norm(grads, 2.0)  # one () tensor per gradient
    total_norm = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    clip_coef = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    torch._foreach_mul_(grads, clip_coef)
    return total_norm


__all__ = ["LightAdam", "clip_grad_norm"]
