#!/usr/bin/env python3
"""Extract the ModelArts seed tables into test fixtures (run once, by hand).

Reads ../../../../shared/seeds/004_ecf893b837a6158f.txt (tables 1 and 2) and
../../../../shared/reference/modelarts-sdk-operations.tsv and writes, next to
this script:
  seed_table1.tsv  action, description, access, resource_types, condition_keys
                   (lists joined with ','; empty when none)
  seed_table2.tsv  method, path, action (all 152 rows, duplicate included)
  sdk_operations.tsv  a verbatim copy of the SDK operation list
Tests read only these fixtures, never ../shared.

Reading table 1: after the access level come the values of a flattened merged
table; the first is the resource type (`notebook *` -> notebook, `-` -> none)
and every later value that is not `-` is a condition key of the action.
"""
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "..", "shared")
SEED = os.path.join(SHARED, "seeds", "004_ecf893b837a6158f.txt")
SDK = os.path.join(SHARED, "reference", "modelarts-sdk-operations.tsv")

ACTION = re.compile(r"^modelarts:[A-Za-z]+:[A-Za-z]+$")
ROUTE = re.compile(r"^(GET|POST|PUT|DELETE|PATCH) (/\S+)$")


def blocks(lines):
    return [l.strip() for l in lines if l.strip()]


def table1(lines):
    start = next(i for i, l in enumerate(lines) if l.startswith("表1 "))
    end = next(i for i, l in enumerate(lines) if l.startswith("ModelArts的API通常"))
    cells = blocks(lines[start + 1:end])
    header_end = cells.index("别名") + 1
    cells = cells[header_end:]
    rows, i = [], 0
    while i < len(cells):
        name = cells[i]
        assert ACTION.match(name), (i, name)
        j = i + 1
        while j < len(cells) and not ACTION.match(cells[j]):
            j += 1
        desc, access, values = cells[i + 1], cells[i + 2], cells[i + 3:j]
        rtype = values[0]
        types = [] if rtype == "-" else [rtype.rstrip(" *").strip()]
        keys = [v for v in values[1:] if v != "-"]
        for k in keys:
            assert k.startswith(("g:", "modelarts:")), (name, k)
        rows.append((name, desc, access, ",".join(types), ",".join(keys)))
        i = j
    return rows


def table2(lines):
    start = next(i for i, l in enumerate(lines) if l.startswith("表2 "))
    end = next(i for i, l in enumerate(lines) if l.strip() == "资源类型(Resource)")
    cells = blocks(lines[start + 1:end])
    cells = cells[cells.index("依赖的授权项") + 1:]
    rows = []
    for i in range(0, len(cells), 3):
        m = ROUTE.match(cells[i])
        assert m, cells[i]
        assert ACTION.match(cells[i + 1]), cells[i + 1]
        assert cells[i + 2] == "-", cells[i + 2]
        rows.append((m.group(1), m.group(2), cells[i + 1]))
    return rows


def write(name, header, rows):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")


def main():
    with open(SEED, encoding="utf-8") as f:
        lines = f.read().split("\n")
    t1, t2 = table1(lines), table2(lines)
    write("seed_table1.tsv", ("ACTION", "DESCRIPTION", "ACCESS", "RESOURCE_TYPES", "CONDITION_KEYS"), t1)
    write("seed_table2.tsv", ("METHOD", "PATH", "ACTION"), t2)
    shutil.copyfile(SDK, os.path.join(HERE, "sdk_operations.tsv"))
    print(f"table1: {len(t1)} actions, table2: {len(t2)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
