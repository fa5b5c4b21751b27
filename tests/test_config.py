import pytest

from utils.config import ConfigError, TrainConfig, check_choice, check_folders, check_int
from utils.train import parse_args, pick_device


@pytest.mark.parametrize("setting, value, message", [
    ("model", "resnet", "model='resnet' is not allowed: model must be one of \\['baseline'"),
    ("epochs", 0, "epochs=0 is not allowed: epochs must be an integer >= 1"),
    ("epochs", 2.5, "epochs=2.5 is not allowed"),
    ("epochs", 21, "epochs=21 is not allowed: epochs must be at most 20"),
    ("batch_size", -8, "batch_size=-8 is not allowed: batch_size must be an integer >= 1"),
    ("batch_size", "64", "batch_size='64' is not allowed"),
    ("batch_size", True, "batch_size=True is not allowed"),
    ("seed", -1, "seed=-1 is not allowed"),
    ("threads", -2, "threads=-2 is not allowed"),
    ("lr", 0, "lr=0 is not allowed: lr must be a number in \\(0, 10\\]"),
    ("lr", float("nan"), "lr=nan is not allowed"),
    ("momentum", 1.0, "momentum=1.0 is not allowed: momentum must be a number in \\[0, 1\\)"),
    ("weight_decay", -0.1, "weight_decay=-0.1 is not allowed"),
    ("data_fraction", 0, "data_fraction=0 is not allowed: data_fraction must be a number in \\(0, 1\\]"),
    ("data_fraction", 1.5, "data_fraction=1.5 is not allowed"),
    ("augment_strength", -1, "augment_strength=-1 is not allowed: augment_strength must be a number in \\[0, 2\\]"),
    ("device", "gpu", "device='gpu' is not allowed: device must be one of \\['auto', 'cpu', 'cuda', 'mps'\\]"),
    ("augment", "yes", "augment='yes' is not allowed: augment must be True or False"),
    ("resume", 1, "resume=1 is not allowed"),
    ("bf16", "no", "bf16='no' is not allowed: bf16 must be True or False"),
    ("channels_last", None, "channels_last=None is not allowed"),
    ("metrics_path", "out/metrics.txt", "metrics_path='out/metrics.txt' is not allowed: metrics_path must be '' "),
    ("run_name", "../escape", "run_name='../escape' is not allowed"),
    ("run_name", "..", "run_name='..' is not allowed"),
    ("runs_dir", "", "runs_dir='' is not allowed"),
])
def test_each_wrong_setting_is_named_with_what_is_allowed(setting, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{setting: value})


def test_defaults_are_valid_and_within_the_course_budget():
    cfg = TrainConfig()
    assert cfg.model == "baseline" and 1 <= cfg.epochs <= 15


def test_a_run_is_named_after_its_model_unless_named():
    assert TrainConfig().run_dir.as_posix() == "runs/baseline"
    assert TrainConfig(model="compact").run_dir.as_posix() == "runs/compact"  # never over the baseline's run
    assert TrainConfig(model="compact", run_name="c2").run_dir.as_posix() == "runs/c2"


def test_command_line_flags():
    cfg = parse_args(["--epochs", "3", "--seed", "7", "--augment", "false", "--data-fraction", "0.5"])
    assert (cfg.epochs, cfg.seed, cfg.augment, cfg.data_fraction) == (3, 7, False, 0.5)
    assert parse_args(["--model", "compact"]).run_name == "compact"
    with pytest.raises(SystemExit):
        parse_args(["--augment", "maybe"])
    with pytest.raises(ConfigError, match="epochs=0"):
        parse_args(["--epochs", "0"])


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")


@pytest.mark.parametrize("check, args, message", [
    (check_int, ("n_samples", 0, 1, 200), "n_samples=0 is not allowed: n_samples must be an integer >= 1 and <= 200"),
    (check_int, ("n_samples", 201, 1, 200), "n_samples=201 is not allowed"),
    (check_int, ("seed", "3", 0), "seed='3' is not allowed: seed must be an integer >= 0"),
    (check_choice, ("layer", "conv9", ["conv1", "conv5"]), "layer='conv9' is not allowed: layer must be one of \\['conv1', 'conv5'\\]"),
    (check_choice, ("check_target", "yes", [True, False, "auto"]), "check_target='yes' is not allowed"),
    (check_folders, ("sweeps", "runs/sweep-baseline"), "sweeps='runs/sweep-baseline' is not allowed: sweeps must be a non-empty list"),
    (check_folders, ("sweeps", []), "sweeps=\\[\\] is not allowed"),
])
def test_notebook_parameter_checks(check, args, message):
    with pytest.raises(ConfigError, match=message):
        check(*args)


def test_notebook_parameter_checks_accept_good_values():
    check_int("n_samples", 40, 1, 200)
    check_choice("layer", "conv5", ["conv1", "conv5"])
    check_folders("sweeps", ["runs/sweep-baseline"])
