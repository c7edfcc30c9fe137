// node train_hf.js TEXTS.txt OUT.json
// HF tokenizers' BpeTrainer with its defaults (vocab 30000, min_frequency 0, no special tokens), ByteLevel pre-tokenizer
// with add_prefix_space=false, trained on a text file: every line, "\n" included, is one sequence.
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');
const [textsPath, outPath] = process.argv.slice(2);
const tokenizer = new Tokenizer(BPE.empty());
tokenizer.setPreTokenizer(byteLevelPreTokenizer(false, true));
tokenizer.train([textsPath]);
tokenizer.save(outPath, true);
