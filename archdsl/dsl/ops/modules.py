"""The small torch modules some ops compile to. Imports torch: only builders import this file, inside
themselves, so `import archdsl.dsl` stays torch-free."""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of each pixel of an (N, C, H, W) tensor (ConvNeXt's LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GroupNorm(nn.GroupNorm):
    """torch's GroupNorm, handed a contiguous input on the CPU: there torch's backward of a non-contiguous
    (channels_last) input that needs no gradient of its own — the image itself, or a tensor a layer cut from the
    graph — crashes the process (torch 2.13 CPU). So does one whose strides pass for both layouts, as an
    (N, C, 1, 1) cut from a channels_last image (strides (C, 1, C, C)), which `is_contiguous()` calls contiguous:
    any input that channels_last could describe is copied to the standard strides too. The copy costs one pass
    over the input, on the CPU only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and (not x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
            x = x.clone(memory_format=torch.contiguous_format)
        return super().forward(x)


class LayerScale(nn.Module):
    """A learned per-channel scale γ, shape (C, 1, 1) on images or (F,) on vectors (torchvision's layer_scale)."""

    def __init__(self, shape: tuple[int, ...], init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full(shape, float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class DropPath(nn.Module):
    """Stochastic depth, torchvision's StochasticDepth(p, "row"): while training, each sample is zeroed with
    probability p and the rest scaled by 1 / (1 - p); the identity in eval mode."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        noise = torch.empty([x.shape[0]] + [1] * (x.dim() - 1), dtype=x.dtype, device=x.device)
        noise = noise.bernoulli_(survival)
        if survival > 0.0:
            noise = noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _centre(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top:top + h, left:left + w]


class CenterCrop(nn.Module):
    """The centre (height, width) window; top and left offsets are half the difference, rounded down."""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _centre(x, self.height, self.width)

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"


class CropTo(nn.Module):
    """The centre of `x` at the height and width of `ref` (U-Net's cropped skip connections)."""

    shape_only_inputs = (1,)  # `ref` gives a size, no data: transfer_weights does not follow it

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return _centre(x, ref.shape[-2], ref.shape[-1])


class ResizeTo(nn.Module):
    """`x` interpolated to the height and width of `ref`, read at run time (torchvision's segmentation heads)."""

    shape_only_inputs = (1,)  # `ref` gives a size, no data: transfer_weights does not follow it

    def __init__(self, mode: str, align_corners: bool | None):
        super().__init__()
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, size=ref.shape[-2:], mode=self.mode, align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}" + (f", align_corners={self.align_corners}" if self.align_corners else "")


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: view as (groups, C/groups), transpose, flatten back."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelConv(nn.Module):
    """ECA's 1-D convolution along the channels of each pixel: one odd kernel, zero-padded to keep C."""

    def __init__(self, kernel: int, bias: bool):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel, padding=(kernel - 1) // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = self.conv(x.permute(0, 2, 3, 1).reshape(n * h * w, 1, c))  # every pixel a sequence of C values
        return y.reshape(n, h, w, c).permute(0, 3, 1, 2)


class SplitSoftmax(nn.Module):
    """Softmax across `splits` equal groups of channels (SKNet's, ResNeSt's attention over branches): viewed as
    (N, splits, C / splits, ...), softmax over the splits."""

    def __init__(self, splits: int):
        super().__init__()
        self.splits = splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        return torch.softmax(x.reshape(n, self.splits, -1), dim=1).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"splits={self.splits}"


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's GRN on (N, C, H, W): x + weight * (x * n) + bias, n = each channel's spatial L2 norm over
    the mean of the channels' norms (timm's GlobalResponseNorm; weight and bias of shape (C,), starting at 0)."""

    def __init__(self, channels: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.norm(p=2, dim=(2, 3), keepdim=True)
        n = g / (g.mean(dim=1, keepdim=True) + self.eps)
        return x + torch.addcmul(self.bias.view(1, -1, 1, 1), self.weight.view(1, -1, 1, 1), x * n)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"
