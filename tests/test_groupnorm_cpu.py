"""A compiled groupnorm trains on channels_last inputs on the CPU (torch's own CPU backward of such an input,
when the input needs no gradient, ends the process: the test runs each case in a child process)."""

import subprocess
import sys
import textwrap

import pytest

CASES = {
    # the image itself in channels_last, as `train --channels-last` hands it over
    "image": ("network n {{ input(3, 8, 8) groupnorm({g}) conv(4, 3) avgpool flatten linear(10) }}", True),
    # a permuting layernorm, then a layer that cuts the graph (zero), a slice: a strided tensor that needs no grad
    "cut": ('network n {{ input(3, 8, 8) layernorm(over="channels") zero spatial_slice(-2) sigmoid '
            "groupnorm({g}) avgpool flatten linear(10) }}", False),
    # a 1x1 cut from a channels_last image: strides (C, 1, C, C), which is_contiguous() calls contiguous (one
    # group only: a group of one value is refused)
    "1x1 cut": ("network n {{ input(3, 8, 8) spatial_slice((0, 1), (1, 2)) leaky_relu(-0.5) groupnorm(1) "
                "flatten linear(10) }}", True),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("groups", [1, 3])
def test_a_training_step_through_groupnorm_on_a_strided_input_completes(case, groups):
    text, channels_last = CASES[case]
    script = textwrap.dedent(f"""
        import torch, archdsl
        m = archdsl.compile({text.format(g=groups)!r})
        x = torch.randn(2, 3, 8, 8)
        if {channels_last}:
            m = m.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        for mode in ("train", "eval"):
            getattr(m, mode)()
            m.zero_grad()
            m(x).sum().backward()
            assert all(p.grad is not None for n, p in m.named_parameters() if "groupnorm" in n), "groupnorm got no gradient"
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])
