"""Give batchnorm layers real statistics: fresh ones (mean 0, var 1, weight 1, bias 0) hide mistakes."""

import torch


def randomise_batchnorms(model, seed: int = 0):
    """Random running statistics and affine parameters in every batchnorm; returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5, generator=g)
                    m.bias.uniform_(-0.2, 0.2, generator=g)
    return model.eval()
