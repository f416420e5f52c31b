#!/usr/bin/env python
"""`paddle-electra serve` under load: micro-batched vs one request per forward, at 1, 8 and 64 clients.

    python benchmarks/bench_serving.py            # writes docs/benchmarks-serving.md

The server is the real one (`python -m paddle_electra.hub.serving start -m chinese-electra-small`, localhost)
on ELECTRA-small-shaped weights (random; speed does not depend on the values), task None (embeddings).
Every client sends one 32-character text per request, back to back; latency is measured at the client.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks-serving.md"
NAME = "chinese-electra-small"
TEXT = "今天天气很好我们去北京大学上学他不想吃饭中国的首都是北京"[:32]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def _small_model(store: Path) -> None:
    """A randomly initialised chinese-electra-small discriminator in ``store`` (HFL's vocab when at hand)."""
    import paddle
    from paddlenlp.transformers import ElectraDiscriminator

    from paddle_electra.catalog import get_variant
    from paddle_electra.modeling.config import electra_config
    from paddle_electra.store import stamp_model_dir
    from paddle_electra.tokenizer import save_tokenizer

    sizes = get_variant(NAME).sizes
    out = store / "models" / NAME
    out.mkdir(parents=True)
    vocab = ROOT.parent / "shared" / "data" / "hfl" / "chinese_electra_small" / "vocab.txt"
    if not vocab.is_file():
        vocab = out / "vocab.src.txt"
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        chars = [chr(0x4E00 + i) for i in range(sizes.vocab_size - len(specials))]
        vocab.write_text("\n".join(specials + chars) + "\n", encoding="utf-8")
    paddle.seed(0)
    ElectraDiscriminator(electra_config(sizes, "ElectraDiscriminator")).save_pretrained(str(out))
    save_tokenizer(vocab, out)
    stamp_model_dir(out, head="discriminator", role="discriminator", variant=NAME)


def _measure(url: str, clients: int, per_client: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    start_line = threading.Barrier(clients)

    def client() -> None:
        start_line.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            reply = _post(url, {"data": [[TEXT]], "max_seq_len": 64})
            assert reply["status"] == "000", reply
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    latencies.sort()
    return {"p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "requests_per_s": len(latencies) / wall}


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        _small_model(work / "store")
        env = {**os.environ, "PADDLE_ELECTRA_HOME": str(work / "store"), "HUB_HOME": str(work / "hub"),
               "PYTHONPATH": str(ROOT), "GLOG_minloglevel": "2"}
        subprocess.run([sys.executable, "-m", "paddle_electra", "hub-install", NAME, "--hub-home",
                        str(work / "hub")], env=env, check=True, capture_output=True)
        rows = []
        for mode, flag in (("one request per forward", "0"), ("micro-batched", "1")):
            port = _port()
            server = subprocess.Popen([sys.executable, "-m", "paddle_electra.hub.serving", "start", "-m", NAME, "-p",
                                       str(port)], env={**env, "PADDLE_ELECTRA_SERVING_BATCH": flag},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}/predict/{NAME}"
            try:
                for _ in range(600):
                    try:
                        _post(url, {"data": [[TEXT]], "max_seq_len": 64})
                        break
                    except OSError:
                        time.sleep(0.5)
                for clients in (1, 8, 64):
                    _measure(url, clients, 2)  # warm-up
                    figures = _measure(url, clients, max(4, 256 // clients))
                    rows.append((mode, clients, figures))
                    print(mode, clients, figures, flush=True)
            finally:
                server.kill()
                server.wait()
        lines = ["# Serving under load", "",
                 "Generated by `benchmarks/bench_serving.py` on this 2-core CPU: `paddle-electra serve` (hub serving, "
                 "localhost) with ELECTRA-small shapes, embeddings, one 32-character text per request, clients "
                 "sending back to back.", "",
                 "| server | clients | p50 latency | p99 latency | throughput |", "|---|---|---|---|---|"]
        lines += [f"| {mode} | {clients} | {f['p50_ms']:.0f} ms | {f['p99_ms']:.0f} ms | "
                  f"{f['requests_per_s']:.1f} req/s |" for mode, clients, f in rows]
        DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(DOC.read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
