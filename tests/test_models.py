import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from utils.models import (
    MODELS,
    Baseline,
    build_model,
    convnet,
    count_parameters,
)
from utils.summary import parse_summary_rows, summary_table

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "original-readme.md"


def test_baseline_has_16146_parameters_and_ten_logits():
    model = Baseline()
    assert count_parameters(model) == 16146
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


FUNCTIONAL_IN_THE_REFERENCE = ("ReLU", "Flatten")  # applied as functions in its forward, so not rows of its table


def renumbered(rows: list[tuple[str, str, int]], leave_out: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """torchsummary rows without the kinds in `leave_out`, numbered again from 1."""
    kept = [(name.rsplit("-", 1)[0], shape, params) for name, shape, params in rows if not name.startswith(leave_out)]
    return [(f"{kind}-{i}", shape, params) for i, (kind, shape, params) in enumerate(kept, start=1)]


@pytest.mark.skipif(not REFERENCE.exists(), reason=f"the reference README is not at {REFERENCE}")
@pytest.mark.torchsummary
def test_summary_matches_the_reference_table_row_by_row():
    expected = parse_summary_rows(REFERENCE.read_text())
    assert len(expected) == 16
    ours = parse_summary_rows(summary_table(Baseline()))
    assert renumbered(ours, FUNCTIONAL_IN_THE_REFERENCE) == expected
    assert {name.rsplit("-", 1)[0] for name, *_ in ours} - {n.rsplit("-", 1)[0] for n, *_ in expected} == {
        "ReLU", "Flatten"}


@pytest.mark.torchsummary
def test_summary_reports_totals_and_leaves_the_model_untouched():
    model = Baseline().train()
    before = copy.deepcopy(model.state_dict())
    table = summary_table(model)
    assert "Trainable params: 16,146" in table
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # BatchNorm statistics unchanged


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.torchsummary
def test_summary_of_a_cuda_model():
    assert "Trainable params: 16,146" in summary_table(Baseline().cuda())


def test_models_are_built_by_name():
    for name in MODELS:
        assert isinstance(build_model(name), torch.nn.Module)
    with pytest.raises(ValueError, match="model=.resnet. is not a known model; choose one of \\[.baseline., "):
        build_model("resnet")


def test_the_baseline_computes_what_its_layer_list_says():
    """Baseline is its named layers applied in order: conv1 ... fc, ReLUs after every BatchNorm and the transition."""
    model = Baseline().eval()
    x = torch.randn(4, 1, 28, 28)
    out = x
    for layer in model.children():
        out = layer(out)
    assert torch.equal(out, model(x))
    assert [n for n, _ in model.named_children()][:8] == ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "drop1",
                                                          "pool1"]
    assert count_parameters(model.fc) == 8 * 7 * 7 * 10 + 10


def test_the_journey_layout_with_its_defaults_is_the_baseline_weight_for_weight():
    torch.manual_seed(0)
    reference = Baseline()
    torch.manual_seed(0)
    built = convnet()
    assert repr(built) == repr(reference).replace("Baseline", "Sequential", 1)
    assert list(built.state_dict()) == list(reference.state_dict())
    pairs = zip(built.state_dict().values(), reference.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.parametrize("name, parameters, has", [
    ("plain", 27_450, ()), ("plain-bn", 27_642, (torch.nn.BatchNorm2d,)),
    ("bn-transition", 16_146, (nn.BatchNorm2d,)), ("baseline-gap", 12_282, (nn.Dropout, nn.AdaptiveAvgPool2d)),
])
def test_the_journey_steps_change_one_part_each(name, parameters, has):
    model = build_model(name)
    assert count_parameters(model) == parameters and model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    kinds = {type(m) for m in model.modules()}
    assert all(kind in kinds for kind in has)
    assert (nn.BatchNorm2d in kinds) == (name != "plain") and (nn.Dropout in kinds) == (name == "baseline-gap")


def test_compact_model_is_under_8000_parameters_without_a_linear_layer():
    model = build_model("compact")
    assert count_parameters(model) <= 8000
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in model.modules())
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.torchsummary
def test_one_builder_makes_the_baseline_and_walks_to_the_compact_model():
    from utils.architecture import describe_compact_steps

    baseline_rows = renumbered(parse_summary_rows(summary_table(Baseline())), ("Dropout",))
    assert renumbered(parse_summary_rows(summary_table(convnet(dropout=0.0)))) == baseline_rows
    counts = [int(line.split("|")[3].replace(",", "")) for line in describe_compact_steps().splitlines()[2:]]
    assert counts[0] == 16146 and counts[-1] == count_parameters(build_model("compact")) <= 8000
    with pytest.raises(ValueError, match="head='mlp' is not allowed"):
        convnet(head="mlp")


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_torchs_own_layers_only(name):
    """What a learner writes with torch.nn is, class for class, what trains: no course-made layer in any model."""
    classes = {type(m) for m in build_model(name).modules() if not any(m.children())}  # the layers, not containers
    assert all(c.__module__.startswith("torch.nn.modules.") for c in classes), classes
