#!/usr/bin/env python3
"""Builds small byte-level BPE tokenizers with Hugging Face `tokenizers` and writes golden files.

Run:  .venv-tools/bin/python tools/make_tokenizer_fixtures.py

Writes into Tests/TokenizationTests/Fixtures/:
  <name>.tokenizer.json   a tokenizer trained here on a small built-in corpus (no model hub)
  <name>.golden.json      {"tokenizer": ..., "library": "tokenizers x.y.z", "cases": [
                             {"text", "ids", "ids_with_special", "decoded", "decoded_skip_special"}]}
    ids                   encode(text, add_special_tokens=False).ids
    ids_with_special      encode(text, add_special_tokens=True).ids   (post-processor applied)
    decoded               decode(ids_with_special, skip_special_tokens=False)
    decoded_skip_special  decode(ids_with_special, skip_special_tokens=True)
    pretokens             normalizer + pre-tokenizer words of the whole text (byte-level form)

Tokenizers:
  gpt2         ByteLevel pre-tokenizer (GPT-2 regex, add_prefix_space=false), merges as ["a","b"] pairs
  gpt2_prefix  the same model with add_prefix_space=true, merges as "a b" strings
  qwen2        NFC, Sequence[Split(Qwen2 pattern, isolated), ByteLevel(use_regex=false)], chat special
               tokens, one normalized non-special added token; merges as pairs
  llama3       Sequence[Split(Llama-3 pattern with \\p{N}{1,3}), ByteLevel(use_regex=false)], merges as
               "a b" strings, ignore_merges=true, TemplateProcessing BOS, lstrip/rstrip and single_word
               added tokens

Deterministic: training on a fixed corpus with one thread gives the same files every run.
"""
import json
import os
import random
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TokenizationTests", "Fixtures")

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Training corpus: varied enough that merges cover letters, digits, whitespace runs and non-Latin bytes.
TRAIN_LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "She said: \"It's done, isn't it? We're here, they've gone, I'm sure you'll see, he'd know.\"",
    "IT'S LOUD! WE'RE HERE. THEY'VE LEFT. I'M OUT. YOU'LL SEE. HE'D GO. DON'T.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n",
    "for i in range(10):\n\tif i % 2 == 0:\n\t\tprint(i)\r\n",
    "In 2024, 1234567 people paid $3.50 each; total = 4321098.75 (approx.)",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 10000 3.14159 2.71828 -42 +7 1e10",
    "Café, naïve, façade, résumé, jalapeño, Ångström, crème brûlée, São Paulo, Zürich.",
    "Straße, Ærøskøbing, Łódź, Dvořák, İstanbul, ǅemal, ﬁne print.",
    "日本語のテキストです。東京は大きい都市です。",
    "中文文本：你好，世界！我们今天学习分词。",
    "한국어 문장입니다. 안녕하세요!",
    "Русский текст: привет, мир! Ёлка и ёж.",
    "Ελληνικά: Γειά σου Κόσμε. العربية: مرحبا بالعالم. עברית: שלום עולם",
    "Emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇫🇷 ✨🚀",
    "Punctuation!!! ??? ... --- *** ### @@@ <<>> [[]] {{}} ((())) ;;; ::: ,,, ''' \"\"\"",
    "URL: https://example.com/path?q=1&r=two#frag; email: someone@example.org",
    "    indented with four spaces\n        and eight\n\n\n\ntrailing blank lines   \n",
    "Tabs\tbetween\twords\t\tand\r\nwindows\r\nline endings\r\n",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\nHi there.<|im_end|>\n",
    "Mixed CASE words like iPhone, eBay, McDonald's, O'Neil's, rock'n'roll.",
    "Math: x^2 + y^2 = z^2, ∑ᵢ aᵢ ≤ ∞, √2 ≈ 1.414, α β γ δ ε.",
]
TRAIN_CORPUS = [line for _ in range(30) for line in TRAIN_LINES]

# Golden texts: at least ~60, covering the cases the Swift scanner must get exactly right.
GOLDEN_TEXTS = [
    "",
    " ",
    "  ",
    "a",
    "Hello world",
    "Hello world   ",
    "   leading spaces",
    "trailing space ",
    "The quick brown fox jumps over the lazy dog.",
    "It's it'S IT'S it's",
    "don't DON'T Don't",
    "we're WE'RE We'Re they've THEY'VE I'm I'M you'll YOU'LL he'd HE'D",
    "'s 't 're 've 'm 'll 'd",
    "'sam 'tea 'red",
    "rock'n'roll O'Neil's McDonald's",
    "ſtraße's Kelvin K",
    "0",
    "12",
    "123",
    "1234",
    "12345678901234567890",
    "3.14159 2.71828 -42 +7 1e10 $3.50",
    "In 2024, 1234567 people paid 4321098.75",
    "a1b22c333d4444",
    "x" * 40,
    "          ten spaces",
    "a          b",
    "word\tword\t\tword",
    "\t\tindented with tabs",
    "line one\nline two\n\nline four",
    "windows\r\nline\r\nendings\r\n",
    "\n",
    "\n\n\n",
    "\r\n",
    "  \n  \n",
    "end with newline and spaces\n   ",
    "mixed \t \n \r\n whitespace",
    "Punctuation!!! ??? ... ---",
    "(a+b)*c = d; e[0] = {f: g}",
    "\"quoted\" 'single' `back`",
    "https://example.com/path?q=1&r=two#frag",
    "someone@example.org",
    "def add(a, b):\n    return a + b\n",
    "Café naïve façade résumé",
    "Cafe\u0301 nai\u0308ve",
    "Ångström A\u030angstro\u0308m",
    "Straße Ærøskøbing Łódź Dvořák İstanbul",
    "ﬁne ligature",
    "日本語のテキストです。",
    "中文文本：你好，世界！",
    "한국어 문장입니다.",
    "Привет, мир! Ёлка.",
    "Γειά σου Κόσμε",
    "مرحبا بالعالم",
    "😀",
    "Emoji 😀😃😄 done",
    "👍🏽 thumbs with skin tone",
    "👨‍👩‍👧‍👦 family ZWJ",
    "🏳️‍🌈 flag and ❤️ heart",
    "🇫🇷🇩🇪 regional indicators",
    "✨🚀 sparkles",
    "<|endoftext|>",
    "Hello<|endoftext|>world",
    "Hello <|endoftext|> world",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
    "<|im_start|><|im_end|><|endoftext|>",
    "<|im_start",
    "text <mask> here",
    "text   <mask>   here",
    "token<mask>token",
    "Ångström is a unit",
    "The Ångström unit",
    "<|begin_of_text|>Hi<|eot_id|>",
    "hello world single_word",
    "helloworld",
    "xsingle_word single_words _single_word single_word. (single_word)",
    "it'ſ IT'ſ long s x'ſx x'Sx x'LLx",
    "a\u00a0b non-breaking space",
    "a\u3000b ideographic space",
    "a\u2028b line separator",
    "a\u0085b next line",
    "zero\u200bwidth",
    "Math: x^2 + y^2 = z^2, ∑ᵢ aᵢ ≤ ∞, √2 ≈ 1.414",
    "Ⅻ ½ ² ٣ numbers of other kinds",
    "x" + " " * 17 + "y" + "\t" * 5 + "z",
    "The end.   ",
    "multiple\n\n\n\n\nnewlines",
    "   \r\n\t  ",
    "A somewhat longer paragraph that mixes English, numbers like 31337 and 42, punctuation (lots of it!), "
    "and a little café française — with an em dash — plus 中文 and emoji 🎉 at the end.",
]

# Random strings over the code points where the scanners' alternatives meet (space before letter,
# whitespace runs before CR/LF, apostrophes, digits of every kind, marks, ZWJ emoji, added tokens),
# from a fixed seed so the file is stable.
FUZZ_POOL = [
    " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b",
    "a", "b", "Z", "é", "ß", "ſ", "ǅ", "ª", "'", "'", "s", "t", "re", "VE", "ll", "D", "m",
    "0", "7", "42", "٣", "½", "Ⅻ", "²", "!", ".", "-", "(", "_", "\u0301", "\u200b", "\u200d",
    "😀", "🏽", "\ufe0f", "🇫", "中", "語", "ё", "<|im_end|>", "<|endoftext|>", "<mask>", "single_word",
    "Ångström", "A\u030angstro\u0308m", "<|begin_of_text|>",
]


def fuzz_texts(count=150, seed=1234):
    rng = random.Random(seed)
    return ["".join(rng.choice(FUZZ_POOL) for _ in range(rng.randint(1, 24))) for _ in range(count)]


GOLDEN_TEXTS += fuzz_texts()


def base_bpe(ignore_merges=False):
    return models.BPE(unk_token=None, ignore_merges=ignore_merges)


def train(tok, vocab_size, special):
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    return tok


def merges_as_strings(data):
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    return data


def merges_as_pairs(data):
    data["model"]["merges"] = [m if isinstance(m, list) else m.split(" ", 1) for m in data["model"]["merges"]]
    return data


def build_gpt2():
    tok = Tokenizer(base_bpe())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    train(tok, 700, ["<|endoftext|>"])
    return merges_as_pairs(json.loads(tok.to_str()))


def build_gpt2_prefix(gpt2):
    data = json.loads(json.dumps(gpt2))
    data["pre_tokenizer"]["add_prefix_space"] = True
    return merges_as_strings(data)


def build_qwen2():
    tok = Tokenizer(base_bpe())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    train(tok, 900, [])
    tok.add_special_tokens([
        AddedToken("<|endoftext|>", special=True, normalized=False),
        AddedToken("<|im_start|>", special=True, normalized=False),
        AddedToken("<|im_end|>", special=True, normalized=False),
    ])
    # A non-special token matched on the NFC-normalized text (so a decomposed "Å" still matches).
    tok.add_tokens([AddedToken("Ångström", special=False, normalized=True)])
    return merges_as_pairs(json.loads(tok.to_str()))


def build_llama3():
    tok = Tokenizer(base_bpe())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train(tok, 800, [])
    tok.add_special_tokens([
        AddedToken("<|begin_of_text|>", special=True, normalized=False),
        AddedToken("<|end_of_text|>", special=True, normalized=False),
        AddedToken("<|eot_id|>", special=True, normalized=False),
        AddedToken("<mask>", special=True, normalized=False, lstrip=True, rstrip=True),
    ])
    tok.add_tokens([AddedToken("single_word", special=False, normalized=False, single_word=True)])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))],
        ),
    ])
    data = json.loads(tok.to_str())
    data["model"]["ignore_merges"] = True
    return merges_as_strings(data)


def pretokens(tok, text):
    """Words from normalizer + pre-tokenizer alone (added tokens not split out): ids hide a wrong
    split wherever no merge crosses it, these do not."""
    normalized = tok.normalizer.normalize_str(text) if tok.normalizer else text
    return [w for w, _ in tok.pre_tokenizer.pre_tokenize_str(normalized)]


def write(name, data):
    path = os.path.join(OUT, f"{name}.tokenizer.json")
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    # The reference is the library loading the exact file we commit.
    tok = Tokenizer.from_file(path)
    cases = []
    for t in GOLDEN_TEXTS:
        plain = tok.encode(t, add_special_tokens=False).ids
        full = tok.encode(t, add_special_tokens=True).ids
        cases.append({
            "text": t,
            "ids": plain,
            "ids_with_special": full,
            "decoded": tok.decode(full, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(full, skip_special_tokens=True),
            "pretokens": pretokens(tok, t),
        })
    golden = {"tokenizer": f"{name}.tokenizer.json", "library": f"tokenizers {tokenizers.__version__}",
              "vocab_size": tok.get_vocab_size(with_added_tokens=True), "cases": cases}
    gpath = os.path.join(OUT, f"{name}.golden.json")
    with open(gpath, "w", encoding="utf-8") as f:
        # One case per line: small, and a regenerated file diffs case by case.
        head = {k: v for k, v in golden.items() if k != "cases"}
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    merges = data["model"]["merges"]
    fmt = "pairs" if merges and isinstance(merges[0], list) else "strings"
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes, vocab {tok.get_vocab_size()}, "
          f"{len(merges)} merges as {fmt}) and {os.path.relpath(gpath, ROOT)} ({len(cases)} cases)")


def main():
    os.makedirs(OUT, exist_ok=True)
    gpt2 = build_gpt2()
    write("gpt2", gpt2)
    write("gpt2_prefix", build_gpt2_prefix(gpt2))
    write("qwen2", build_qwen2())
    write("llama3", build_llama3())
    return 0


if __name__ == "__main__":
    sys.exit(main())
