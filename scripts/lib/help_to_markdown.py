"""Turns a program's --help text into a Markdown table of its options.

Each option in the help text reads
      --flag TYPE
          Help sentence. Unit: U. Default: D. Env: E.
and becomes one row: flag, variable, type, default, unit and the help sentence.
"""
import re
import sys

ENTRY = re.compile(r"^  (--[a-z0-9-]+)(?: ([A-Z\[\]]+))?\n((?:      .*\n?)+)", re.M)
FIELD_KEYS = ("Env", "Default", "Unit")


def split_fields(body):
    fields = {}
    for key in FIELD_KEYS:
        match = re.search(r"\b" + key + r": (.*?)\.(?= [A-Z][a-z]+:| *$)", body)
        if match:
            fields[key] = match.group(1)
            body = body.replace(match.group(0), "")
    return re.sub(r"\s+", " ", body).strip(), fields


def code(text):
    return "`" + text + "`" if text else ""


def main():
    print("| flag | variable | type | default | unit | what it sets |")
    print("| --- | --- | --- | --- | --- | --- |")
    for flag, kind, body in ENTRY.findall(sys.stdin.read()):
        joined = " ".join(line.strip() for line in body.splitlines())
        help_text, fields = split_fields(joined)
        cells = [code(flag), code(fields.get("Env", "")), (kind or "").lower(),
                 code(fields.get("Default", "")), fields.get("Unit", ""),
                 help_text.replace("|", "\\|")]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
