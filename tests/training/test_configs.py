"""The shipped study configs and DeepSpeed files: valid, runnable as their first line says."""

from pathlib import Path

import pytest

from babelsum.config import load_config
from babelsum.training.deepspeed_file import find_deepspeed_config, read_deepspeed_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
STUDIES = ["paper.yaml", "paper-as-run.yaml", "slds.yaml", "xsum-phi2.yaml"]


@pytest.mark.parametrize("name", STUDIES)
def test_study_config_validates_and_names_its_command(name):
    path = CONFIGS / name
    load_config(path)
    assert path.read_text().splitlines()[0] == f"# launch sweep configs/{name} --executor slurm"


@pytest.mark.parametrize("name", STUDIES)
def test_deepspeed_files_named_by_study_configs_exist_and_parse(name):
    for method in load_config(CONFIGS / name).train.methods:
        if method.deepspeed:
            path = find_deepspeed_config(method.deepspeed, CONFIGS, "train.methods")
            assert read_deepspeed_config(path, "train.methods")["zero_optimization"]["stage"] in (
                2,
                3,
            )


def test_paper_settings():
    config = load_config(CONFIGS / "paper.yaml")
    methods = {m.model: m for m in config.train.methods}
    qwen, phi, mbart = methods["qwen2.5-0.5b"], methods["phi-4-mini"], methods["mbart-50"]
    assert (qwen.method, qwen.learning_rate, qwen.gradient_accumulation) == ("full", 2e-5, 16)
    assert (qwen.weight_decay, qwen.precision, qwen.gradient_checkpointing) == (0.01, "bf16", True)
    assert (phi.method, phi.learning_rate, phi.lora_r, phi.lora_alpha) == ("qlora", 5e-4, 32, 64)
    # Phi-4-mini is a Phi3 model: these are its real module names (not Wqkv/out_proj)
    assert phi.target_modules == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    assert (mbart.method, mbart.learning_rate, mbart.epochs, mbart.precision) == (
        "seq2seq",
        3e-5,
        3,
        "fp32",
    )
    assert config.models["mistral-small"].load_in_4bit and config.teacher.model == "mistral-small"
    assert config.languages == ["en", "fr", "de", "ja"]
    assert phi.weight_decay == 0.01  # as in the study
    judge = config.evaluate.judge
    assert config.models[judge.model].path == "google/gemma-3-27b-it"
    assert judge.max_input_tokens == config.evaluate.max_input_tokens == 4096
    assert config.resources.for_stage("judge").gpus_per_node == 1
    assert config.prompt_choice("student", "phi-4-mini") == (None, "prompts.student")  # default


def test_paper_as_run_differs_from_paper_only_where_the_study_did():
    paper = load_config(CONFIGS / "paper.yaml")
    as_run = load_config(CONFIGS / "paper-as-run.yaml")
    phi = {m.model: m for m in as_run.train.methods}["phi-4-mini"]
    assert phi.target_modules == ["Wqkv", "out_proj", "up_proj", "down_proj"]
    assert phi.target_modules_match == "suffix"
    assert as_run.data.wikipedia.raw_wikitext and not as_run.data.cleaning.strip_markup
    assert as_run.prompts.teacher == as_run.prompts.student == "paper"
    assert as_run.evaluate.judge.max_input_tokens == 3072
    # everything else is the corrected study's
    differ = {"study", "data", "prompts", "train", "evaluate"}
    assert {k: v for k, v in as_run.model_dump().items() if k not in differ} == {
        k: v for k, v in paper.model_dump().items() if k not in differ
    }
    settings = ("target_modules", "target_modules_match")
    for ours, theirs in zip(paper.train.methods, as_run.train.methods, strict=True):
        assert ours.model_dump(exclude=set(settings)) == theirs.model_dump(exclude=set(settings))
    assert paper.evaluate.model_dump(exclude={"judge"}) == as_run.evaluate.model_dump(
        exclude={"judge"}
    )


@pytest.mark.parametrize(
    "text, error",
    [("{", "is not valid JSON"), ("[1, 2]", "must be a JSON object with a zero_optimization")],
)
def test_bad_deepspeed_file_is_reported_in_one_line(tmp_path, text, error):
    from babelsum.errors import StageError

    (tmp_path / "ds.json").write_text(text)
    with pytest.raises(StageError, match=error):
        read_deepspeed_config(tmp_path / "ds.json", "train.methods[0]")


def test_missing_deepspeed_file_lists_where_it_was_looked_for(tmp_path):
    from babelsum.errors import StageError

    with pytest.raises(StageError, match=r"train.methods\[0\].deepspeed: no such file 'nope.json'"):
        find_deepspeed_config("nope.json", tmp_path, "train.methods[0]")


def test_slds_settings():
    config = load_config(CONFIGS / "slds.yaml")
    (method,) = config.train.methods
    gemma = config.models["gemma-3-4b"]
    assert config.split.use_official and config.data.hf.splits == ["train", "validation", "test"]
    assert config.prompts.student == "slds"
    assert gemma.attn_implementation == "flash_attention_2" and gemma.decoding.num_beams == 1
    assert (method.method, method.optimizer, method.use_liger_kernel) == (
        "qlora",
        "paged_adamw_8bit",
        True,
    )
    assert config.train.merge_adapters and method.eval_steps


def test_xsum_phi2_has_the_seeds_settings_and_both_target_sets():
    config = load_config(CONFIGS / "xsum-phi2.yaml")
    attention, mlp = config.train.methods
    assert attention.target_modules == ["q_proj", "k_proj", "v_proj", "dense"]
    assert mlp.target_modules == ["fc1", "fc2"]
    assert attention.label != mlp.label
    for m in (attention, mlp):
        assert (m.method, m.epochs, m.per_device_batch_size, m.gradient_accumulation) == (
            "qlora",
            3,
            2,
            8,
        )
        assert (m.precision, m.weight_decay, m.max_input_tokens) == ("fp16", 0.01, 1126)
        assert m.eval_steps  # validation loss and perplexity while training
    assert config.models["phi-2"].decoding.num_beams == 4
    assert config.split.use_official and config.prompts.student == "xsum-phi2"


def test_paper_decodes_mbart_greedily_though_it_ships_beams():
    config = load_config(CONFIGS / "paper.yaml")
    assert config.models["mbart-50"].decoding.num_beams == 1
