"""Seeds for fuzz_qmp: client byte streams, from negotiation to every
command with good and bad arguments, garbage and cut requests."""
import json
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
neg = json.dumps({"execute": "qmp_capabilities"}) + "\n"
commands = ["query-status", "stop", "cont", "system_powerdown", "system_reset", "quit",
            "query-version", "query-name", "query-cpus-fast", "query-block",
            "query-commands"]
seeds = [neg]
for c in commands:
    seeds.append(neg + json.dumps({"execute": c, "id": c}) + "\n")
    seeds.append(neg + json.dumps({"execute": c, "arguments": {"x": 1}}) + "\n")
for line in ("help", "info status", "info registers", "info block", "info network",
             "info cpus", "info version", "stop", "cont", "bogus"):
    seeds.append(neg + json.dumps({"execute": "human-monitor-command",
                                   "arguments": {"command-line": line}, "id": [1]}) + "\n")
seeds += [
    '{"execute": "query-status"}',
    neg + '[1, 2, {"a": null}]\n{"id": 3}\n{"execute": 5}\n',
    neg + '{"execute": "query-status", "arguments": [1]}{"execute": "cont"}',
    neg + '{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n',
    '\x00\xff{{{ garbage\n' + neg,
    '{"execute": "query-', '"\\ud800"\n', '{"a": 1e999999}\n',
]
for i, s in enumerate(seeds):
    with open(os.path.join(out, "seed%03d" % i), "wb") as f:
        f.write(s.encode())
