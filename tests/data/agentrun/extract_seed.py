#!/usr/bin/env python3
"""Extract the AgentRun seed into test fixtures (run once, by hand).

Reads ../../../../shared/seeds/000_08765685c94bf01a.txt (the AgentRun RAM
page) and ../../../../shared/reference/agentrun-sdk-operations.tsv and writes,
next to this script:
  agentrun-full-access.json  the page's "Full custom policy", byte for byte
                             (no trailing newline added)
  seed_actions.tsv           every AgentRun action the page names: in the
                             full-access policy (`agentrun:<Name>`, the two
                             globs `List*`/`Get*` left out) or in a feature
                             table row whose Product/Service is `AgentRun`;
                             columns: action, in_policy (yes/no), the first
                             feature-table description (empty when none)
  sdk_operations.tsv         a verbatim copy of the SDK operation list
Tests read only these fixtures, never ../shared.
"""
import json
import os
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "..", "shared")
SEED = os.path.join(SHARED, "seeds", "000_08765685c94bf01a.txt")
SDK = os.path.join(SHARED, "reference", "agentrun-sdk-operations.tsv")


def main():
    raw = open(SEED, "rb").read()
    start = raw.index(b'{\n  "Version": "1"')
    end = raw.index(b"\n\nLeast-privilege policy")
    policy = raw[start:end]
    doc = json.loads(policy)
    with open(os.path.join(HERE, "agentrun-full-access.json"), "wb") as f:
        f.write(policy)

    in_policy = []
    for st in doc["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        for a in actions:
            m = re.fullmatch(r"agentrun:([A-Za-z]+)", a)
            if m and m.group(1) not in in_policy:
                in_policy.append(m.group(1))

    # Feature tables flatten to "API name / Product/Service / Description" lines.
    lines = [l.strip() for l in raw[end:].decode("utf-8").splitlines() if l.strip()]
    described = {}
    order = []
    for i, line in enumerate(lines):
        if line == "AgentRun" and 0 < i < len(lines) - 1:
            name, desc = lines[i - 1], lines[i + 1]
            if re.fullmatch(r"[A-Za-z]+", name) and name not in described:
                described[name] = desc
                order.append(name)

    names = order + [n for n in in_policy if n not in described]
    with open(os.path.join(HERE, "seed_actions.tsv"), "w", encoding="utf-8") as f:
        f.write("ACTION\tIN_POLICY\tDESCRIPTION\n")
        for n in names:
            yes = "yes" if n in in_policy else "no"
            f.write(f"agentrun:{n}\t{yes}\t{described.get(n, '')}\n")
    shutil.copyfile(SDK, os.path.join(HERE, "sdk_operations.tsv"))
    print(f"{len(names)} seed actions, {len(in_policy)} in the policy")


if __name__ == "__main__":
    main()
