"""Cross-store matching benchmark: `storewatch compare` with one store of N generated models beside real ones.

Records the shipped `onnx_zoo` (2023-12-26) and `pytorch_hub` (2024-04-30) snapshots, then one run of N generated
models (default 200,000) in a third store, named as Hub repositories are (`org/family-7b-instruct-word`: a family
shared with the real stores now and then, a size, a variant and a word of its own), a tenth citing one of 50,000
arXiv papers and half naming one of 100 architectures. Then `storewatch compare --format json` end to end, in a
fresh process: seconds, CPU seconds, peak RSS and the pairs it proposed.

    python bench/compare_scale.py [--models 200000] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STORE = "tfhub"  # a store the CLI knows; its data is generated
REAL = {"onnx_zoo": "2023-12-26", "pytorch_hub": "2024-04-30"}
FAMILIES = ["resnet", "bert", "mobilenet", "gpt", "llama", "mistral", "qwen", "gemma", "phi", "vgg", "densenet", "squeezenet",
            "efficientnet", "yolo", "whisper", "wav2vec", "roberta", "distilbert", "t5", "bart", "vit", "clip", "stable", "falcon"]
VARIANTS = ["instruct", "chat", "gguf", "lora", "finetuned", "awq", "base", "merged", "dpo", "sft"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def word(i: int) -> str:
    """A letters-only word of the model's own (a name token no other model has)."""
    text = ""
    while True:
        i, rest = divmod(i, 26)
        text += LETTERS[rest]
        if not i:
            return "zq" + text


def generated(i: int, rng: random.Random) -> tuple[str, dict]:
    family = FAMILIES[i % len(FAMILIES)] if i % 10 == 0 else f"{word(i % 40_000)}x"
    model_id = f"org{i % 7000}/{family}-{1 + i % 70}b-{VARIANTS[i % len(VARIANTS)]}-{word(i)}"
    elements = {"name": model_id}
    if i % 10 == 3:
        elements["paper"] = [f"https://arxiv.org/abs/2{rng.randrange(100, 500):03d}.{rng.randrange(50_000):05d}"]
    if i % 2:
        elements["architecture"] = f"Arch{i % 100}ForCausalLM"
    return model_id, elements


def generate(url: str, models: int) -> float:
    from storage.db import open_database
    from storage.writer import SnapshotWriter

    engine = open_database(url)
    rng = random.Random(5)
    started = time.perf_counter()
    writer = SnapshotWriter(engine, STORE, datetime(2025, 6, 1, tzinfo=timezone.utc), f"{STORE}/bench")
    writer.start()
    for i in range(models):
        model_id, elements = generated(i, rng)
        writer.add(model_id, elements, {"id": model_id})
    writer.finish("complete")
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200_000)
    parser.add_argument("--db", type=Path, help="SQLite file to use (generated when missing)")
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="storewatch-compare-"))
    path = args.db or folder / "storewatch.db"
    url = f"sqlite:///{path}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "crawler.cli"]
    if not path.exists():
        for store, day in REAL.items():
            subprocess.run([*cli, "crawl", store, "--replay", str(ROOT / "snapshots" / store / day), "--db", url], check=True, cwd=ROOT, env=env)
        seconds = generate(url, args.models)
        print(f"generated {args.models:,} models in {seconds:.1f} s; database {path.stat().st_size / 1e6:.0f} MB")
    started = time.perf_counter()
    process = subprocess.Popen([*cli, "compare", "--format", "json", "--db", url], stdout=subprocess.PIPE, cwd=ROOT, env=env)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("storewatch compare failed")
    matches = json.loads(output)["matches"]
    print(
        f"storewatch compare: {time.perf_counter() - started:.1f} s, CPU {usage.ru_utime + usage.ru_stime:.1f} s, "
        f"peak RSS {usage.ru_maxrss / 1024:,.0f} MB, {len(matches):,} pairs proposed"
    )
    if not args.keep and not args.db:
        path.unlink()
        folder.rmdir()
    elif not args.db:
        print(f"kept {path}")


if __name__ == "__main__":
    main()
