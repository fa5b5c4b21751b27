import importlib.util
from pathlib import Path

import pytest

from utils.config import (
    FOLDERS,
    LEARNER_SETTINGS,
    RECIPES,
    ConfigError,
    TrainConfig,
    check_parameter,
    config_defaults,
    field_names,
    integer,
    one_of,
    parameters_cell,
    resume_fields,
)
from utils.machine import pick_device

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"
spec = importlib.util.spec_from_file_location("train_script", SCRIPT)
train_script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_script)


@pytest.mark.parametrize("setting, value, message", [
    ("model", "resnet", "model='resnet' is not allowed: model must be one of \\['baseline'"),
    ("model", ["baseline"], "model=\\['baseline'\\] is not allowed: model must be one of"),
    ("epochs", 0, "epochs=0 is not allowed: epochs must be an integer >= 1"),
    ("epochs", 2.5, "epochs=2.5 is not allowed"),
    ("epochs", 21, "epochs=21 is not allowed: epochs must be an integer >= 1 and <= 20"),
    ("batch_size", -8, "batch_size=-8 is not allowed: batch_size must be an integer >= 1"),
    ("batch_size", "64", "batch_size='64' is not allowed"),
    ("batch_size", True, "batch_size=True is not allowed"),
    ("seed", -1, "seed=-1 is not allowed"),
    ("seed", 2**64, "seed=18446744073709551616 is not allowed: seed must be an integer >= 0 and <= 1844674"),
    ("threads", -2, "threads=-2 is not allowed"),
    ("lr", 0, "lr=0 is not allowed: lr must be a number in \\(0, 10\\]"),
    ("lr", float("nan"), "lr=nan is not allowed"),
    ("lr", "0.1", "lr='0.1' is not allowed: lr must be a number in"),
    ("momentum", 1.0, "momentum=1.0 is not allowed: momentum must be a number in \\[0, 1\\)"),
    ("momentum", 0, "min_momentum=0.85 is not allowed: min_momentum must be at most momentum \\(0\\); set both"),
    ("min_momentum", 0.99, "min_momentum=0.99 is not allowed: min_momentum must be at most momentum \\(0.95\\)"),
    ("weight_decay", -0.1, "weight_decay=-0.1 is not allowed"),
    ("data_fraction", 0, "data_fraction=0 is not allowed: data_fraction must be a number in \\(0, 1\\]"),
    ("data_fraction", 1.5, "data_fraction=1.5 is not allowed"),
    ("augment_strength", -1, "augment_strength=-1 is not allowed: augment_strength must be a number in \\[0, 2\\]"),
    ("device", "gpu", "device='gpu' is not allowed: device must be one of \\['auto', 'cpu', 'cuda', 'mps'\\]"),
    ("device", ["cpu"], "device=\\['cpu'\\] is not allowed"),
    ("augment", "yes", "augment='yes' is not allowed: augment must be True or False"),
    ("resume", 1, "resume=1 is not allowed: resume must be True or False"),
    ("bf16", "no", "bf16='no' is not allowed: bf16 must be True or False"),
    ("channels_last", None, "channels_last=None is not allowed"),
    ("check_target", 1, "check_target=1 is not allowed: check_target must be one of \\[True, False, 'auto'\\]"),
    ("check_target", "True", "check_target='True' is not allowed"),
    ("metrics_path", "out/metrics.txt", "metrics_path='out/metrics.txt' is not allowed: metrics_path must be '' "),
    ("metrics_path", ["m.json"], "metrics_path=\\['m.json'\\] is not allowed: metrics_path must be ''"),
    ("run_name", "../escape", "run_name='../escape' is not allowed"),
    ("run_name", "..", "run_name='..' is not allowed"),
    ("run_name", "CON", "run_name='CON' is not allowed: .*Windows reserves"),
    ("run_name", "nul.txt", "run_name='nul.txt' is not allowed"),
    ("run_name", "com1", "run_name='com1' is not allowed"),
    ("run_name", "run.", "run_name='run.' is not allowed"),
    ("run_name", ["a"], "run_name=\\['a'\\] is not allowed: run_name must be a folder name"),
    ("runs_dir", "", "runs_dir='' is not allowed"),
    ("runs_dir", ["runs"], "runs_dir=\\['runs'\\] is not allowed: runs_dir must be a non-empty folder path"),
])
def test_each_wrong_setting_is_named_with_what_is_allowed(setting, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{setting: value})


def test_good_values_pass():
    TrainConfig(seed=2**64 - 1, run_name="console", check_target=True, lr=1, momentum=0, min_momentum=0)


def test_runs_dir_and_metrics_path_expand_the_home_folder():
    cfg = TrainConfig(runs_dir="~/x", metrics_path="~/m.json")
    assert cfg.run_dir == Path.home() / "x" / "baseline" and cfg.metrics_file == Path.home() / "m.json"


def test_defaults_are_valid_and_within_the_course_budget():
    cfg = TrainConfig()
    assert cfg.model == "baseline" and 1 <= cfg.epochs <= 15


def test_a_model_has_its_recipe():
    compact = TrainConfig.recipe("compact")
    assert compact.epochs == RECIPES["compact"]["epochs"] != TrainConfig().epochs
    assert TrainConfig.recipe("compact", epochs=3).epochs == 3 and compact.lr == RECIPES["compact"]["lr"]
    assert TrainConfig.recipe("baseline") == TrainConfig()
    with pytest.raises(ConfigError, match="model='vgg' is not allowed"):
        TrainConfig.recipe("vgg")


def test_a_run_is_named_after_its_model_unless_named():
    assert TrainConfig().run_dir.as_posix() == "runs/baseline"
    assert TrainConfig(model="compact").run_dir.as_posix() == "runs/compact"  # never over the baseline's run
    assert TrainConfig(model="compact", run_name="c2").run_dir.as_posix() == "runs/c2"


def test_one_source_for_the_settings():
    """The CLI flags, the resume list and the notebooks' parameters cell all come from TrainConfig's fields."""
    names = field_names()
    assert list(config_defaults()) == names
    assert set(resume_fields()) < set(names) and "seed" in resume_fields() and "resume" not in resume_fields()
    assert "compile" in resume_fields()  # a compiled step's sums differ: resuming with the other would not continue
    for model in ("baseline", "compact"):
        cell = parameters_cell(model)
        assert [line.split(" = ")[0] for line in cell.splitlines() if " = " in line] == [
            n for n in names if n in LEARNER_SETTINGS]
        namespace = {}
        exec(cell, namespace)
        assert TrainConfig.from_parameters(namespace) == TrainConfig.recipe(model)
    compact = TrainConfig.recipe("compact")
    assert "epochs = None" in cell and f"(None: baseline 12, compact {compact.epochs})" in cell  # recipes differ


def test_a_setting_left_as_none_takes_the_models_recipe_and_any_other_is_kept():
    assert TrainConfig.from_parameters({"model": "compact", "epochs": None, "seed": 3}) == \
        TrainConfig.recipe("compact", seed=3)
    assert TrainConfig.from_parameters({"model": "compact", "epochs": 12}).epochs == 12
    assert TrainConfig.from_parameters({"threads": 1, "unrelated": 5}) == TrainConfig(threads=1)


def test_command_line_flags():
    cfg = train_script.parse_args(["--epochs", "3", "--seed", "7", "--augment", "false", "--data-fraction", "0.5"])
    assert (cfg.epochs, cfg.seed, cfg.augment, cfg.data_fraction) == (3, 7, False, 0.5)
    assert train_script.parse_args(["--model", "compact"]) == TrainConfig.recipe("compact")
    assert train_script.parse_args(["--check-target", "true"]).check_target is True
    with pytest.raises(SystemExit):
        train_script.parse_args(["--augment", "maybe"])
    with pytest.raises(ConfigError, match="epochs=0"):
        train_script.parse_args(["--epochs", "0"])


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")


@pytest.mark.parametrize("name, value, rule, message", [
    ("n_samples", 0, integer(1, 200), "n_samples=0 is not allowed: n_samples must be an integer >= 1 and <= 200"),
    ("n_samples", 201, integer(1, 200), "n_samples=201 is not allowed"),
    ("seed", "3", integer(0), "seed='3' is not allowed: seed must be an integer >= 0"),
    ("seed", True, integer(0), "seed=True is not allowed"),
    ("layer", "conv9", one_of("conv1", "conv5"),
     "layer='conv9' is not allowed: layer must be one of \\['conv1', 'conv5'\\]"),
    ("sweeps", "runs/sweep-baseline", FOLDERS,
     "sweeps='runs/sweep-baseline' is not allowed: sweeps must be a non-empty list"),
    ("sweeps", [], FOLDERS, "sweeps=\\[\\] is not allowed"),
])
def test_notebook_parameter_checks(name, value, rule, message):
    with pytest.raises(ConfigError, match=message):
        check_parameter(name, value, rule)


def test_notebook_parameter_checks_accept_good_values():
    check_parameter("n_samples", 40, integer(1, 200))
    check_parameter("layer", "conv5", one_of("conv1", "conv5"))
    check_parameter("sweeps", ["results/sweep-baseline"], FOLDERS)
