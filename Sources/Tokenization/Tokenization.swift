// The Tokenization module: tokenizer.json byte-level BPE.
