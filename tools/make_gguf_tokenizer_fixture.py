#!/usr/bin/env python3
"""Build Fixtures/gguf-tokenizer/gguf-tokenizer.gguf and gguf-tokenizer.golden.json: a
GGUF holding only tokenizer metadata, written with gguf.GGUFWriter the way llama.cpp's converter
writes a byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2", tokens in id order, merges as
"left right", token_type 1 NORMAL / 3 CONTROL, bos/eos ids, pre = "smollm", a chat template), from
the committed 700-token GPT-2-style tokenizer (Tests/TokenizationTests/Fixtures/gpt2.tokenizer.json).

The golden ids come from the `tokenizers` library on that tokenizer.json with SmolLM's
pre-tokenizer (Digits(individual_digits=True), then ByteLevel), over the committed gpt2 golden
texts plus texts full of numbers: what the tokenizer.json rebuilt from the GGUF must give.

Run with the tools venv: .venv-tools/bin/python tools/make_gguf_tokenizer_fixture.py
"""
import json
from pathlib import Path

import gguf
from tokenizers import Tokenizer, pre_tokenizers

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "Tests" / "TokenizationTests" / "Fixtures"
OUT = REPO / "Fixtures" / "gguf-tokenizer"
TEMPLATE = "{% for message in messages %}{{ '<|endoftext|>' + message['content'] }}{% endfor %}"


def main():
    spec = json.loads((SOURCE / "gpt2.tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    tokens = [None] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    specials = {t["id"] for t in spec["added_tokens"] if t["special"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]

    OUT.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(OUT / "gguf-tokenizer.gguf", "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if i in specials else 1 for i in range(len(tokens))])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_chat_template(TEMPLATE)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    reference = Tokenizer.from_str(json.dumps(spec))
    reference.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    texts = [c["text"] for c in json.loads((SOURCE / "gpt2.golden.json").read_text())["cases"]]
    texts += ["In 2024, 3.14159 x 42 = 131.946; ٣ Ⅻ ½ ² 10,000 people", " 1 22 333 4444\r\n55555 ", "x86_64 v1.2.3-rc4"]
    cases = [dict(text=t, ids=reference.encode(t).ids) for t in texts]
    (OUT / "gguf-tokenizer.golden.json").write_text(json.dumps(dict(template=TEMPLATE, cases=cases), ensure_ascii=False) + "\n")
    print(f"{len(tokens)} tokens, {len(merges)} merges, {len(cases)} golden texts")


if __name__ == "__main__":
    main()
