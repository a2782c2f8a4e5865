#!/usr/bin/env python3
"""Check that a checkpoint written by `iattn train` loads in PyTorch with `from_pretrained` and
computes the logits the TypeScript implementation computed.

    pip install torch transformers safetensors     # + flash-linear-attention for gla/hgrn/retnet
    python scripts/check-from-pretrained.py CHECKPOINT_DIR [--device cpu|cuda] [--rtol 1e-3]

CHECKPOINT_DIR is a folder written by `iattn train` (config.json, model.safetensors,
tokenizer.json, reference_logits.safetensors). `iattn train` writes reference_logits.safetensors
at every save; for any other checkpoint folder write it with
`npx tsx scripts/write-reference-logits.ts CHECKPOINT_DIR`. It holds

    input_ids     int64   [2, L]     row 0: the tokenizer's encoding of a fixed prompt, row 1: fixed ids
    logits        float32 [2, L, V]  the TypeScript logits of the causal-LM head
    class_logits  float32 [2, C]     classifiers only: the head on the last token's final-norm state

What is checked:
  1. AutoModelForCausalLM.from_pretrained(CHECKPOINT_DIR) loads with no missing and no
     mismatched weights; the only unexpected weights allowed are a classifier's
     `classifier.weight` / `classifier.bias` (transformers has no sequence-classification class
     for these families; see models/README.md). For model_type gla, hgrn and retnet the
     classes come from flash-linear-attention (`import fla` registers them with the Auto
     classes); its kernels are Triton kernels and may need a CUDA device (--device cuda).
  2. PyTorch's logits for input_ids equal ours: max |diff| <= atol + rtol * max |ours|, and the
     top token agrees at every position.
  3. Classifiers: class logits = base_model(input_ids).last_hidden_state[:, -1] @ W.T + b with W, b
     read from model.safetensors, compared the same way (and the top class).
Exit status 0 when everything matches, 1 on a mismatch, 2 when the folder cannot be checked.

This script is not run by the project's tests (they run without Python): the TypeScript tests
compare names, shapes and config.json keys with checkpoints saved by transformers 5.17
(test/train/hf-format.test.ts). Run it where PyTorch is installed.
"""
import argparse
import json
import os
import sys

FLA_TYPES = {"gla", "hgrn", "retnet"}
CLASSIFIER_TENSORS = {"classifier.weight", "classifier.bias"}


def fail(message, status=1):
    print(f"FAIL: {message}")
    sys.exit(status)


def compare(name, ours, theirs, rtol, atol):
    """Prints and returns whether theirs matches ours within atol + rtol * max|ours|."""
    if tuple(ours.shape) != tuple(theirs.shape):
        print(f"{name}: shape {tuple(theirs.shape)} from PyTorch, {tuple(ours.shape)} from iattn")
        return False
    diff = (ours.double() - theirs.double()).abs().max().item()
    scale = ours.double().abs().max().item()
    bound = atol + rtol * scale
    same_top = bool((ours.argmax(-1) == theirs.argmax(-1)).all().item())
    ok = diff <= bound and same_top
    print(f"{name}: max |diff| {diff:.3e} (bound {bound:.3e}, max |ours| {scale:.3e}); top choice agrees everywhere: {same_top} -> {'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="folder written by iattn train")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="tolerance relative to max |logit| (default 1e-3)")
    parser.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance (default 1e-4)")
    args = parser.parse_args()

    try:
        import torch
        import transformers
        from safetensors.torch import load_file
        from transformers import AutoModelForCausalLM
    except ImportError as error:
        fail(f"needs torch, transformers and safetensors ({error})", 2)

    folder = args.checkpoint
    reference_file = os.path.join(folder, "reference_logits.safetensors")
    if not os.path.exists(os.path.join(folder, "config.json")):
        fail(f"{folder} has no config.json", 2)
    if not os.path.exists(reference_file):
        fail(f"{folder} has no reference_logits.safetensors (write it: npx tsx scripts/write-reference-logits.ts {folder})", 2)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    model_type = config.get("model_type")
    if model_type in FLA_TYPES:
        try:
            import fla  # noqa: F401  (registers GLA, HGRN, RetNet with the Auto classes)
        except ImportError:
            fail(f"model_type {model_type} needs flash-linear-attention (pip install flash-linear-attention)", 2)

    print(f"{folder}: model_type {model_type}, architectures {config.get('architectures')}, transformers {transformers.__version__}, torch {torch.__version__}")
    model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True)
    model = model.float().to(args.device).eval()
    missing = sorted(info.get("missing_keys", []))
    unexpected = sorted(set(info.get("unexpected_keys", [])) - CLASSIFIER_TENSORS)
    mismatched = info.get("mismatched_keys", [])
    print(f"loaded {type(model).__name__}: missing {missing}, unexpected {sorted(info.get('unexpected_keys', []))}, mismatched {mismatched}")
    if missing or unexpected or mismatched:
        fail("from_pretrained did not load every weight of the checkpoint")

    reference = load_file(reference_file)
    ids = reference["input_ids"].to(args.device)
    ok = True
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits.float().cpu()
        ok &= compare("logits", reference["logits"], logits, args.rtol, args.atol)
        if "class_logits" in reference:
            weights = load_file(os.path.join(folder, "model.safetensors"))
            if not CLASSIFIER_TENSORS <= set(weights):
                fail("reference_logits.safetensors has class_logits but model.safetensors has no classifier.weight / classifier.bias", 2)
            hidden = model.base_model(input_ids=ids, use_cache=False).last_hidden_state[:, -1].float().cpu()
            classes = hidden @ weights["classifier.weight"].float().T + weights["classifier.bias"].float()
            ok &= compare("class_logits", reference["class_logits"], classes, args.rtol, args.atol)
            labels = config.get("id2label", {})
            print("predicted classes:", [labels.get(str(int(c)), str(int(c))) for c in classes.argmax(-1)])
    if not ok:
        fail("PyTorch and iattn disagree")
    print("OK: from_pretrained loads the checkpoint and reproduces the iattn logits")


if __name__ == "__main__":
    main()
