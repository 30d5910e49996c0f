"""A causal model in vLLM's offline engine: greedy answers to prompts, as `Generation`s.

The same contract as `models.generate.generate` (one Generation per prompt, in order; empty
answers recorded as such, a failure recorded with its reason, never dropped), so the teacher
and evaluation can choose `backend: vllm` on GPU nodes. vLLM is an optional extra
(`pip install babelsum[vllm]`); it is imported only here.
"""

from __future__ import annotations

from babelsum.config import ModelSpec
from babelsum.config.schema import Decoding
from babelsum.errors import StageError
from babelsum.models.generate import Generation


class VllmModel:
    def __init__(self, spec: ModelSpec, max_model_len: int, where: str):
        from babelsum.models.loading import (
            adapter_base,
            is_seq2seq,
            load_tokenizer,
            resolve_model_path,
        )

        if (spec.decoding or Decoding()) != Decoding():  # the teacher's model; see evaluate
            raise StageError(
                f"{where} vllm decodes greedily only, but {spec.path} sets `decoding` "
                f"({spec.decoding}); use backend hf"
            )
        try:
            from vllm import LLM
        except ImportError:
            raise StageError(
                f"{where} vllm needs vLLM: `pip install babelsum[vllm]` on the GPU nodes, "
                "or use backend hf"
            ) from None
        if is_seq2seq(spec):
            raise StageError(f"{where} vllm does not run seq2seq model {spec.path}; use hf")
        path = resolve_model_path(spec)
        if adapter_base(path, spec.revision):
            raise StageError(
                f"{where} vllm runs full models; {path} is a LoRA adapter: merge it "
                "(`launch merge`) or use backend hf"
            )
        self.spec = spec
        self.tokenizer = load_tokenizer(spec)
        self.llm = LLM(
            model=path,
            revision=spec.revision,
            dtype=spec.dtype,
            quantization="bitsandbytes" if spec.load_in_4bit else None,
            trust_remote_code=spec.trust_remote_code,
            max_model_len=max_model_len,
            seed=0,
        )

    def generate(self, prompts: list[str], max_new_tokens: int) -> list[Generation]:
        """Greedy (temperature 0) answers, in the order of `prompts`."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        from babelsum.models.prompts import uses_chat_template

        special = not uses_chat_template(self.spec)  # the chat template holds its own BOS
        inputs = [
            TokensPrompt(
                prompt_token_ids=self.tokenizer(p, add_special_tokens=special)["input_ids"]
            )
            for p in prompts
        ]
        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        try:
            requests = self.llm.generate(inputs, params)
        except (RuntimeError, ValueError) as err:
            reason = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:250]}"
            return [Generation(None, "failed", reason, 0) for _ in prompts]
        results = []
        for request in requests:
            output = request.outputs[0]
            text = output.text.strip()
            tokens = len(output.token_ids)
            if text:
                results.append(Generation(text, "ok", None, tokens))
            else:
                results.append(Generation(None, "empty", "the model generated no text", tokens))
        return results
