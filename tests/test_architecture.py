import pytest
import torch
from torch import nn

from utils.architecture import (
    add_layers,
    central_square_holding,
    effective_field,
    ink_boxes,
    same_network,
    whole_digit_share,
)
from utils.models import Baseline, count_parameters
from utils.summary import parse_summary_rows, summary_table


def test_add_layers_appends_and_reports_computed_rows():
    network = nn.Sequential()
    report = add_layers(network, conv1=nn.Conv2d(1, 16, 3, padding=1), bn1=nn.BatchNorm2d(16))
    report2 = add_layers(network, relu1=nn.ReLU(), pool1=nn.MaxPool2d(2))
    assert [name for name, _ in network.named_children()] == ["conv1", "bn1", "relu1", "pool1"]
    assert "| conv1 | Conv2d | 28x28x16 | 160 | 160 | 3x3 | 1 |" in report
    assert "| bn1 | BatchNorm2d | 28x28x16 | 32 | 192 | 3x3 | 1 |" in report
    assert "| pool1 | MaxPool2d | 14x14x16 | 0 | 192 | 4x4 | 2 |" in report2
    assert "conv1" not in report2 and report2._repr_markdown_() == str(report2)
    assert report.endswith("This block: 192 parameters; the network so far: 192.")
    assert report2.endswith("This block: 0 parameters; the network so far: 192.")


@pytest.mark.torchsummary
def test_the_network_written_layer_by_layer_is_the_baseline():
    """What notebook 2 builds, module for module, is the Baseline the other notebooks train."""
    network = nn.Sequential()
    for name, layer in Baseline().named_children():
        add_layers(network, **{name: layer})
    assert same_network(network, Baseline()).endswith("16,146 parameters as Baseline")


@pytest.mark.torchsummary
def test_same_network_names_the_first_difference():
    changed = Baseline()
    changed.conv6 = nn.Conv2d(32, 4, 1)
    changed.fc = nn.Linear(4 * 7 * 7, 10)
    with pytest.raises(AssertionError, match=r"layer 20 differs: torch\.nn\.modules\.conv\.Conv2d\(32, 4, "):
        same_network(changed, Baseline())
    shorter = nn.Sequential(*list(Baseline().children())[:-1], nn.Identity())
    with pytest.raises(AssertionError, match="differs|layers here"):
        same_network(shorter, Baseline())


# Another class named Dropout, as the course's own 16-bit dropout was: torchsummary's rows cannot tell it apart.
CheaperDropout = type("Dropout", (nn.Dropout,), {})


@pytest.mark.torchsummary
@pytest.mark.parametrize("layer, replacement, shown", [
    ("drop1", CheaperDropout(0.05), r"test_architecture\.Dropout\(p=0\.05, inplace=False\) here, torch\.nn"),
    ("drop2", nn.Dropout(0.1), r"Dropout\(p=0\.1, inplace=False\) here"),
    ("bn1", nn.BatchNorm2d(16, eps=1e-3), r"BatchNorm2d\(16, eps=0\.001"),
    ("bn3", nn.BatchNorm2d(16, momentum=0.01), r"momentum=0\.01"),
])
def test_same_network_sees_class_and_settings_that_summary_rows_cannot(layer, replacement, shown):
    """torchsummary's rows are the same for these; the class, dropout's p and BatchNorm's eps and momentum are not."""
    changed = Baseline()
    setattr(changed, layer, replacement)
    assert parse_summary_rows(summary_table(changed)) == parse_summary_rows(summary_table(Baseline()))
    with pytest.raises(AssertionError, match=shown):
        same_network(changed, Baseline())


def test_ink_boxes_and_whole_digit_share():
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    images[0, 10:18, 12:16] = 255  # a small central digit
    images[1, 0:28, 13] = 255  # a stroke from the top edge to the bottom edge
    images[2, 0:4, 0:4] = 255  # a digit in the top-left corner
    assert ink_boxes(images).tolist() == [[10, 17, 12, 15], [0, 27, 13, 13], [0, 3, 0, 3]]
    share = whole_digit_share(Baseline(), "conv5", images)  # unit (i, j) sees rows 4i-10 .. 4i+13
    assert share.shape == (7, 7)
    assert share[3, 3] == pytest.approx(1 / 3)  # the central unit sees the central digit, not the edge-to-edge stroke
    assert share[0, 0] == pytest.approx(1 / 3)  # the corner unit sees only the corner digit
    assert share[2, 2] == pytest.approx(2 / 3)  # rows and columns 0..21: both the corner and the central digit
    assert share.max() <= 2 / 3 + 1e-9  # no field of 24 pixels holds the 28-pixel stroke


def test_the_effective_field_lies_inside_the_computed_one():
    torch.manual_seed(0)
    model = Baseline()
    heat = effective_field(model, "conv5", torch.randn(8, 1, 28, 28), (3, 3))
    assert heat.shape == (28, 28) and (heat >= 0).all() and heat.sum() > 0
    rows, cols = heat.nonzero(as_tuple=True)
    # conv5's unit (3, 3) sees rows and columns 2..25: its centre is 2 + 3 x 4 = 14, its field 24 wide
    assert rows.min() >= 2 and rows.max() <= 25 and cols.min() >= 2 and cols.max() <= 25
    assert count_parameters(model) == 16146  # the model itself is untouched (a copy is measured)


def test_central_square_holding():
    heat = torch.zeros(28, 28)
    heat[13:15, 13:15] = 1.0  # all mass in the central 2x2
    heat[0, 0] = 0.0
    assert central_square_holding(heat, 0.5, (14.0, 14.0)) == 2
    heat[0, 0] = 4.0  # now half the mass is in the corner
    assert central_square_holding(heat, 0.9, (14.0, 14.0)) == 28
