#!/usr/bin/env python3
"""Rewrites the field reference in README.md (between the fields markers)
from fields.table, the one table of fields and expert infos."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    fields, experts, section = [], [], None
    with open(os.path.join(ROOT, "fields.table")) as table:
        for line in table:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            columns = [c.strip() for c in line.split("|")]
            (fields if section == "[fields]" else experts).append(columns)
    out = ["| Field | Type | Description |", "|---|---|---|"]
    out += [f"| `{abbrev}` | {kind} | {blurb} |" for abbrev, kind, _name, blurb in fields]
    out += ["", "| Expert info | Severity | Group | Summary |", "|---|---|---|---|"]
    out += [f"| `{abbrev}` | {severity} | {group} | {summary} |" for abbrev, severity, group, summary in experts]
    readme_path = os.path.join(ROOT, "README.md")
    with open(readme_path) as f:
        readme = f.read()
    block = "<!-- fields:start -->\n" + "\n".join(out) + "\n<!-- fields:end -->"
    readme, count = re.subn(r"<!-- fields:start -->.*?<!-- fields:end -->", block, readme, flags=re.S)
    if count != 1:
        raise SystemExit("README.md lacks the <!-- fields:start --> / <!-- fields:end --> markers")
    with open(readme_path, "w") as f:
        f.write(readme)


if __name__ == "__main__":
    main()
