#!/usr/bin/python3
"""Our own small PyTorch reference of the MiniMind2 dense architecture, for side-by-side benchmarks.

Written from the fixture README's description (not copied from MiniMind): RMSNorm, rotate-half RoPE (theta 1e6),
GQA via repeat_kv, SwiGLU, tied lm_head, masked CE, clip 1.0, AdamW(lr 5e-4, wd 0.01). Generation is greedy with a
KV cache the way MiniMind does it: the cache grows by cat and the whole model is called once per token.
Attention is the explicit softmax path (torch 1.13 has no scaled_dot_product_attention).

  minimind_ref.py check    --set DIR                 load DIR/<name>.pth, compare logits with DIR/logits_eval.bin
  minimind_ref.py generate --config C.json --threads N [--prompt-len 16] [--new-tokens 64] [--reps 5]
  minimind_ref.py train    --config C.json --threads N [--batch 4] [--seq-len 256] [--steps 10] [--warmup 2]
Each verb prints one JSON line.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, d):
        self.hidden = d["hidden_size"]
        self.layers = d["num_hidden_layers"]
        self.heads = d.get("num_attention_heads", 8)
        self.kv_heads = d.get("num_key_value_heads", 2)
        self.vocab = d.get("vocab_size", 6400)
        self.eps = d.get("rms_norm_eps", 1e-5)
        self.theta = d.get("rope_theta", 1e6)
        self.max_pos = d.get("max_position_embeddings", 32768)
        inter = d.get("intermediate_size")
        self.ffn = inter if inter else 64 * ((int(self.hidden * 8 / 3) + 63) // 64)
        self.head_dim = self.hidden // self.heads
        if d.get("use_moe", False):
            raise SystemExit("minimind_ref.py: MoE is not implemented in this reference")


class Norm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x)


def rope_tables(head_dim, end, theta):
    inv = 1.0 / theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim)
    angles = torch.outer(torch.arange(end).float(), inv)                     # (end, hd/2)
    return torch.cat([angles.cos(), angles.cos()], -1), torch.cat([angles.sin(), angles.sin()], -1)


def rotate(x, cos, sin):                                                     # x (B, T, heads, hd), cos (T, hd)
    half = x.shape[-1] // 2
    turned = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos.unsqueeze(1) + turned * sin.unsqueeze(1)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.hidden, c.heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.heads * c.head_dim, c.hidden, bias=False)

    def forward(self, x, cos, sin, past):
        c = self.c
        B, T, _ = x.shape
        q = rotate(self.q_proj(x).view(B, T, c.heads, c.head_dim), cos, sin)
        k = rotate(self.k_proj(x).view(B, T, c.kv_heads, c.head_dim), cos, sin)
        v = self.v_proj(x).view(B, T, c.kv_heads, c.head_dim)
        if past is not None:
            k = torch.cat([past[0], k], 1)
            v = torch.cat([past[1], v], 1)
        present = (k, v)
        rep = c.heads // c.kv_heads
        Tk = k.shape[1]
        k = k[:, :, :, None, :].expand(B, Tk, c.kv_heads, rep, c.head_dim).reshape(B, Tk, c.heads, c.head_dim)
        v = v[:, :, :, None, :].expand(B, Tk, c.kv_heads, rep, c.head_dim).reshape(B, Tk, c.heads, c.head_dim)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)    # (B, nh, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(c.head_dim)
        scores = scores + torch.full((T, Tk), float("-inf")).triu(Tk - T + 1)
        y = F.softmax(scores.float(), dim=-1).type_as(q) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1)), present


class SwiGLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden, c.ffn, bias=False)
        self.down_proj = nn.Linear(c.ffn, c.hidden, bias=False)
        self.up_proj = nn.Linear(c.hidden, c.ffn, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = SelfAttention(c)
        self.input_layernorm = Norm(c.hidden, c.eps)
        self.post_attention_layernorm = Norm(c.hidden, c.eps)
        self.mlp = SwiGLU(c)

    def forward(self, x, cos, sin, past):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, past)
        h = x + a
        return h + self.mlp(self.post_attention_layernorm(h)), present


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab, c.hidden)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.layers)])
        self.norm = Norm(c.hidden, c.eps)


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = Backbone(c)
        self.lm_head = nn.Linear(c.hidden, c.vocab, bias=False)
        self.model.embed_tokens.weight = self.lm_head.weight                  # tied (fixture README item 1)
        cos, sin = rope_tables(c.head_dim, c.max_pos, c.theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, ids, past=None):
        start = 0 if past is None else past[0][0].shape[1]
        T = ids.shape[1]
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]
        h = self.model.embed_tokens(ids)
        presents = []
        for i, layer in enumerate(self.model.layers):
            h, p = layer(h, cos, sin, None if past is None else past[i])
            presents.append(p)
        return self.lm_head(self.model.norm(h)), presents


def check(args):
    d = args.set
    name = os.path.basename(os.path.normpath(d))
    c = Config(json.load(open(os.path.join(d, "config.json"))))
    model = LM(c)
    model.load_state_dict(torch.load(os.path.join(d, name + ".pth")), strict=True)
    model.eval()
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    shapes = {t["name"]: t["shape"] for t in manifest["tensors"]}

    def load(tname, dtype):
        return torch.from_file(os.path.join(d, tname + ".bin"), size=math.prod(shapes[tname]), dtype=dtype).view(shapes[tname])
    ids = load("input_ids", torch.int64)
    with torch.no_grad():
        logits, _ = model(ids)
    diff = (logits - load("logits_eval", torch.float32)).abs().max().item()
    expected = load("gen_tokens_cache", torch.int64).view(-1).tolist()
    tokens = greedy(model, load("gen_prompt", torch.int64).view(1, -1), len(expected))
    ok = diff <= 1e-4 and tokens == expected
    print(json.dumps({"check": name, "max_abs_diff_logits_eval": diff, "gen_tokens_cache_equal": tokens == expected, "ok": ok}))
    return 0 if ok else 1


def greedy(model, prompt, new_tokens):
    """MiniMind-style KV-cache decoding: prefill, then the whole model on one token per step (cat-grown cache)."""
    with torch.no_grad():
        logits, past = model(prompt)
        out = []
        for i in range(new_tokens):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt.item())
            if i + 1 == new_tokens:
                break
            logits, past = model(nxt, past)
    return out


def build(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    return LM(Config(json.load(open(args.config))))


def generate(args):
    model = build(args).eval()
    c = Config(json.load(open(args.config)))
    g = torch.Generator().manual_seed(7)
    prompt = torch.randint(3, c.vocab, (1, args.prompt_len), generator=g)

    def run():
        return greedy(model, prompt, args.new_tokens)

    run()
    rates = []
    for _ in range(args.reps):
        t = time.perf_counter()
        n = len(run())
        rates.append(n / (time.perf_counter() - t))
    rates.sort()
    print(json.dumps({"bench": "generate", "impl": "pytorch", "torch": torch.__version__, "blas": args.blas, "threads": args.threads,
                      "tokens_per_second": round(rates[len(rates) // 2], 1)}))


def train(args):
    model = build(args).train()
    c = Config(json.load(open(args.config)))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(42)
    data = torch.randint(0, c.vocab, (4, args.batch, args.seq_len + 1), generator=g)
    times, losses = [], []
    for step in range(args.warmup + args.steps):
        t = time.perf_counter()
        x, y = data[step % 4, :, :-1], data[step % 4, :, 1:]
        mask = torch.ones_like(y, dtype=torch.float32)
        logits, _ = model(x)
        ce = F.cross_entropy(logits.view(-1, c.vocab), y.reshape(-1), reduction="none").view(y.shape)
        loss = (ce * mask).sum() / mask.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step >= args.warmup:
            times.append(time.perf_counter() - t)
    times.sort()
    ms = times[len(times) // 2] * 1000
    print(json.dumps({"bench": "train", "impl": "pytorch", "torch": torch.__version__, "blas": args.blas, "threads": args.threads,
                      "ms_per_step": round(ms, 1), "tokens_per_second": round(args.batch * args.seq_len / ms * 1000, 1),
                      "loss_first": losses[0], "loss_last": losses[-1],
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def blas_library():
    """The BLAS library torch's matmuls run on (Debian's torch links libblas.so.3, which update-alternatives points at
    OpenBLAS or at the netlib reference)."""
    torch.ones(8, 8) @ torch.ones(8, 8)
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line.lower()}
    return sorted(p for p in paths if p.startswith("/"))


def require_fast_blas():
    """Refuses to time anything on the netlib reference BLAS (libblas3 alone): its GEMM runs ~20x slower than
    OpenBLAS's, and a ratio against it says nothing about PyTorch."""
    libs = blas_library()
    if any("/blas/libblas.so" in p for p in libs) and not any("openblas" in p or "blis" in p or "mkl" in p for p in libs):
        sys.stderr.write("torch runs on the netlib reference BLAS (" + ", ".join(libs) + "): install Debian's "
                         "libopenblas0-pthread (apt-get install libopenblas0-pthread) so that the PyTorch reference "
                         "is timed on the BLAS its users have\n")
        raise SystemExit(3)
    return libs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("verb", choices=["check", "generate", "train"])
    p.add_argument("--set")
    p.add_argument("--config")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    if args.verb != "check":
        args.blas = require_fast_blas()
    return {"check": check, "generate": generate, "train": train}[args.verb](args) or 0


if __name__ == "__main__":
    raise SystemExit(main())
