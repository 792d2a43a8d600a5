#!/usr/bin/env python3
"""Parameter counts of examples/gpt2.nn (GPT-2 small/medium/large/xl and GPT-3 175B) and
examples/bert.nn (a BERT-base encoder with its masked-language-model head), built in PyTorch.

The models are written here by hand with torch.nn, laid out as OpenAI's GPT-2 and Google's
BERT checkpoints are (Hugging Face GPT2LMHeadModel, BertForMaskedLM): the language-model head
of each shares the token embedding's weight (tied), so PyTorch's parameters() yields it once.
They are built on the meta device: nothing proportional to the parameter count is allocated,
so GPT-3 is counted in a fraction of a second.

The counts are checked by test/report/transformer-counts.test; rerun this script
(/usr/bin/python3 scripts/reference_counts_transformers.py, needs torch) to regenerate them.
LayerNorm weight and bias count as parameters.
"""
import torch.nn as nn

META = {"device": "meta"}


class Block(nn.Module):
    """One GPT-2 block (pre-LN) or BERT layer (post-LN): the same parameters."""

    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, **META)
        self.c_attn = nn.Linear(d, 3 * d, **META)   # query, key and value projections
        self.c_proj = nn.Linear(d, d, **META)       # attention output projection
        self.ln_2 = nn.LayerNorm(d, **META)
        self.c_fc = nn.Linear(d, 4 * d, **META)
        self.mlp_proj = nn.Linear(4 * d, d, **META)


class GPT2(nn.Module):
    def __init__(self, layers, d, vocab=50257, context=1024):
        super().__init__()
        self.wte = nn.Embedding(vocab, d, **META)
        self.wpe = nn.Embedding(context, d, **META)
        self.h = nn.ModuleList(Block(d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, **META)
        self.lm_head = nn.Linear(d, vocab, bias=False, **META)
        self.lm_head.weight = self.wte.weight       # tied


class Bert(nn.Module):
    """BertForMaskedLM: embeddings (word, position, token type, LayerNorm), encoder, MLM head
    (dense + gelu + LayerNorm, decoder tied to the word embeddings with its own bias)."""

    def __init__(self, layers=12, d=768, vocab=30522, positions=512, types=2):
        super().__init__()
        self.word = nn.Embedding(vocab, d, **META)
        self.position = nn.Embedding(positions, d, **META)
        self.token_type = nn.Embedding(types, d, **META)
        self.ln = nn.LayerNorm(d, **META)
        self.layer = nn.ModuleList(Block(d) for _ in range(layers))
        self.transform = nn.Linear(d, d, **META)
        self.transform_ln = nn.LayerNorm(d, **META)
        self.decoder = nn.Linear(d, vocab, **META)
        self.decoder.weight = self.word.weight      # tied


def count(model):
    return sum(p.numel() for p in model.parameters())


MODELS = [
    ("gpt2-small", lambda: GPT2(12, 768)),
    ("gpt2-medium", lambda: GPT2(24, 1024)),
    ("gpt2-large", lambda: GPT2(36, 1280)),
    ("gpt2-xl", lambda: GPT2(48, 1600)),
    ("gpt3-175b", lambda: GPT2(96, 12288, context=2048)),
    ("bert-base-mlm", lambda: Bert()),
]

if __name__ == "__main__":
    for name, build in MODELS:
        print(f"# {name}: {count(build()):,}")
