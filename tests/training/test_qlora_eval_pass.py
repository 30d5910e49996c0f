"""QLoRA gradients do not change after an evaluation pass (a ROUGE check, the validation loss).

bitsandbytes 0.50 repacks 4-bit weights for a CPU inference kernel in eval mode and keeps
them packed in training mode, where that kernel has no backward; `add_lora` turns the repacking
off. On a CPU without AVX512-BF16 the repacking never happens and these tests pass either way.
"""

import pytest
import torch

from babelsum.config import ModelSpec, TrainMethod
from babelsum.stages.train import load_for_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

IDS = torch.tensor([[5, 6, 7, 8, 9, 10]])


def gradients(tiny_models, family: str, targets: list[str], evaluated_first: bool) -> dict:
    spec = ModelSpec(path=str(tiny_models[family]), chat=family != "phi")
    method = TrainMethod(model="m", method="qlora", target_modules=targets, lora_dropout=0.0)
    torch.manual_seed(0)
    model = load_for_method(spec, method, "fp32", "train.methods[0]")
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # a fresh adapter is zero: give the gradients something to carry
            torch.nn.init.normal_(parameter, std=0.1)
    if evaluated_first:
        model.eval()
        with torch.no_grad():
            model(input_ids=IDS)
        model.train()
    model(input_ids=IDS, labels=IDS).loss.backward()
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "family, targets",
    [("phi3", ["qkv_proj", "o_proj"]), ("phi", ["q_proj", "k_proj", "v_proj", "dense"])],
)
def test_an_eval_pass_leaves_qlora_gradients_as_they_were(tiny_models, family, targets):
    before = gradients(tiny_models, family, targets, evaluated_first=False)
    after = gradients(tiny_models, family, targets, evaluated_first=True)
    assert before and before.keys() == after.keys()
    for name in before:
        torch.testing.assert_close(after[name], before[name], msg=name)
