#!/usr/bin/env python3
"""Generates specs-db/syscall-man.toml from the Linux man-pages, section 2.

Each page's NAME line says which calls it documents together and what they do:
"chmod, fchmod, fchmodat \\- change permissions of a file". kgentd reads the result for two
things: the words a syscall tracepoint is described with (the kernel's trace headers say nothing
about syscalls), and which syscalls are one operation (a page's calls), so that a program meant
for `chmod` is expected to see `fchmodat` too, and `fsync` is not taken for `sync`.

Usage: specs-db/tools/syscall-man.py [MAN2_DIR] > specs-db/syscall-man.toml
MAN2_DIR defaults to /usr/share/man/man2 (Debian's manpages-dev). Pages that are symlinks or
`.so` includes of another page are skipped: their names appear in the page they point to.
"""
import gzip
import os
import re
import subprocess
import sys


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


def name_line(text):
    """The NAME section's text, joined into one line, roff escapes removed."""
    m = re.search(r"^\.SH NAME\n(.*?)^\.SH", text, re.S | re.M)
    if not m:
        return None
    line = " ".join(l for l in m.group(1).splitlines() if not l.startswith("."))
    line = line.replace("\\-", "-").replace("\\(em", "-").replace('\\"', "")
    line = re.sub(r"\\f[BIRP]", "", line)
    line = re.sub(r"\\[&%]", "", line)
    return " ".join(line.split())


def synopsis_text(text):
    """The SYNOPSIS section as C text: roff requests and font changes removed, the quoted and
    bare words of `.B`/`.BI`/`.BR` lines joined as troff joins them (without spaces)."""
    m = re.search(r"^\.SH SYNOPSIS\n(.*?)^\.SH", text, re.S | re.M)
    if not m:
        return ""
    out = []
    # A request continued on the next line ("flags \\" then '", mode_t " mode );') is one line.
    body = re.sub(r"\\\n", " ", m.group(1))
    for line in body.splitlines():
        if line.startswith(".B") or line.startswith(".I"):
            _, _, rest = line.partition(" ")
            out.append("".join(re.findall(r'"([^"]*)"|(\S+)', rest) and
                               [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', rest)]))
        elif not line.startswith("."):
            out.append(line)
    c = " ".join(out)
    c = re.sub(r"\\f[BIRP]", "", c)
    c = re.sub(r"\\[&%]", "", c)
    c = c.replace("\\-", "-")
    return c


def parameters(synopsis, name):
    """The parameter names of `name`'s prototype in the SYNOPSIS, in order, and those the call
    writes through (see below); None when the page has no prototype for it, ([], []) for
    `(void)`. A bare variadic `...` is not a parameter."""
    # A page may give two prototypes (open with and without mode): the longer is the kernel's.
    found = re.findall(r"\b" + re.escape(name) + r"\s*\((.*?)\)\s*;", synopsis, re.S)
    if not found:
        return None
    inner = max(found, key=lambda f: f.count(","))
    # Array sizes ("buf[.count]") and function-pointer parameter lists hold no names of ours.
    inner = re.sub(r"\[[^\]]*\]", "", inner)
    params, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += ch
    params.append(cur)
    names, writes = [], []
    for p in params:
        # A variadic tail the page documents in a comment ("... /* mode_t mode */") is the
        # parameter the kernel takes there.
        p = p.replace("/*", "").replace("*/", "").replace("...", "").strip()
        if p in ("", "void"):
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", p)
        ident = fp.group(1) if fp else (re.findall(r"[A-Za-z_]\w*", p) or [None])[-1]
        if ident is None:
            return None
        names.append(ident)
        # A pointer to a struct the page does not declare const is one the call fills in
        # (accept's `struct sockaddr *restrict addr`, nanosleep's `struct timespec *rem`),
        # unlike connect's `const struct sockaddr *addr`.
        if re.match(r"\s*struct\s+\w+\s*\*", p) and not fp:
            writes.append(ident)
    return names, writes


def man_version():
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "manpages-dev"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return out or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    man2 = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/man/man2"
    version = man_version()
    pages = []
    for entry in sorted(os.listdir(man2)):
        path = os.path.join(man2, entry)
        if os.path.islink(path) or not entry.endswith((".2", ".2.gz")):
            continue
        text = read(path)
        if text.lstrip().startswith(".so "):
            continue
        line = name_line(text)
        if not line or " - " not in line:
            continue
        names, summary = line.split(" - ", 1)
        names = [n.strip() for n in names.split(",") if n.strip()]
        if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names):
            continue
        page = entry.split(".2")[0]
        if page in ("syscalls", "syscall", "intro", "unimplemented"):
            continue
        synopsis = synopsis_text(text)
        found = {n: parameters(synopsis, n) for n in names}
        params = {n: f[0] for n, f in found.items() if f and f[0]}
        writes = {n: f[1] for n, f in found.items() if f and f[1]}
        pages.append((page, names, summary.strip(), params, writes))
    print("# Generated by specs-db/tools/syscall-man.py from the Linux man-pages, section 2")
    print(f"# (Debian manpages-dev {version}). Each entry is one page's NAME line: the calls it")
    print("# documents together and what they do, and from its SYNOPSIS each call's parameter names")
    print("# in order (`params`, for calls with a prototype there) and the ones it writes through")
    print("# (`writes`: pointers to a struct not declared const). Do not edit by hand; regenerate.")
    for page, names, summary, params, writes in pages:
        print()
        print("[[page]]")
        print(f"page = {toml_str(page)}")
        print("names = [" + ", ".join(toml_str(n) for n in names) + "]")
        print(f"summary = {toml_str(summary)}")
        if params:
            print("params = { " + ", ".join(
                f"{n} = [" + ", ".join(toml_str(x) for x in p) + "]" for n, p in params.items()
            ) + " }")
        if writes:
            print("writes = { " + ", ".join(
                f"{n} = [" + ", ".join(toml_str(x) for x in p) + "]" for n, p in writes.items()
            ) + " }")
        print(f"source = {toml_str(f'man-pages {version}, {page}(2) NAME')}")


if __name__ == "__main__":
    main()
