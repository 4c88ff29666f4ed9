#!/usr/bin/env python3
"""Single-point mutants of C sources, for ci/mutation.sh.

usage: mutants.py list FILE...              every mutant, one TSV line each:
                                            id, file, line, col, kind, from, to
       mutants.py apply FILE LINE COL FROM TO OUT
                                            FILE with FROM at LINE:COL replaced by TO, to OUT

Kinds (each a change at one place of one line; comments, strings and preprocessor lines are
never touched):
  rel      a relational operator swapped: < <=, > >=, == !=
  logic    && ||
  arith    binary + -, += -=
  const+1  an integer literal plus one;  const-1  minus one (non-zero literals)
  return   `return STATUS_X;` returns STATUS_SUCCESS (STATUS_SUCCESS: STATUS_UNSUCCESSFUL),
           `return true;` / `return false;` the other
  delete   a one-line statement (not a declaration, return, break or continue) becomes `{ }`
The list is a pure function of the files, so a seed picks the same sample on every machine.
"""
import os
import re
import sys

REL = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
TYPE_WORDS = {
    "const", "static", "struct", "enum", "union", "unsigned", "signed", "int", "char", "long",
    "short", "bool", "size_t", "void", "double", "float", "NTSTATUS", "typedef", "extern",
}


def code_mask(lines):
    """Per line, the code with comments and string/char literals blanked to spaces (same
    columns), or None for a preprocessor line."""
    out = []
    in_block = False
    for raw in lines:
        s = list(raw)
        i = 0
        n = len(s)
        if not in_block and raw.lstrip().startswith("#"):
            out.append(None)
            continue
        while i < n:
            if in_block:
                if raw.startswith("*/", i):
                    s[i] = s[i + 1] = " "
                    i += 2
                    in_block = False
                else:
                    s[i] = " "
                    i += 1
                continue
            if raw.startswith("/*", i):
                in_block = True
                s[i] = s[i + 1] = " "
                i += 2
                continue
            if raw.startswith("//", i):
                for k in range(i, n):
                    s[k] = " "
                break
            if s[i] in "\"'":
                q = s[i]
                j = i + 1
                while j < n and raw[j] != q:
                    j += 2 if raw[j] == "\\" else 1
                for k in range(i + 1, min(j, n)):
                    s[k] = " "
                i = j + 1
                continue
            i += 1
        out.append("".join(s))
    return out


def is_statement_start(prev_code):
    t = prev_code.rstrip()
    return t == "" or t.endswith(";") or t.endswith("{") or t.endswith("}") or t.endswith(":")


def mutants_of(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    codes = code_mask(lines)
    name = os.path.basename(path)
    prev = ""
    for ln, code in enumerate(codes, start=1):
        if code is None:
            prev = ""
            continue
        found = []
        for m in re.finditer(r"(?<![<>=!\-])(<=|>=|==|!=|<|>)(?![<>=])", code):
            found.append((m.start(), "rel", m.group(1), REL[m.group(1)]))
        for m in re.finditer(r"&&|\|\|", code):
            found.append((m.start(), "logic", m.group(0), "||" if m.group(0) == "&&" else "&&"))
        for m in re.finditer(r"(?<=[\w)\]] )([+-])(?= [\w(])", code):
            found.append((m.start(), "arith", m.group(1), "-" if m.group(1) == "+" else "+"))
        for m in re.finditer(r"(?<![\w.])([+-])=", code):
            op = m.group(1)
            found.append((m.start(), "arith", op + "=", ("-" if op == "+" else "+") + "="))
        for m in re.finditer(r"(?<![\w.])(\d+)([uU]?[lL]{0,2})(?![\w.])", code):
            v = int(m.group(1))
            found.append((m.start(), "const+1", m.group(0), str(v + 1) + m.group(2)))
            if v > 0:
                found.append((m.start(), "const-1", m.group(0), str(v - 1) + m.group(2)))
        m = re.search(r"\breturn (STATUS_\w+|true|false);", code)
        if m:
            old = m.group(1)
            new = {"STATUS_SUCCESS": "STATUS_UNSUCCESSFUL", "true": "false",
                   "false": "true"}.get(old, "STATUS_SUCCESS")
            found.append((m.start(1), "return", old, new))
        stripped = code.strip()
        first = re.match(r"[A-Za-z_]\w*", stripped)
        if (stripped.endswith(";") and is_statement_start(prev) and first is not None
                and first.group(0) not in TYPE_WORDS | {"return", "break", "continue", "goto",
                                                        "case", "default", "else"}
                and not re.match(r"[A-Za-z_]\w*\s+\**[A-Za-z_]", stripped)  # a declaration
                and not re.match(r"(if|for|while|switch|do)\b", stripped)
                and stripped.count("(") == stripped.count(")")
                and stripped != ";"):
            col = len(code) - len(code.lstrip())
            found.append((col, "delete", lines[ln - 1][col:].rstrip(), "{ }"))
        for col, kind, old, new in sorted(found):
            yield (f"{name}:{ln}:{col + 1}:{kind}", path, ln, col + 1, kind, old, new)
        if code.strip():
            prev = code


def main(argv):
    if len(argv) >= 2 and argv[1] == "list":
        for path in argv[2:]:
            for m in mutants_of(path):
                print("\t".join(str(x) for x in m))
        return 0
    if len(argv) == 8 and argv[1] == "apply":
        path, line, col, old, new, out = argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6], argv[7]
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        text = lines[line - 1]
        if text[col - 1:col - 1 + len(old)] != old:
            print(f"mutants.py: {path}:{line}:{col}: '{old}' not found", file=sys.stderr)
            return 1
        lines[line - 1] = text[:col - 1] + new + text[col - 1 + len(old):]
        with open(out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
