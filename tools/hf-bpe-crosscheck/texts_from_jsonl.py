"""python3 texts_from_jsonl.py OUT.txt FILE.jsonl... : the "text" of pretrain lines and every "content" of conversation
lines, one per line (texts containing a newline are skipped, so both trainers see the same sequences)."""
import json
import sys

with open(sys.argv[1], "w", encoding="utf-8", newline="") as out:
    for path in sys.argv[2:]:
        for line in open(path, encoding="utf-8"):
            rec = json.loads(line)
            texts = [rec["text"]] if "text" in rec else [t["content"] for t in rec["conversations"]]
            for t in texts:
                if "\n" not in t and "\r" not in t:
                    out.write(t + "\n")
