"""An unknown layer gets a suggestion only when it is really close, or a known synonym; otherwise the checker
says no such layer exists and lists the family the name looks like."""

from __future__ import annotations

import pytest

from archdsl.dsl import ArchNameError, check
from archdsl.dsl.ops import OPS, family


def message(name: str, blocks: str = "") -> str:
    with pytest.raises(ArchNameError) as e:
        check(f"{blocks}\nnetwork n {{\n    input(3, 32, 32)\n    {name}\n}}\n")
    assert e.value.span.line == 4 + blocks.count("\n")
    return e.value.message


@pytest.mark.parametrize("written, meant", [
    ("cnv", "conv"), ("lyaernorm", "layernorm"), ("batchnrom", "batchnorm"), ("maxpol", "maxpool"),
    ("deconv", "conv_transpose"), ("upconv", "conv_transpose"), ("transposed_conv", "conv_transpose"),
    ("ConvTranspose2d", "conv_transpose"), ("Conv2d", "conv"), ("MaxPool2d", "maxpool"), ("LeakyReLU", "leaky_relu"),
    ("dense", "linear"), ("interpolate", "upsample"), ("stochastic_depth", "drop_path"), ("sigmod", "sigmoid"),
    ("h_sigmoid", "hardsigmoid"), ("hsigmoid", "hardsigmoid"), ("h_swish", "hardswish"), ("chunk", "slice"),
    ("upsample_to", "resize_to"), ("offset_crop", "spatial_slice"),
])
def test_a_close_name_or_a_synonym_is_suggested(written, meant):
    assert message(written).endswith(f"; did you mean '{meant}'?")


@pytest.mark.parametrize("written, fam", [("rmsnorm", "norm"), ("dropblock", "dropout"), ("softplus", "activation"),
                                          ("avgpool3d_", "pool")])
def test_a_far_name_lists_the_family_it_looks_like(written, fam):
    text = message(written)
    assert "did you mean" not in text and "no layer of that name exists" in text
    assert text.endswith(", ".join(family(fam)))


def test_the_norm_family_is_listed_as_the_spec_says():
    assert message("rmsnorm").endswith("norm layers are: batchnorm, layernorm, groupnorm, instancenorm, lrn, grn")


@pytest.mark.parametrize("written", ["in", "bm", "foo", "stem", "ln2"])
def test_no_misleading_suggestion_for_short_or_unrelated_names(written):
    text = message(written)
    assert "did you mean" not in text and "no layer or block of that name exists" in text


def test_names_that_used_to_get_misleading_suggestions_are_layers_now():
    assert {"lrn", "drop_path", "conv_transpose"} <= set(OPS)


def test_a_block_is_suggested_and_listed():
    blocks = "block bottle(c) { conv(c, 1) }"
    assert message("bottel(8)", blocks).endswith("did you mean 'bottle'?")
    assert message("stem(8)", blocks).endswith("(blocks here: bottle)")


def test_a_merge_called_as_a_layer_says_how_merges_are_written():
    from archdsl.dsl.ops.suggest import unknown_layer

    assert "is a merge, written mul { branch" in unknown_layer("mul")


@pytest.mark.parametrize("written, says", [
    ("SEModule", "squeeze-and-excitation is mul { branch { } branch { avgpool conv(C / r, 1) relu"),
    ("squeeze_excite", "squeeze-and-excitation is mul {"),
    ("EcaModule", "ECA is mul { branch { } branch { avgpool channel_conv(k) sigmoid } }"),
    ("cbam", "concat { branch { channel_max } branch { channel_mean } } conv(1, 7, padding=3) sigmoid"),
    ("SelectiveKernel", "split_softmax(n)"), ("SplitAttn", "split_softmax(n)"),
    ("conv1d", "a 1-D conv across the channels of each pixel (ECA) is channel_conv(k)"),
    ("mean", "over channels, channel_mean"), ("amax", "over channels, channel_max"),
    ("BatchNormAct2d", "conv(out, k) bn relu"), ("Focus", "pixel_unshuffle(2)"), ("GhostModule", "slice(0, out)"),
    ("gap", "global average pooling is avgpool"), ("stack", "concat"),
])
def test_a_module_of_several_layers_says_how_to_write_it(written, says):
    text = message(written)
    assert "did you mean" not in text and says in text


@pytest.mark.parametrize("written, meant", [("Conv2d", "conv"), ("space_to_depth", "pixel_unshuffle"),
                                            ("rsoftmax", "split_softmax"), ("global_response_norm", "grn")])
def test_module_hints_leave_close_names_and_synonyms_alone(written, meant):
    assert message(written).endswith(f"; did you mean '{meant}'?")
