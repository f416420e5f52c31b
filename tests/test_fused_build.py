"""Where the fused kernels can be built they must be: a broken build would otherwise only skip their tests."""

from __future__ import annotations

import os
import shutil

import pytest

from paddle_electra.ops import build


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")) or os.environ.get(build.DISABLE_ENV) == "0",
                    reason="no C++ compiler, or the kernels are switched off")
def test_the_kernels_build_where_a_compiler_exists():
    assert build.load() is not None, build.unavailable_reason()


def test_bf16_gemms_load_on_a_cpu_with_bfloat16_instructions():
    from paddle_electra.runtime import _cpuinfo

    flags = _cpuinfo("flags").split()
    if build.load() is None or not ({"avx512_bf16", "amx_bf16"} & set(flags)):
        pytest.skip("no fused kernels or no bfloat16 instructions here")
    assert build.bf16_unavailable_reason() is None
