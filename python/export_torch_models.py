#!/usr/bin/python3
"""Exports small, seeded PyTorch models with torch.onnx.export, for checking Squeeze against torch.

usage: export_torch_models.py OUT_DIR MODEL [MODEL ...] [--opset N ...]

MODEL is one of gpt2, llama, bert, encoder (or all). For every model and opset (default: 14
and 17) it writes OUT_DIR/<model>_opset<N>/:
  model.onnx          torch.onnx.export of the model, batch and sequence dims dynamic
  <input>.npy         the inputs (int64 ids, masks, positions)
  <output>.ref.npy    torch's outputs for those inputs, computed in float64 (train mode; no
                      model has active dropout), stored as float32
  shapes.txt          the --input-shape arguments for sqz-compile (one line)
  inputs.txt          the --input/--expect arguments for sqz-run (one line, relative paths)
  alt/                the same files (not model.onnx) for another shape than the traced 2x8:
                      batch row 1, first 6 tokens (1x6)
and prints one line per export. Deterministic: the same files on every run (fixed seeds,
weights randomized so LayerNorm/RMSNorm scales are not all ones).

The models (d=64, 4 heads, seq 8, vocab 100):
  gpt2   GPT-2 style: token + position embeddings, 3 pre-LN blocks (LayerNorm, fused c_attn
         split into q/k/v, causal self-attention, GELU, residuals), final LayerNorm, lm head tied
         to the token embedding. Blocks 0 and 2 are nanoGPT (nn.Linear, a registered tril buffer
         and masked_fill(-inf); nn.GELU tanh / erf), block 1 is Hugging Face GPT-2 (Conv1D via
         addmm, torch.where(bool tril, scores, finfo.min), NewGELU tanh written out with pow).
  llama  LLaMA style: 2 decoder layers, RMSNorm written out (pow/mean/rsqrt), RoPE rotate-half
         with cos/sin caches gathered by a position_ids input, SwiGLU MLP, GQA (4 q heads, 2 kv
         heads) with repeat_kv (expand + reshape), causal mask from triu(full(-inf)) in layer 0
         and Hugging Face's finfo.min + masked_fill(arange < arange + 1) in layer 1.
  bert   BERT style: word + token type + position embeddings, LayerNorm, 2 post-LN encoder
         layers with bidirectional attention and an attention_mask input ((1 - mask) * finfo.min),
         GELU erf, a tanh pooler over the first token.
  encoder  torch.nn.TransformerEncoder (2 post-LN layers, GELU, a bool src_key_padding_mask input)
         followed by a pre-LN nn.TransformerEncoderLayer with a causal float src_mask:
         nn.MultiheadAttention's packed in-projection.
Run with Debian's python3 (/usr/bin/python3: torch 1.13, onnx 1.12).
"""

import argparse
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

D, HEADS, SEQ, VOCAB, MAXPOS = 64, 4, 8, 100, 32
ALT_SEQ = 6
HEAD_DIM = D // HEADS


def randomize_norms(model, gen):
    """Gives every LayerNorm/RMSNorm weight (and bias) random values around 1 (0)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name or "norm" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))


# --------------------------------------------------------------------------- GPT-2

class Conv1D(nn.Module):
    """Hugging Face GPT-2's Conv1D: a linear layer with the weight stored [in, out], via addmm."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.1)
        self.bias = nn.Parameter(torch.randn(nf) * 0.1)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def new_gelu(x):
    """GELU tanh written out, as in Hugging Face's NewGELUActivation."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    """hf=False: nanoGPT (nn.Linear, masked_fill(-inf)); hf=True: Hugging Face GPT-2 (Conv1D,
    torch.where(causal, scores, finfo.min))."""

    def __init__(self, hf):
        super().__init__()
        self.hf = hf
        self.c_attn = Conv1D(3 * D, D) if hf else nn.Linear(D, 3 * D)
        self.c_proj = Conv1D(D, D) if hf else nn.Linear(D, D)
        bias = torch.tril(torch.ones(MAXPOS, MAXPOS))
        self.register_buffer("bias", (bias.bool() if hf else bias).view(1, 1, MAXPOS, MAXPOS))

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(D, dim=2)
        q = q.view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        k = k.view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        v = v.view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        if self.hf:
            att = torch.matmul(q, k.transpose(-1, -2)) / torch.full(
                [], v.size(-1) ** 0.5, dtype=q.dtype)
            causal = self.bias[:, :, t - t:t, :t]
            min_value = torch.full([], torch.finfo(att.dtype).min, dtype=att.dtype)
            att = torch.where(causal, att.to(att.dtype), min_value)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class GPT2Block(nn.Module):
    def __init__(self, gelu, hf=False):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D)
        self.attn = GPT2Attention(hf)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = Conv1D(4 * D, D) if hf else nn.Linear(D, 4 * D)
        self.gelu = new_gelu if gelu == "new" else nn.GELU(approximate=gelu)
        self.mlp_proj = Conv1D(D, 4 * D) if hf else nn.Linear(4 * D, D)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_proj(self.gelu(self.c_fc(self.ln_2(x))))


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D)
        self.wpe = nn.Embedding(MAXPOS, D)
        self.h = nn.ModuleList([GPT2Block("tanh"), GPT2Block("new", hf=True), GPT2Block("none")])
        self.ln_f = nn.LayerNorm(D)
        self.lm_head = nn.Linear(D, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight  # tied

    def forward(self, input_ids):
        t = input_ids.size(1)
        pos = torch.arange(0, t, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def gpt2_case(gen):
    ids = torch.randint(0, VOCAB, (2, SEQ), generator=gen)
    return GPT2(), {"input_ids": ids}, ["logits"]


# --------------------------------------------------------------------------- LLaMA

KV_HEADS, FFN, EPS = 2, 128, 1e-5


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + EPS))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, h, s, d = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(b, h, n_rep, s, d)
    return x.reshape(b, h * n_rep, s, d)


class LlamaAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(D, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(D, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(D, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, D, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(x).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(x).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, HEADS // KV_HEADS)
        v = repeat_kv(v, HEADS // KV_HEADS)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HEAD_DIM) + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        y = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM)
        return self.o_proj(y)


class LlamaLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RMSNorm()
        self.self_attn = LlamaAttention()
        self.post_attention_layernorm = RMSNorm()
        self.gate_proj = nn.Linear(D, FFN, bias=False)
        self.up_proj = nn.Linear(D, FFN, bias=False)
        self.down_proj = nn.Linear(FFN, D, bias=False)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, D)
        self.layers = nn.ModuleList([LlamaLayer(), LlamaLayer()])
        self.norm = RMSNorm()
        self.lm_head = nn.Linear(D, VOCAB, bias=False)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
        freqs = torch.outer(torch.arange(MAXPOS).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos())
        self.register_buffer("sin_cached", emb.sin())

    def forward(self, input_ids, position_ids):
        s = input_ids.shape[1]
        x = self.embed_tokens(input_ids)
        cos = self.cos_cached[position_ids].unsqueeze(1).to(x.dtype)  # [B, 1, S, HEAD_DIM]
        sin = self.sin_cached[position_ids].unsqueeze(1).to(x.dtype)
        # Layer 0: triu(full(-inf)); layer 1: Hugging Face's finfo.min mask built with masked_fill.
        mask0 = torch.triu(torch.full((s, s), float("-inf"), dtype=x.dtype), diagonal=1)
        mask1 = torch.full((s, s), torch.finfo(x.dtype).min, dtype=x.dtype)
        cond = torch.arange(mask1.size(-1))
        mask1.masked_fill_(cond < (cond + 1).view(mask1.size(-1), 1), 0)
        masks = [mask0[None, None, :, :], mask1[None, None, :, :].expand(x.size(0), 1, s, s)]
        for layer, mask in zip(self.layers, masks):
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def llama_case(gen):
    ids = torch.randint(0, VOCAB, (2, SEQ), generator=gen)
    pos = torch.arange(SEQ).unsqueeze(0) + torch.tensor([[0], [3]])  # second row: offset 3
    return Llama(), {"input_ids": ids, "position_ids": pos}, ["logits"]


# --------------------------------------------------------------------------- BERT

TYPES, BERT_EPS = 2, 1e-12


class BertLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(D, D)
        self.key = nn.Linear(D, D)
        self.value = nn.Linear(D, D)
        self.attn_out = nn.Linear(D, D)
        self.attn_norm = nn.LayerNorm(D, eps=BERT_EPS)
        self.intermediate = nn.Linear(D, 4 * D)
        self.output = nn.Linear(4 * D, D)
        self.out_norm = nn.LayerNorm(D, eps=BERT_EPS)

    def heads(self, x):
        b, s, _ = x.size()
        return x.view(b, s, HEADS, HEAD_DIM).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HEAD_DIM) + ext_mask
        probs = nn.functional.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(ctx.size()[:-2] + (D,))
        x = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.output(F.gelu(self.intermediate(x))) + x)


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, D)
        self.position_embeddings = nn.Embedding(MAXPOS, D)
        self.token_type_embeddings = nn.Embedding(TYPES, D)
        self.emb_norm = nn.LayerNorm(D, eps=BERT_EPS)
        self.register_buffer("position_ids", torch.arange(MAXPOS).expand((1, -1)))
        self.layers = nn.ModuleList([BertLayer(), BertLayer()])
        self.pooler = nn.Linear(D, D)

    def forward(self, input_ids, token_type_ids, attention_mask):
        s = input_ids.size(1)
        pos = self.position_ids[:, :s]
        x = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
             + self.position_embeddings(pos))
        x = self.emb_norm(x)
        ext = attention_mask[:, None, None, :].to(dtype=x.dtype)
        ext = (1.0 - ext) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, ext)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, pooled


def bert_case(gen):
    ids = torch.randint(0, VOCAB, (2, SEQ), generator=gen)
    types = torch.tensor([[0] * 4 + [1] * 4, [0] * 6 + [1] * 2])
    mask = torch.tensor([[1] * SEQ, [1] * 5 + [0] * 3])  # second row: 3 padding tokens
    return Bert(), {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}, \
        ["last_hidden_state", "pooler_output"]


# --------------------------------------------------------------------------- nn.TransformerEncoder

class TorchEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)
        layer = nn.TransformerEncoderLayer(D, HEADS, 2 * D, dropout=0.0, activation="gelu",
                                           batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.causal = nn.TransformerEncoderLayer(D, HEADS, 2 * D, dropout=0.0, batch_first=True,
                                                 norm_first=True)

    def forward(self, input_ids, padding_mask):
        x = self.enc(self.emb(input_ids), src_key_padding_mask=padding_mask)
        s = input_ids.size(1)
        return self.causal(x, src_mask=torch.triu(torch.full((s, s), float("-inf")), diagonal=1))


def encoder_case(gen):
    ids = torch.randint(0, VOCAB, (2, SEQ), generator=gen)
    pad = torch.tensor([[False] * SEQ, [False] * 5 + [True] * 3])
    return TorchEncoder(), {"input_ids": ids, "padding_mask": pad}, ["y"]


CASES = {"gpt2": gpt2_case, "llama": llama_case, "bert": bert_case, "encoder": encoder_case}


def write_case(d, model, inputs, output_names):
    """Writes the inputs, model's float64 outputs and the sqz-compile/sqz-run arguments into d.
    Returns the largest |float32 torch - float64 torch| over the outputs."""
    os.makedirs(d, exist_ok=True)
    args = tuple(inputs.values())
    # Train mode (all dropouts are 0): in eval mode nn.TransformerEncoder takes its nested-tensor
    # fast path, which zeroes padded positions; the exported graph (and training) does not.
    with torch.no_grad():
        f32 = model.float().train()(*args)
        ref = model.double().train()(*args)
    f32 = f32 if isinstance(f32, tuple) else (f32,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    run_args = []
    for n, t in inputs.items():
        np.save(os.path.join(d, n + ".npy"), t.numpy())
        run_args.append("--input %s=%s.npy" % (n, n))
    for n, t in zip(output_names, ref):
        np.save(os.path.join(d, n + ".ref.npy"), t.numpy().astype(np.float32))
        run_args.append("--expect %s=%s.ref.npy" % (n, n))
    with open(os.path.join(d, "shapes.txt"), "w") as f:
        f.write(" ".join("--input-shape %s=%s" % (n, "x".join(map(str, t.shape)))
                         for n, t in inputs.items()) + "\n")
    with open(os.path.join(d, "inputs.txt"), "w") as f:
        f.write(" ".join(run_args) + "\n")
    return max(float((a.double() - b).abs().max()) for a, b in zip(f32, ref))


def export(name, opset, out_dir):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    model, inputs, output_names = CASES[name](gen)
    randomize_norms(model, gen)
    model.eval()
    d = os.path.join(out_dir, "%s_opset%d" % (name, opset))
    os.makedirs(d, exist_ok=True)
    names = list(inputs)
    dyn = {n: {0: "batch", 1: "seq"} for n in names}
    # Not under no_grad: with grad disabled nn.TransformerEncoder takes its fast path (nested
    # tensors), which torch 1.13 cannot export.
    torch.onnx.export(model, tuple(inputs.values()), os.path.join(d, "model.onnx"),
                      opset_version=opset, input_names=names, output_names=output_names,
                      dynamic_axes=dyn, do_constant_folding=True)
    err = write_case(d, model, inputs, output_names)
    # The same model pinned to another shape than the traced one: batch row 1, first 6 tokens.
    alt = {n: t[1:2, :ALT_SEQ].contiguous() for n, t in inputs.items()}
    err_alt = write_case(os.path.join(d, "alt"), model, alt, output_names)
    print("exported %s opset %d -> %s (torch float32 vs float64: max abs %.2e, alt %.2e)"
          % (name, opset, d, err, err_alt))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("models", nargs="+", choices=sorted(CASES) + ["all"])
    p.add_argument("--opset", type=int, action="append")
    a = p.parse_args()
    models = sorted(CASES) if "all" in a.models else a.models
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    for name in models:
        for opset in a.opset or [14, 17]:
            export(name, opset, a.out_dir)


if __name__ == "__main__":
    sys.exit(main())
