import pytest
from torch import nn

from utils.models import Baseline
from utils.receptive_field import empirical_receptive_field, format_table, receptive_field_table

STRIDED = nn.Sequential(  # a stride-2 convolution in place of pooling
    nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4),
    nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 5, stride=2), nn.Conv2d(4, 4, 3),
)
DILATED = nn.Sequential(  # dilation, average pooling and a 1x1 convolution
    nn.Conv2d(1, 4, 3, dilation=2, padding=2), nn.ReLU(), nn.Conv2d(4, 4, 3, dilation=3),
    nn.AvgPool2d(2), nn.Conv2d(4, 4, 3, dilation=2), nn.Conv2d(4, 2, 1), nn.MaxPool2d(3, stride=2),
)


def test_baseline_table_from_the_modules():
    rows = receptive_field_table(Baseline())
    assert [r.layer for r in rows] == ["conv1", "conv2", "pool1", "conv3", "conv4", "pool2", "conv5", "conv6", "fc"]
    assert [r.rf for r in rows] == [3, 5, 6, 10, 14, 16, 24, 24, 48]
    assert [r.jump_out for r in rows] == [1, 1, 2, 2, 2, 4, 4, 4, 4]
    assert rows[-1].covers_all and rows[6].output_size == (32, 7, 7)


def test_pointwise_layers_listed_on_request():
    rows = receptive_field_table(Baseline(), include_pointwise=True)
    assert [r.kind for r in rows][:4] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    assert [r.rf for r in rows][:4] == [3, 3, 3, 5]  # a pointwise layer keeps the field of the layer before it


@pytest.mark.parametrize("model, input_size",
                         [(Baseline(), (1, 28, 28)), (STRIDED, (1, 64, 64)), (DILATED, (1, 96, 96))])
def test_computed_field_matches_the_gradient_measurement(model, input_size):
    rows = [r for r in receptive_field_table(model, input_size) if not r.covers_all]
    assert len(rows) >= 5
    for row in rows:
        measured = empirical_receptive_field(model, row.layer, input_size)
        assert (measured.height, measured.width) == (row.rf, row.rf), row.layer
        assert measured.gradient.shape == input_size[1:]


def test_the_measurement_can_disagree():
    """The check has teeth: a layer whose field is clipped by the image border measures smaller."""
    assert empirical_receptive_field(Baseline(), "conv5", position=(0, 0)).height < 24


def test_unknown_spatial_layer_is_refused():
    with pytest.raises(ValueError, match="Upsample.*does not know how it maps space"):
        receptive_field_table(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)))


def test_markdown_table():
    text = format_table(receptive_field_table(Baseline()))
    assert "| conv5 | Conv2d | 3x3 | 1 | 7x7x16 | 7x7x32 | 24 | 4 | 4 |" in text
    assert "| pool2 | MaxPool2d | 2x2 | 2 | 14x14x16 | 7x7x16 | 16 | 2 | 4 |" in text
    assert "| fc | Linear | - | - | 392 | 10 | 48 (whole input) | 4 | 4 |" in text
    assert "48 (whole input)" in text
