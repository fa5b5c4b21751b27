import copy
from pathlib import Path

import pytest
import torch

from utils.models import MODELS, Baseline, build_model, count_parameters
from utils.summary import parse_summary_rows, summary_table

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "original-readme.md"


def test_baseline_has_16146_parameters_and_ten_logits():
    model = Baseline()
    assert count_parameters(model) == 16146
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.skipif(not REFERENCE.exists(), reason=f"the reference README is not at {REFERENCE}")
def test_summary_matches_the_reference_table_row_by_row():
    expected = parse_summary_rows(REFERENCE.read_text())
    assert len(expected) == 16
    assert parse_summary_rows(summary_table(Baseline())) == expected


def test_summary_reports_totals_and_leaves_the_model_untouched():
    model = Baseline().train()
    before = copy.deepcopy(model.state_dict())
    table = summary_table(model)
    assert "Trainable params: 16,146" in table
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # BatchNorm statistics unchanged


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_summary_of_a_cuda_model():
    assert "Trainable params: 16,146" in summary_table(Baseline().cuda())


def test_models_are_built_by_name():
    for name in MODELS:
        assert isinstance(build_model(name), torch.nn.Module)
    with pytest.raises(ValueError, match="model=.resnet. is not a known model; choose one of \\[.baseline., .compact"):
        build_model("resnet")


def test_growth_steps_end_in_the_baseline():
    from utils.architecture import describe_steps, growth_steps

    model = Baseline().eval()
    x = torch.randn(4, 1, 28, 28)
    description, whole = growth_steps(model)[-1]
    assert torch.allclose(whole(x), model(x))
    table = describe_steps(model)
    assert table.count("\n") == 1 + len(growth_steps(model))
    assert "| 8 | flatten and a linear classifier | 10 logits | 16,146 |" in table


def test_compact_model_is_under_8000_parameters_without_a_linear_layer():
    model = build_model("compact")
    assert count_parameters(model) <= 8000
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in model.modules())
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_staged_net_reproduces_the_baseline_table_and_walks_to_the_compact_model():
    from utils.architecture import COMPACT_STEPS, describe_compact_steps
    from utils.models import StagedNet

    baseline_rows = parse_summary_rows(summary_table(Baseline()))
    staged_rows = [r for r in parse_summary_rows(summary_table(StagedNet()))
                   if not r[0].startswith(("ReLU", "Flatten"))]
    assert [(shape, params) for _, shape, params in staged_rows] == [
        (shape, params) for name, shape, params in baseline_rows if not name.startswith("Dropout")]
    assert count_parameters(StagedNet(**COMPACT_STEPS[-1][1])) == count_parameters(build_model("compact"))
    counts = [int(line.split("|")[3].replace(",", "")) for line in describe_compact_steps().splitlines()[2:]]
    assert counts[0] == 16146 and counts[-1] == count_parameters(build_model("compact")) <= 8000
    with pytest.raises(ValueError, match="head='mlp' is not allowed"):
        StagedNet(head="mlp")
