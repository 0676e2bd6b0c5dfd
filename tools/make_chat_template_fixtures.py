"""Writes Tests/ChatTemplatesTests/Fixtures/chat_templates.json: three chat templates (SmolLM2-135M-
Instruct's, read from its GGUF; Qwen2.5-Instruct's and Llama 3.2-Instruct's from
tools/chat_templates.py) and, for several conversations, the exact text transformers'
`apply_chat_template(messages, tokenize=False, add_generation_prompt=...)` renders. The tokenizer
is a tiny PreTrainedTokenizerFast carrying the model's special tokens (the template sees them as
bos_token, eos_token, ...); `strftime_now` is fixed to 2024-07-26 (the Swift test passes the same
date). Usage: .venv-tools/bin/python tools/make_chat_template_fixtures.py [path/to/smollm2.gguf]
(default: the file tools/fetch_smollm2_gguf.sh caches)."""
import datetime as real_datetime
import json
import os
import subprocess
import sys

import gguf
import jinja2
import transformers
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chat_templates import LLAMA32_INSTRUCT, QWEN25_INSTRUCT  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ChatTemplatesTests", "Fixtures", "chat_templates.json")
FIXED_NOW = real_datetime.datetime(2024, 7, 26, 10, 30, 0)


class FixedDatetime(real_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


# transformers' strftime_now calls `datetime.now()` from its module: fix it for reproducible text.
chat_template_utils.datetime = FixedDatetime


def smollm2_template(path):
    reader = gguf.GGUFReader(path)
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def tokenizer(special):
    tok = Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, **special)


CONVERSATIONS = {
    "user": [{"role": "user", "content": "What is 12 + 30?"}],
    "system_user": [
        {"role": "system", "content": "  You solve arithmetic.  \n"},
        {"role": "user", "content": "Compute 7 * 6.\nShow your work."},
    ],
    "multi_turn": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello. How can I help?"},
        {"role": "user", "content": " What's 2+2? {{ not jinja }} \u00e9\u4e2d\U0001F600 "},
    ],
    "user_assistant_user": [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Second question\t"},
    ],
    "empty_user": [{"role": "user", "content": ""}],
}


# Small templates for the constructs and whitespace rules beyond the three models' templates.
CONSTRUCTS = {
    "whitespace": "A\n  {% if true %}\n    B {{ 'x' }}  \n  {% endif %}\nC {#- c #} D\n{#+ k #}\n\t{%+ if 1 %}E{% endif %}\n  {{- ' F' -}}  \n  G",
    "loop_vars": "{% for m in messages %}{{ loop.index }}/{{ loop.length }}:{{ loop.index0 }}{{ loop.revindex }}"
                 "{{ loop.first }}{{ loop.last }}{{ m.role|upper }}{% if not loop.last %},{% endif %}{% endfor %}",
    "loop_filter_else": "{% for m in messages if m.role == 'nobody' %}x{% else %}none{% endfor %}|"
                        "{% for m in messages if m.role == 'user' %}{{ m.content|length }}{% endfor %}|"
                        "{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
    "namespace_scope": "{% set ns = namespace(n=0, last='') %}{% set outer = 'o' %}{% for m in messages %}"
                       "{% set ns.n = ns.n + 1 %}{% set ns.last = m.role %}{% set outer = 'inner' %}{% endfor %}"
                       "{{ ns.n }} {{ ns.last }} {{ outer }}",
    "expressions": "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} "
                   "{{ 'a' ~ 1 ~ none }} {{ 'ab' * 3 }} {{ [1, 2] + [3] }} {{ {'k': 'v', 'n': 1} }} "
                   "{{ 3 > 2 > 1 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ none }} {{ true and 'yes' }} "
                   "{{ '' or 'fallback' }} {{ 'x' if false }}|{{ 'x' if false else 'y' }} {{ 1.5 + 1 }} {{ 10 / 4 }}",
    "slices_and_items": "{{ messages[-1].content }}|{{ messages[1:]|length }}|{{ 'abcdef'[1:4] }}|{{ 'abcdef'[::-2] }}|"
                        "{{ [1,2,3,4][-3:-1] }}|{{ messages[0]['role'] }}|{{ messages[9] is defined }}|{{ (messages|last).role }}",
    "strings": "{{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ ' a b  c '.split() }}|{{ 'a,b'.split(',') }}|"
               "{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith('lo') }}|{{ 'aXbX'.replace('X', '-') }}|"
               "{{ 'hello world'|capitalize }}|{{ ['a', 'b']|join(', ') }}|{{ '  s '.strip() }}{{ '  s '.lstrip() }}.|"
               "{{ \"it's\" }}|{{ 'tab\\there' }}|{{ missing|default('dflt') }}|{{ ''|default('e', true) }}",
    "tojson": "{{ {'a': [1, 2.5, none, true], 'b': 'q\"\\n\u00e9'}|tojson }}\n{{ {'a': [1, {'c': []}], 'd': {}}|tojson(indent=2) }}\n{{ 'x'|tojson }}",
    "tests": "{{ none is none }}{{ 1 is number }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is iterable }}"
             "{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby(3) }}{{ 9 is divisibleby 4 }}{{ x is undefined }}{{ 1 is not string }}"
             "{{ true is boolean }}{{ 1 is integer }}{{ 1.0 is float }}{{ 'ab' is lower }}",
    "dict_methods": "{% set d = {'x': 1, 'y': 'two'} %}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
                    "{{ d.get('x') }}{{ d.get('z', 'none') }}{{ d.keys()|list }}{% for k, v in d|items %}{{ k }}{% endfor %}",
    "generation": "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}"
                  "{% else %}[{{ m.content }}]{% endif %}{% endfor %}",
    "strftime": "{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %y %%') }}",
}


# Templates in the style of other instruct models (Gemma, Phi-3, Zephyr, Mistral, DeepSeek-R1),
# written from memory of their published templates: they exercise more constructs (alternating-
# role checks with raise_exception, namespace, split, newline-heavy templates under trim_blocks);
# they are not claimed to be byte-exact copies. Each conversation is rendered; where transformers
# raises, the case records the message instead.
OTHER = {
"gemma": "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
"phi3": "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
"zephyr": "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
"mistral": "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}\n    {%- endif %}\n    {%- if message['role'] == 'user' %}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n    {%- else %}\n        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}\n    {%- endif %}\n{%- endfor %}\n",
"deepseek": "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}",
}


def main():
    gguf_path = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        ["bash", os.path.join(ROOT, "tools", "fetch_smollm2_gguf.sh")], check=True, capture_output=True, text=True
    ).stdout.strip().splitlines()[-1]
    templates = {
        "smollm2": {"source": smollm2_template(gguf_path),
                    "special": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>",
                                "pad_token": "<|im_end|>"}},
        "qwen2.5": {"source": QWEN25_INSTRUCT,
                    "special": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}},
        "llama3.2": {"source": LLAMA32_INSTRUCT,
                     "special": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}},
    }
    cases = []
    for name, t in templates.items():
        tok = tokenizer(t["special"])
        variables = {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)}
        t["variables"] = variables
        for conv_name, messages in CONVERSATIONS.items():
            for gen in (True, False):
                text = tok.apply_chat_template(messages, chat_template=t["source"], tokenize=False,
                                               add_generation_prompt=gen)
                cases.append({"template": name, "conversation": conv_name, "add_generation_prompt": gen,
                              "messages": messages, "expected": text})
    for t in templates.values():
        del t["special"]
    tok = tokenizer({"bos_token": "<s>", "eos_token": "</s>"})
    for name, source in CONSTRUCTS.items():
        templates["construct:" + name] = {"source": source, "variables": {"bos_token": "<s>", "eos_token": "</s>"}}
        messages = CONVERSATIONS["multi_turn"]
        text = tok.apply_chat_template(messages, chat_template=source, tokenize=False, add_generation_prompt=True)
        cases.append({"template": "construct:" + name, "conversation": "multi_turn", "add_generation_prompt": True,
                      "messages": messages, "expected": text})
    tok = tokenizer({"bos_token": "<s>", "eos_token": "</s>"})
    for name, source in OTHER.items():
        templates["other:" + name] = {"source": source, "variables": {"bos_token": "<s>", "eos_token": "</s>"}}
        for conv_name, messages in CONVERSATIONS.items():
            case = {"template": "other:" + name, "conversation": conv_name, "add_generation_prompt": True,
                    "messages": messages}
            try:
                case["expected"] = tok.apply_chat_template(messages, chat_template=source, tokenize=False,
                                                           add_generation_prompt=True)
            except jinja2.exceptions.TemplateError as e:
                case["expected"], case["raises"] = "", str(e)
            cases.append(case)
    doc = {"generator": "tools/make_chat_template_fixtures.py", "transformers": transformers.__version__,
           "now": FIXED_NOW.isoformat(), "templates": templates, "cases": cases}
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases for {len(templates)} templates to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
