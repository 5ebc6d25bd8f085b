"""Benchmark: one SFT setting at reduced scale, measured by what the model learned.

    python benchmarks/sft_levers.py --n 30000 --tag fp32_adamw30k [--opt muon] [--wd 0.1] ...

Trains M0 (data/models/m0) on `--n` examples of the sft stage's mix (the first IFT rows plus the
EFT share, seeded like the stage; same TRL config as psrlm.sft: fp32, cosine, group-by-length),
then measures greedy solve on 300 held-out problems, the step arithmetic of those solutions
(written steps whose result fits their operands), the judge on 200 held-out EFT pairs and on 300
held-out own-sample rows. `--opt muon`: torch.optim.Muon for the transformer blocks' matrices,
AdamW (betas 0.9/0.95) for embeddings, norms and head. Appends one JSON line to `--out`. Needs the
default run's data/prepare and data/own_eft/test. Run one at a time (2 cores).
"""
import argparse, json, os, re, sys, tempfile, time
from pathlib import Path
import polars as pl, torch
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from psrlm import prompts, trainlog, arith
from psrlm.sft import sft_examples, as_chat
from psrlm.engine import HFEngine, Sampling



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--eft-fraction", type=float, default=0.65)
    ap.add_argument("--opt", default="adamw")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--muon-lr", type=float, default=0.02)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--m0", default="data/models/m0")
    ap.add_argument("--save", default=None)
    ap.add_argument("--out", default="reports/benchmarks/sft_levers.jsonl")
    a = ap.parse_args()

    solve_t, judge_t = prompts.template("solve_v1"), prompts.template("judge_v1")
    ift = pl.read_parquet("data/prepare/ift_train.parquet")
    eft = pl.read_parquet("data/prepare/eft_train.parquet")
    n_ift = round(a.n * (1 - a.eft_fraction))
    ex = sft_examples(ift.head(n_ift), eft, a.eft_fraction, a.seed, solve_t, judge_t)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer
    torch.manual_seed(a.seed)
    tok = AutoTokenizer.from_pretrained(a.m0)
    model = AutoModelForCausalLM.from_pretrained(a.m0, dtype=torch.float32)

    class Combo(torch.optim.Optimizer):
        def __init__(self, opts):
            self.opts = opts
            self.param_groups = [g for o in opts for g in o.param_groups]
            self.defaults = {}
            self.state = {}
        def step(self, closure=None):
            for o in self.opts: o.step()
        def zero_grad(self, set_to_none=True):
            for o in self.opts: o.zero_grad(set_to_none=set_to_none)
        def state_dict(self): return [o.state_dict() for o in self.opts]
        def load_state_dict(self, s):
            for o, x in zip(self.opts, s): o.load_state_dict(x)

    opt = None
    if a.opt == "muon":
        mats = [p for n, p in model.named_parameters() if p.ndim == 2 and "layers." in n]
        rest = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "layers." in n)]
        opt = Combo([torch.optim.Muon(mats, lr=a.muon_lr, weight_decay=a.wd, adjust_lr_fn="match_rms_adamw" if a.muon_lr < 0.005 else None),
                     torch.optim.AdamW(rest, lr=a.lr, weight_decay=0.0, betas=(0.9, 0.95))])
        # the scheduler scales each group's initial_lr
        for g in opt.param_groups: g["initial_lr"] = g["lr"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SFTConfig(output_dir=tmp, seed=a.seed, data_seed=a.seed, learning_rate=a.lr, num_train_epochs=1,
                        per_device_train_batch_size=a.batch, lr_scheduler_type="cosine", warmup_steps=0.03,
                        weight_decay=a.wd, max_length=384, logging_steps=25, save_strategy="no", report_to=[],
                        use_cpu=True, bf16=False, fp16=False, completion_only_loss=True, dataloader_num_workers=0,
                        train_sampling_strategy="group_by_length")
        tr = SFTTrainer(model=model, args=cfg, train_dataset=as_chat(ex), processing_class=tok,
                        optimizers=(opt, None), callbacks=[trainlog.callback(rows, {"loss": "loss"})])
        t0 = time.time(); tr.train(); wall = time.time() - t0
    tokens = sum(len(x) for x in tr.train_dataset["input_ids"])
    if a.save: tr.model.save_pretrained(a.save); tok.save_pretrained(a.save)
    eng = HFEngine(tr.model, tok, 64)
    def greedy(users, mt):
        return [o[0] for o in eng.generate([eng.chat(u) for u in users], 1, Sampling(0.0, 1.0, mt, ()), 0, "g")]
    test = pl.read_parquet("data/prepare/test.parquet").head(300)
    outs = greedy([prompts.solve_prompt(solve_t, q) for q in test["problem"]], 128)
    solved = sum(prompts.final_answer(o) == g for o, g in zip(outs, test["gold_answer"]))
    ok = tot = 0
    for o, r in zip(outs, test.iter_rows(named=True)):
        for line in o.split("\n"):
            s = arith.parse_step(line)
            if s is None: break
            tot += 1; ok += s.c == arith.apply(s.a, s.op, s.b) if s.op != "/" or (s.b and s.a % s.b == 0) else 0
    def judge(df):
        out = greedy([prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"], r["candidate_b"]) for r in df.iter_rows(named=True)], 96)
        return sum(prompts.parse_verdict(o)[0] == b for o, b in zip(out, df["better"])) / len(df)
    eftacc = judge(pl.read_parquet("data/prepare/eft_test.parquet").head(200))
    ownacc = judge(pl.read_parquet("data/own_eft/test/eft.parquet").head(300))
    res = dict(tag=a.tag, args=vars(a), wall=round(wall), tok_s=round(tokens / wall), final_loss=rows[-1]["loss"],
               loss_curve=[r["loss"] for r in rows[::max(1, len(rows)//12)]],
               solve=solved / len(test), step_arith=round(ok / max(tot, 1), 3), eft=eftacc, own=round(ownacc, 3))
    print(json.dumps(res))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "a") as f: f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
