"""python3 compare.py HF.json OURS.merges.txt -> exit 0 when the merge lists are identical."""
import json
import sys

hf = [" ".join(m) if isinstance(m, list) else m for m in json.load(open(sys.argv[1], encoding="utf-8"))["model"]["merges"]]
ours = open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]
for i, (a, b) in enumerate(zip(hf, ours)):
    if a != b:
        sys.exit(f"first difference at merge {i}: HF {a!r}, ours {b!r}")
if len(hf) != len(ours):
    sys.exit(f"HF has {len(hf)} merges, ours {len(ours)}")
print(f"identical: {len(hf)} merges")
