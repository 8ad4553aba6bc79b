"""An export-time copy of the classifier whose last encoder layer computes the first token only.

The classification head reads nothing but the first position of the last layer, so that layer's query,
attention output and feed-forward work on the other positions is thrown away (about 1/12 of a 12-layer
model's compute). Keys and values still come from every position, so the result is the same; `pcc export`
checks it against the untouched model.
"""
from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F

# Architectures whose layers are BERT-style (attention.self/.output, intermediate, output) and whose
# sequence-classification heads read only the first token.
SUPPORTED_MODEL_TYPES = ("bert", "roberta", "xlm-roberta")
# The last layer's modules that run on position 0 only, by their names inside the layer.
FIRST_TOKEN_MODULES = ("attention.self.query", "attention.output.dense", "intermediate.dense", "output.dense")


class FirstTokenLayer(torch.nn.Module):
    """A BERT-style layer, with the same weights and module names, that returns only position 0."""

    def __init__(self, layer: torch.nn.Module):
        super().__init__()
        self.attention, self.intermediate, self.output = layer.attention, layer.intermediate, layer.output

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *_, **__):
        # The encoder also passes cross-attention and cache arguments; an encoder-only classifier has no use for them.
        attention = self.attention.self
        batch = hidden_states.shape[0]
        first = hidden_states[:, :1]

        def split_heads(states: torch.Tensor) -> torch.Tensor:
            return states.view(batch, -1, attention.num_attention_heads, attention.attention_head_size).transpose(1, 2)

        query = split_heads(attention.query(first))
        key, value = split_heads(attention.key(hidden_states)), split_heads(attention.value(hidden_states))
        # transformers passes a mask per query position (or one row to broadcast); position 0's row serves both.
        mask = None if attention_mask is None else attention_mask[:, :, :1]
        context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=attention.scaling)
        attention_output = self.attention.output(context.transpose(1, 2).reshape(batch, 1, -1), first)
        return self.output(self.intermediate(attention_output), attention_output)


def first_token_classifier(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with `FirstTokenLayer` as its last layer; `model` itself where that is unsupported."""
    if model.config.model_type not in SUPPORTED_MODEL_TYPES:
        warnings.warn(f"model type {model.config.model_type!r}: the last layer is exported for every position "
                      f"(first-token-only export supports {', '.join(SUPPORTED_MODEL_TYPES)})")
        return model
    trimmed = copy.deepcopy(model)
    layers = trimmed.base_model.encoder.layer
    layers[-1] = FirstTokenLayer(layers[-1])
    return trimmed
