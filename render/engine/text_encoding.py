"""Text embeddings: the prompt cache, and batch-invariant text encoding.

A text's embedding never depends on which other texts were encoded alongside it or on whether it came from
the prompt cache: a batch's new texts share one text-encoder call only when `make_batch_invariant` has
checked, at load, that this gives every text exactly the bits it gets alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True, slots=True)
class TextEmbedding:
    """One text's encoder output, batch dimension 1. `pooled` is SDXL's pooled projection, else None."""

    hidden: torch.Tensor
    pooled: torch.Tensor | None = None


@dataclass(frozen=True, slots=True)
class PromptCacheInfo:
    hits: int
    misses: int
    size: int
    capacity: int


class PromptEmbeddingCache:
    """LRU of text-encoder outputs keyed by (model, text). Not thread-safe: one per single-threaded engine."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], TextEmbedding] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> TextEmbedding | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, str], value: TextEmbedding) -> None:
        if self.capacity <= 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def info(self) -> PromptCacheInfo:
        return PromptCacheInfo(self.hits, self.misses, len(self._entries), self.capacity)


# Probe texts for `make_batch_invariant`: an odd count, short and long (one past CLIP's 77 tokens, so
# truncated), and one with bytes outside the tiny vocabulary's merges.
INVARIANCE_PROBES: tuple[str, ...] = (
    "",
    "a photo of a happy customer holding a coffee cup in a bright modern kitchen, soft morning light",
    "portrait",
    "Grüße aus 東京, 100% fresh!",
    " ".join(["the city skyline at sunset"] * 20),
)

# Activation modules whose kernels use transcendental functions (vectorised body, scalar tail).
ACTIVATION_TYPES: tuple[type[torch.nn.Module], ...] = (
    torch.nn.GELU,
    torch.nn.SiLU,
    torch.nn.Sigmoid,
    torch.nn.Tanh,
    torch.nn.Mish,
)


class RowWise(torch.nn.Module):
    """Apply an elementwise module to each batch row on its own, so a row's bits do not depend on where the
    batch's tensor ends (see `make_batch_invariant`). A batch of one is passed through as is."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:
            return self.inner(x)
        return torch.stack([self.inner(row) for row in x])


def wrap_activations_row_wise(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.nn.Module]]:
    """Wrap every activation module in `model` in RowWise; returns (parent, name, original) to undo it."""
    wrapped: list[tuple[torch.nn.Module, str, torch.nn.Module]] = []
    for parent in list(model.modules()):
        if isinstance(parent, RowWise):
            continue  # its inner module is the one already wrapped
        for name, child in list(parent.named_children()):
            is_activation = isinstance(child, ACTIVATION_TYPES) or type(child).__module__ == (
                "transformers.activations"
            )
            if is_activation and not isinstance(child, RowWise):
                setattr(parent, name, RowWise(child))
                wrapped.append((parent, name, child))
    return wrapped


def pooled(embedding: TextEmbedding) -> torch.Tensor:
    if embedding.pooled is None:
        raise RuntimeError("SDXL text embedding without its pooled projection")
    return embedding.pooled


def zeros_like(embedding: TextEmbedding) -> TextEmbedding:
    pooled = None if embedding.pooled is None else torch.zeros_like(embedding.pooled)
    return TextEmbedding(hidden=torch.zeros_like(embedding.hidden), pooled=pooled)


def make_batch_invariant(
    encoder: torch.nn.Module,
    encode_one: Callable[[str], torch.Tensor],
    encode_batch: Callable[[list[str]], torch.Tensor],
) -> bool:
    """Make the text encoder batch-invariant if it can be, and say whether it is: whether encoding texts
    together (`encode_batch`) gives each one exactly the bits it gets alone (`encode_one`), so that an
    embedding cannot depend on its companions (Thinking Machines, "Defeating Nondeterminism in LLM
    Inference", 2025: batch invariance).

    Matmuls and SDPA compute each row alike whatever the batch on this CPU, but ATen's vectorised
    elementwise kernels (quick_gelu's sigmoid) finish a tensor's last few elements (less than two vector
    widths) in scalar code whose exp rounds differently, so an element's bits depend on where the tensor
    ends; the MLP activations are therefore applied row by row (`RowWise`), which gives each text the tensor
    it has alone. Whether that suffices is not assumed but measured here on probe texts of different
    lengths, alone against batched in two orders; where it does not hold (other kernels, cuBLAS choosing
    algorithms by batch size), the wrapping is undone and texts are encoded one per call.
    """
    wrapped = wrap_activations_row_wise(encoder)
    with torch.inference_mode():
        alone = torch.cat([encode_one(text) for text in INVARIANCE_PROBES])
        together = encode_batch(list(INVARIANCE_PROBES))
        reverse = encode_batch(list(reversed(INVARIANCE_PROBES))).flip(0)
    invariant = torch.equal(alone, together) and torch.equal(alone, reverse)
    if not invariant:
        for parent, name, original in wrapped:
            setattr(parent, name, original)
    return invariant
