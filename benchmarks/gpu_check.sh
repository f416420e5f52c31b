#!/usr/bin/env bash
# GPU check for a user with a CUDA machine and paddlepaddle-gpu installed (`pip install -e .[gpu,dev]`):
# parity and speed in a few minutes. No machine of this project can run Paddle on a GPU, so this script is the
# way the GPU paths (device selection, AMP, multi-GPU launch, export) get exercised; send its output back.
#
#   bash benchmarks/gpu_check.sh            # needs a GPU build of Paddle and a visible GPU
#   DEVICE=cpu bash benchmarks/gpu_check.sh # the same steps on CPU (how the script itself is tested)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
DEVICE="${DEVICE:-gpu}"
WORK="$(mktemp -d)"
export GLOG_minloglevel=2 PADDLE_ELECTRA_HOME="$WORK/store"
trap 'rm -rf "$WORK"' EXIT

"$PY" - "$DEVICE" <<'EOF'
import sys
import paddle
device = sys.argv[1]
gpus = paddle.device.cuda.device_count() if paddle.device.is_compiled_with_cuda() else 0
print(f"paddle {paddle.__version__}, CUDA build: {paddle.device.is_compiled_with_cuda()}, GPUs: {gpus}")
if device == "gpu" and gpus == 0:
    sys.exit("no GPU visible to this Paddle build: install paddlepaddle-gpu for your CUDA, or run DEVICE=cpu")
EOF

echo "== 1/4 parity: TF and HF conversions, exports (tests run on Paddle's default device: $DEVICE)"
if [ "$DEVICE" = "gpu" ]; then export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"; fi
"$PY" -m pytest -q -p no:cacheprovider tests/test_convert_tf.py tests/test_convert_hf.py tests/test_export.py \
    -k "not onnx"

echo "== 2/4 fine-tuning on $DEVICE (tiny model, embedded data)$([ "$DEVICE" = gpu ] && echo ', float16 AMP')"
"$PY" -m paddle_electra -q convert --tf-checkpoint paddle_electra/resources/electra_tiny --output "$WORK/tiny"
AMP=""; [ "$DEVICE" = "gpu" ] && AMP="--amp"
"$PY" -m paddle_electra finetune chnsenticorp --data-dir paddle_electra/resources/tiny_data \
    --model "$WORK/tiny/discriminator" --output "$WORK/run" --device "$DEVICE" $AMP --epochs 3 --batch-size 16 \
    --learning-rate 1e-3 --max-seq-length 64

echo "== 3/4 multi-device launch (two ranks; on CPU two processes)"
if [ "$DEVICE" = "gpu" ] && [ "$("$PY" -c 'import paddle; print(paddle.device.cuda.device_count())')" -ge 2 ]; then
  "$PY" -m paddle.distributed.launch --gpus 0,1 -m paddle_electra finetune chnsenticorp \
      --data-dir paddle_electra/resources/tiny_data --model "$WORK/tiny/discriminator" --output "$WORK/run2" \
      --device gpu --epochs 1 --batch-size 8 --max-seq-length 64
else
  "$PY" -m pytest -q -p no:cacheprovider tests/test_distributed.py
fi

echo "== 4/4 parity and speed: eager vs the Paddle Inference export on $DEVICE (the fine-tuned tiny model)"
"$PY" benchmarks/gpu_check_predict.py "$WORK/run/best_model" "$DEVICE"
echo "gpu_check: done ($DEVICE)"
