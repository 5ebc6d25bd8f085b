"""Benchmark: the sft stage's training throughput beside a plain PyTorch loop on the same batches.

    python benchmarks/sft_overhead.py [--steps 150] [--compile] [--out reports/benchmarks/sft_overhead.json]

Both train the same M0 (data/models/m0) on the same batches: the first `--steps` batches of the
stage's own TRL SFTTrainer (psrlm.sft.trainer, the default params, group-by-length sampling), once
through `trainer.train()` and once through a loop of forward, backward, AdamW step (same learning
rate, betas and weight decay, fused AdamW and no KV cache as the Trainer; no scheduler, no TRL, no
Trainer); `--compile` adds the same loop under torch.compile. Tokens are the batches' real
(non-pad) tokens; the first `--warmup` steps of each are not timed. The report also gives the
padding share of those batches (pad tokens / all tokens) and the machine's fp32 matmul speed
measured in the same run, so that figures from different days compare (a number measured on a
slow day is slow for both). A speed goal is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from yardstick import cpu, machine, matmul_gflops

from psrlm.outputs import Outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", default="data/models/m0")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time the plain loop under torch.compile")
    ap.add_argument("--out", default="reports/benchmarks/sft_overhead.json")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import polars as pl
    import torch
    from transformers import TrainerCallback

    from psrlm import prompts
    from psrlm.params import PromptsParams, TrainingParams, load_section
    from psrlm.sft import SftParams, as_chat, sft_examples, trainer

    p = load_section(args.params, "sft", SftParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    n = args.steps * p.batch_size * 4  # enough examples for the steps, in the stage's mix
    ift = pl.read_parquet("data/prepare/ift_train.parquet").head(round(n * (1 - p.eft_fraction)))
    eft = pl.read_parquet("data/prepare/eft_train.parquet")
    data = as_chat(sft_examples(ift, eft, p.eft_fraction, p.seed, prompts.template(templates.solve),
                                prompts.template(templates.judge)))
    gflops_before = matmul_gflops()

    times: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            times[state.global_step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        tr, _ = trainer(args.model, data, p, tmp, training=load_section(args.params, "training", TrainingParams), callbacks=[Clock()])
        batches = []
        for batch in tr.get_train_dataloader():
            batches.append(batch)
            if len(batches) == args.steps:
                break
        real = [int(b["attention_mask"].sum()) for b in batches]
        slots = [b["attention_mask"].numel() for b in batches]
        timed = sum(real[args.warmup:])
        tr.args.max_steps = args.steps
        tr.train()
        trl_s = times[args.steps] - times[args.warmup]

        # The plain loop: a fresh M0, the same batches in the same order.
        from transformers import AutoModelForCausalLM

        def plain_loop(compiled: bool) -> tuple[float, float]:
            """(seconds of the timed steps, seconds of the first --warmup steps) of the loop."""
            torch.manual_seed(p.seed)
            model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).train()
            # As the Trainer does (its default optim is adamw_torch_fused; TRL passes
            # use_cache=False): with torch's default AdamW and a KV cache on every forward the
            # plain loop was the slower one (trainer over loop 1.256 and 1.293, AVX2 machine).
            opt = torch.optim.AdamW(model.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay,
                                    fused=True)
            forward = torch.compile(model) if compiled else model
            t0 = time.perf_counter()
            for k, b in enumerate(batches):
                if k == args.warmup:
                    start = time.perf_counter()
                loss = forward(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                               labels=b["labels"], use_cache=False).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            return time.perf_counter() - start, start - t0

        raw_s, _ = plain_loop(False)
        # torch.compile (inductor's C++ kernels on a CPU): the lever issue 27 names but had not
        # measured. Batches differ in length, so it recompiles for new shapes (dynamic after the
        # second); the first steps' seconds, compiling included, are reported beside.
        compiled_s, compile_warmup_s = plain_loop(True) if args.compile else (None, None)

    report = {
        "machine": machine(), "cpu": cpu(),
        "matmul_gflops": [gflops_before, matmul_gflops()],
        "steps_timed": args.steps - args.warmup, "batch_size": p.batch_size,
        "tokens_timed": timed,
        "trl_tokens_per_second": round(timed / trl_s, 1),
        "raw_tokens_per_second": round(timed / raw_s, 1),
        "trl_over_raw": round(raw_s / trl_s, 3),
        "padding_share": round(1 - sum(real) / sum(slots), 4),
    }
    if compiled_s is not None:
        report |= {"compiled_tokens_per_second": round(timed / compiled_s, 1),
                   "compiled_over_raw": round(raw_s / compiled_s, 3),
                   "compiled_first_steps_seconds": round(compile_warmup_s, 1)}
    with Outputs() as o:
        o.json(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
