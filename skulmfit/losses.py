"""Cross-entropy over a linear decoder, computed in row chunks.

A language model's decoder turns ``N`` hidden states into ``N x V`` logits. On a CPU the plain
``F.cross_entropy(decoder(h), y)`` spends most of a training step streaming that large logits
tensor (and its gradient) through memory several times. :func:`linear_cross_entropy` computes
the same mean loss chunk by chunk, so each block of logits stays in cache: the softmax, the loss
and the three gradients of a chunk are formed while it is hot, and the full logits tensor never
exists. The result equals the plain computation up to floating-point rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``h @ weight.T + bias`` against ``target``, gradients formed in forward."""

    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
                chunk_size: int) -> Tensor:
        n = h.size(0)
        need_grad = any(ctx.needs_input_grad[:3])
        total = h.new_zeros((), dtype=torch.float64)
        grad_h = torch.empty_like(h) if ctx.needs_input_grad[0] else None
        grad_w = torch.zeros_like(weight) if ctx.needs_input_grad[1] else None
        grad_b = torch.zeros_like(bias) if bias is not None and ctx.needs_input_grad[2] else None
        for start in range(0, n, chunk_size):
            h_c = h[start:start + chunk_size]
            t_c = target[start:start + chunk_size]
            logits = h_c @ weight.t()
            if bias is not None:
                logits += bias
            lse = torch.logsumexp(logits, dim=1)
            picked = logits.gather(1, t_c[:, None]).squeeze(1)
            total += (lse - picked).sum(dtype=torch.float64)
            if not need_grad:
                continue
            # d(mean loss)/d(logits) = (softmax - onehot) / n, formed in place
            probs = logits.sub_(lse[:, None]).exp_()
            probs[torch.arange(len(t_c), device=h.device), t_c] -= 1.0
            probs.div_(n)
            if grad_h is not None:
                torch.mm(probs, weight, out=grad_h[start:start + chunk_size])
            if grad_w is not None:
                grad_w.addmm_(probs.t(), h_c)
            if grad_b is not None:
                grad_b += probs.sum(0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        return (total / n).to(h.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        grad_h, grad_w, grad_b = (None if g is None else g * grad_out for g in ctx.saved_tensors)
        return grad_h, grad_w, grad_b, None, None


def linear_cross_entropy(h: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
                         chunk_size: int = 256) -> Tensor:
    """Mean cross-entropy of the logits ``h @ weight.T + bias`` against ``target``.

    Equal to ``F.cross_entropy(F.linear(h, weight, bias), target)`` up to rounding, without
    ever materialising the ``(N, V)`` logits.

    Parameters
    ----------
    h : Tensor of shape (N, D)
        Decoder inputs (float32).
    weight : Tensor of shape (V, D)
        Decoder weight (tied to the embedding in an AWD-LSTM).
    bias : Tensor of shape (V,) or None
        Decoder bias.
    target : LongTensor of shape (N,)
        Target ids in ``[0, V)``.
    chunk_size : int, default=256
        Rows per chunk; ``chunk_size * V`` floats should fit in cache.

    Returns
    -------
    loss : scalar Tensor
        The mean cross-entropy, differentiable with respect to ``h``, ``weight`` and ``bias``.

    Notes
    -----
    The gradients are formed during the forward pass (the loss must be the scalar that is
    back-propagated, possibly scaled or added to other terms), so a forward pass with gradients
    enabled costs about as much as forward plus backward of the plain computation.
    """
    if h.dim() != 2 or target.dim() != 1 or h.size(0) != target.size(0):
        raise ValueError(f"expected h (N, D) and target (N,), got {tuple(h.shape)} and {tuple(target.shape)}")
    if h.size(0) == 0:
        raise ValueError("linear_cross_entropy needs at least one row")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return _LinearCrossEntropy.apply(h, weight, bias, target, int(chunk_size))
