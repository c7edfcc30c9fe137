#!/usr/bin/python3
"""Our own small PyTorch reference of the MiniMind2 dense architecture, for side-by-side benchmarks.

Written from the fixture README's description (not copied from MiniMind): RMSNorm, rotate-half RoPE (theta 1e6),
GQA via repeat_kv, SwiGLU, tied lm_head, masked CE, clip 1.0, AdamW(lr 5e-4, wd 0.01). Generation is greedy with a
KV cache the way MiniMind does it: the cache grows by cat and the whole model is called once per token.
Attention is the explicit softmax path (torch 1.13 has no scaled_dot_product_attention).

  minimind_ref.py check    --set DIR                 load DIR/<name>.pth, compare logits with DIR/logits_eval.bin
  minimind_ref.py generate --config C.json --threads N [--prompt-len 16] [--new-tokens 64] [--reps 5]
  minimind_ref.py train    --config C.json --threads N [--batch 4] [--seq-len 256] [--steps 10] [--warmup 2]
  minimind_ref.py grpo     --config C.json --threads N --weights W.pth --prompts P.json [--generations 4] [--max-gen-len 24]
                           [--accumulation 4] [--steps 4]
Each verb prints one JSON line.

grpo is a single-process GRPO/CISPO loop in the shape of MiniMind's train_grpo.py (our own code, for timing): per
micro-batch, roll out G completions per prompt with the current policy (KV cache; temperature 0.8, top-k 50, top-p 0.85;
log-probs of the sampled tokens recorded), score them, then the learner: policy forward with grad and frozen-reference
forward on prompt | completion rows, group-normalised advantages, the eos-truncated mask, k3 KL, the CISPO loss,
backward; AdamW (clip 1.0) after every --accumulation micro-batches. P.json holds the prompts' token ids, one list per
micro-batch per step ([[[ids], ...], ...] by step then micro-batch); EOS is id 2. Each group is generated as its own
batch of G rows (no left padding: this reference has no attention mask). The reward is a stand-in on the completion's
token count (no tokenizer here): scoring is a negligible share either way and is timed apart from the learner.
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


def sample(logits, g, temperature=0.8, top_k=50, top_p=0.85):
    """One token per row from temperature-scaled logits, top-k then nucleus filtered; returns (tokens, untempered log-probs)."""
    scaled = logits / temperature
    kth = torch.topk(scaled, min(top_k, scaled.shape[-1]), dim=-1).values[:, -1:]
    scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    ordered, index = torch.sort(scaled, descending=True, dim=-1)
    cumulative = F.softmax(ordered, dim=-1).cumsum(-1)
    drop = cumulative > top_p
    drop[:, 1:] = drop[:, :-1].clone()
    drop[:, 0] = False
    scaled = scaled.scatter(1, index, ordered.masked_fill(drop, float("-inf")))
    nxt = torch.multinomial(F.softmax(scaled, dim=-1), 1, generator=g)           # (G, 1)
    return nxt, F.log_softmax(logits, dim=-1).gather(1, nxt).squeeze(1)


def rollout(model, prompt, generations, max_new, g, eos=2):
    """A group: G rows of the same prompt, sampled with the KV cache until every row emitted EOS (then EOS-filled)."""
    with torch.no_grad():
        ids = torch.tensor([prompt] * generations)
        logits, past = model(ids)
        done = torch.zeros(generations, dtype=torch.bool)
        tokens, logps = [], []
        for _ in range(max_new):
            nxt, lp = sample(logits[:, -1].float(), g)
            nxt = torch.where(done.unsqueeze(1), torch.full_like(nxt, eos), nxt)
            lp = torch.where(done, torch.zeros_like(lp), lp)
            tokens.append(nxt)
            logps.append(lp)
            done = done | (nxt.squeeze(1) == eos)
            if bool(done.all()):
                break
            logits, past = model(nxt, past)
    return torch.cat(tokens, 1), torch.stack(logps, 1)                           # (G, R), (G, R)


def token_logps(model, rows, starts, width):
    """Log-prob of each completion token: rows (N, T), completion k of row n at position starts[n] + k."""
    logits, _ = model(rows)
    logp = F.log_softmax(logits[:, :-1].float(), -1).gather(2, rows[:, 1:].unsqueeze(-1)).squeeze(-1)   # (N, T-1)
    pos = starts.unsqueeze(1) - 1 + torch.arange(width).unsqueeze(0)
    return logp.gather(1, pos)                                                   # (N, R)


def grpo(args):
    import copy
    model = build(args)
    state = torch.load(args.weights)
    loaded = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if loaded.missing_keys or loaded.unexpected_keys:
        raise SystemExit(f"{args.weights}: missing {loaded.missing_keys}, unexpected {loaded.unexpected_keys}")
    reference = copy.deepcopy(model).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    steps = json.load(open(args.prompts))
    G, beta, eps_high, eos = args.generations, 0.1, 5.0, 2
    g = torch.Generator().manual_seed(42)
    wall = rollout_s = reward_s = learner_s = tokens = 0.0
    for step, micro_batches in enumerate(steps[:args.steps]):
        started = time.perf_counter()
        r_s = w_s = l_s = 0.0
        n_tokens = 0
        for prompts in micro_batches:
            t = time.perf_counter()
            groups = [rollout(model, p, G, args.max_gen_len, g, eos) for p in prompts]
            r_s += time.perf_counter() - t

            t = time.perf_counter()
            lengths = [((c == eos).cumsum(1) == 0).sum(1) + (c == eos).any(1).long() for c, _ in groups]
            rewards = torch.cat([((n >= 4) & (n <= 16)).float() - 0.5 for n in lengths])          # ±0.5 on the length
            w_s += time.perf_counter() - t

            t = time.perf_counter()
            model.train()
            width = max(c.shape[1] for c, _ in groups)
            total = max(len(p) for p in prompts) + width
            rows = torch.zeros(len(prompts) * G, total, dtype=torch.long)
            completions = torch.full((len(prompts) * G, width), eos, dtype=torch.long)
            old = torch.zeros(len(prompts) * G, width)
            starts = torch.zeros(len(prompts) * G, dtype=torch.long)
            for i, (p, (c, lp)) in enumerate(zip(prompts, groups)):
                for j in range(G):
                    n = i * G + j
                    rows[n, :len(p)] = torch.tensor(p)
                    completions[n, :c.shape[1]] = c[j]
                    rows[n, len(p):len(p) + width] = completions[n]
                    old[n, :c.shape[1]] = lp[j]
                    starts[n] = len(p)
            logps = token_logps(model, rows, starts, width)
            with torch.no_grad():
                ref = token_logps(reference, rows, starts, width)
            grouped = rewards.view(-1, G)
            adv = (rewards - grouped.mean(1).repeat_interleave(G)) / (grouped.std(1, unbiased=False).repeat_interleave(G) + 1e-4)
            is_eos = completions == eos
            first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full((is_eos.shape[0],), width - 1))
            mask = (torch.arange(width).unsqueeze(0) <= first.unsqueeze(1)).float()
            diff = ref - logps
            kl = torch.exp(diff) - diff - 1
            ratio = torch.exp(logps - old)
            per_token = -(torch.clamp(ratio, max=eps_high).detach() * adv.unsqueeze(1) * logps - beta * kl)
            loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean() / len(micro_batches)
            loss.backward()
            n_tokens += int(mask.sum().item())
            l_s += time.perf_counter() - t
        t = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        l_s += time.perf_counter() - t
        if step == 0:
            continue                                                             # warm-up
        wall += time.perf_counter() - started
        rollout_s, reward_s, learner_s, tokens = rollout_s + r_s, reward_s + w_s, learner_s + l_s, tokens + n_tokens
    timed = max(1, min(args.steps, len(steps)) - 1)
    print(json.dumps({"bench": "grpo", "impl": "pytorch", "torch": torch.__version__, "blas": args.blas, "threads": args.threads,
                      "seconds_per_step": round(wall / timed, 4), "rollout_tokens_per_second": round(tokens / wall, 1),
                      "rollout_share": round(rollout_s / wall, 4), "reward_share": round(reward_s / wall, 4),
                      "learner_share": round(learner_s / wall, 4)}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("verb", choices=["check", "generate", "train", "grpo"])
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
    p.add_argument("--weights")
    p.add_argument("--prompts")
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--max-gen-len", type=int, default=24)
    p.add_argument("--accumulation", type=int, default=4)
    args = p.parse_args()
    if args.verb != "check":
        args.blas = require_fast_blas()
    return {"check": check, "generate": generate, "train": train, "grpo": grpo}[args.verb](args) or 0


if __name__ == "__main__":
    raise SystemExit(main())
