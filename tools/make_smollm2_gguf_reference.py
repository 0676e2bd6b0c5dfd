#!/usr/bin/env python3
"""Write Fixtures/smollm2-gguf/reference.json: what the Hugging Face libraries make of the real
SmolLM2-135M-Instruct Q4_1 GGUF (fetched by tools/fetch_smollm2_gguf.sh; not committed).

* tokenizer: for golden texts (the committed tokenizer corpora plus chat-like texts), the ids of
  the `tokenizers` library with SmolLM's split (Digits(individual_digits) then ByteLevel, which is
  what tokenizer.ggml.pre = "smollm" names in llama.cpp) over the vocabulary and merges that
  transformers reads from the GGUF (AutoTokenizer.from_pretrained(gguf_file=...)); and the ids
  of that transformers tokenizer as it is, which ignores "smollm" and splits like plain GPT-2
  (recorded to show where the two differ: only around numbers);
* chat: three prompts rendered by transformers' apply_chat_template (the GGUF's template, with
  the generation prompt), their ids (the `tokenizers` split above, and template_ids: what
  apply_chat_template(tokenize=True) itself gives), and 32 greedy ids of AutoModelForCausalLM loaded from the
  GGUF (float32; argmax of a full forward per step, no stop at EOS).

Usage: .venv-tools/bin/python tools/make_smollm2_gguf_reference.py [PATH.gguf]
(default: the path tools/fetch_smollm2_gguf.sh prints).
"""
import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import torch
import transformers
from tokenizers import pre_tokenizers

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Fixtures" / "smollm2-gguf" / "reference.json"
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "If I have 3 apples and buy 5 more, how many apples do I have?",
]


def main():
    warnings.filterwarnings("ignore")
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    else:
        path = Path(subprocess.check_output(["bash", str(REPO / "tools/fetch_smollm2_gguf.sh")], text=True).strip().splitlines()[-1])
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    folder, name = path.parent, path.name
    hf = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    smollm = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    smollm.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])

    texts = []
    for corpus in ("gpt2", "qwen2", "llama3"):
        cases = json.loads((REPO / f"Tests/TokenizationTests/Fixtures/{corpus}.golden.json").read_text())["cases"]
        texts += [c["text"] for c in cases]
    texts += ["<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "Version 3.14159 of 2024, x86_64 ",
              "  leading spaces, trailing \n\n", "naïve café 東京 🚀"]
    texts = list(dict.fromkeys(texts))
    tokenizer_cases = []
    for text in texts:
        ids = smollm(text, add_special_tokens=True)["input_ids"]
        plain = hf(text, add_special_tokens=True)["input_ids"]
        case = dict(text=text, ids=ids)
        if plain != ids:
            case["transformers_gguf_ids"] = plain
        tokenizer_cases.append(case)

    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    chats = []
    for prompt in PROMPTS:
        rendered = hf.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        ids = smollm(rendered, add_special_tokens=False)["input_ids"]
        template_ids = hf.apply_chat_template([{"role": "user", "content": prompt}], tokenize=True, add_generation_prompt=True)
        if not isinstance(template_ids, list):  # a BatchEncoding in newer transformers
            template_ids = template_ids["input_ids"]
        sequence = list(ids)
        with torch.no_grad():
            for _ in range(32):
                sequence.append(int(model(torch.tensor([sequence])).logits[0, -1].argmax()))
        greedy = sequence[len(ids):]
        chats.append(dict(prompt=prompt, rendered=rendered, ids=ids, template_ids=list(template_ids), greedy=greedy, greedy_text=hf.decode(greedy)))
        print(repr(prompt), "->", repr(hf.decode(greedy)))
    reference = dict(gguf=dict(file=name, sha256=sha, bytes=path.stat().st_size),
                     versions=dict(transformers=transformers.__version__, torch=torch.__version__),
                     tokenizer=tokenizer_cases, chats=chats)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(reference, ensure_ascii=False) + "\n")
    differing = sum("transformers_gguf_ids" in c for c in tokenizer_cases)
    print(f"{OUT.relative_to(REPO)}: {len(tokenizer_cases)} texts ({differing} split differently by transformers' GGUF tokenizer), "
          f"{len(chats)} chats; {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
