"""paddle-electra: Chinese ELECTRA (HFL) for PaddlePaddle. Pins live in constraints.txt (install with -c)."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="paddle-electra",
    version="0.1.0",
    description="Chinese ELECTRA (HFL) for PaddlePaddle: converters, PaddleNLP models, PaddleHub modules, fine-tuning",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["paddle_electra", "paddle_electra.*"]),
    # the embedded tiny checkpoint and data the quickstart runs on
    package_data={"paddle_electra": ["resources/*/*", "resources/*/*/*", "ops/kernels.cc"]},
    install_requires=[
        "paddlepaddle>=2.6.2",
        "paddlenlp>=2.8.1",
        "paddlehub>=2.4.0",
        "numpy",
        "safetensors",
        "google-crc32c",
        "cramjam",  # snappy: the TF builds behind HFL's releases compress index blocks
        "tqdm",
    ],
    extras_require={
        # Paddle GPU wheels on the registry stop at 2.6.2; the code runs on 2.6 and 3.x.
        "gpu": ["paddlepaddle-gpu>=2.6.2"],
        "dev": ["pytest", "ruff", "torch", "transformers<5"],
        # export --format onnx, FastPredictor(backend="onnx"), --precision int8 (ORT quantization needs
        # ml_dtypes) and benchmarks/ (plots)
        "bench": ["paddle2onnx", "onnxruntime", "onnx", "ml_dtypes", "matplotlib"],
    },
    entry_points={"console_scripts": ["paddle-electra=paddle_electra.cli:main"]},
)
