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
    # A call glibc has no wrapper for is prototyped as syscall(2)'s: "long
    # syscall(SYS_keyctl, int operation, ...)": its parameters follow the number.
    # It is the kernel's own signature: clone(2) gives glibc's clone(fn, stack, flags, ...)
    # and the raw syscall(SYS_clone, flags, stack, ...), and the second is what is traced.
    raw = re.findall(r"\bsyscall\s*\(\s*SYS_" + re.escape(name) + r"\s*,(.*?)\)\s*;",
                     synopsis, re.S)
    found = raw or found
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


CONSTANT = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+")
# Words of a paragraph that introduces a list of values ("is a combination of the following
# access flags:", "as follows", "one of"): one that only mentions the parameter in passing
# (fcntl(2) Leases: "on the open file description referred to by the file descriptor fd")
# introduces the commands listed after it, not values of fd.
INTRODUCES = re.compile(r"follow|one of|bit ?mask|bitwise|combination|values?\b|flags?\b|specif", re.I)


# Words of such a paragraph that make the parameter a bit mask: the values are OR-ed together
# (getrandom(2): "a bit mask that can contain zero or more of the following values ORed
# together"), so a call may pass one with others, unlike a list of which exactly one is passed
# (lseek(2) whence, "as follows").
MASK = re.compile(r"bit ?mask|\bOR(?:ed|-ed|ing)\b|bitwise|combination of|zero or more", re.I)

# Lists the rule above reads wrongly, by page and parameter, with why: they are dropped.
MISREAD = {
    ("fcntl", "fd"): "'The following operations can be applied to the file descriptor, fd:' "
                     "introduces commands, values of cmd (F_GET_RW_HINT ...), not of fd",
}


def governing(para, known):
    """The parameter a paragraph that names several ends on, right before the words that
    introduce the list: lseek(2) "... the file descriptor fd to the argument offset according
    to the directive whence as follows:", flock(2) "... the open file specified by fd. The
    argument operation is one of the following:". The introducing words must follow that name
    directly (at most five words, then the colon that opens the list); a name further back is
    only mentioned in passing."""
    marked = []
    for line in para:
        if re.match(r"^\.(RS|RE|in|sp|br|ad|na|nh|hy)\b", line):
            continue  # layout requests, not words
        m = re.match(r"^\.I[RB]?\s+([\w.]+)(.*)$", line)
        if m:
            marked.append("\x01" + m.group(1) + "\x02" + re.sub(r"[\"\s]+", " ", m.group(2)))
            continue
        line = re.sub(r"\\fI([\w.]+)\\f[PR]", "\x01\\1\x02", line)
        marked.append(re.sub(r"^\.\w+\s*", "", line))
    text = " ".join(marked).strip()
    m = re.search("\x01([\\w.]+)\x02([^\x01]*)$", text)
    if not m or m.group(1) not in known:
        return None
    tail = m.group(2).strip()
    if not tail.endswith(":") or len(tail.split()) > 5 or not INTRODUCES.search(tail):
        return None
    return m.group(1)


def param_constants(text, params):
    """The constants the page lists as values of each parameter: the `.TP` items (`.B
    PROT_NONE`) of a list that the paragraph right before it introduces by naming that one
    parameter in italics (".I prot is a combination of the following access flags:"). A
    paragraph with other words in italics (sigaltstack(2): "old_ss.ss_flags"), or without words
    that introduce values ([`INTRODUCES`]), introduces nothing, nor does an item's own text; a
    heading ends the list."""
    known = {p for ps in params.values() for p in ps}
    out, masks = {}, []
    said, para, current, in_item, item_head = set(), [], None, False, False
    body = text.split("\n.SH DESCRIPTION", 1)[-1]
    for line in body.splitlines():
        if line.startswith(".\\\""):
            continue
        if line.startswith((".SH", ".SS")):
            said, para, current, in_item, item_head = set(), [], None, False, False
            if line.startswith(".SH") and any(w in line for w in ("RETURN", "SEE ALSO", "ERRORS")):
                break
            continue
        if line.startswith((".PP", ".P ", ".LP")) or line == ".P":
            said, para, current, in_item, item_head = set(), [], None, False, False
            continue
        if line.startswith(".TP"):
            if not in_item:
                introduces = INTRODUCES.search(" ".join(para))
                one = len(said) == 1 and said <= known
                current = next(iter(said)) if one and introduces else None
                if current is None:
                    current = governing(para, known)
                if current and MASK.search(" ".join(para)) and current not in masks:
                    masks.append(current)
            in_item, item_head = True, True
            continue
        if item_head:
            item_head = False
            m = re.match(r"\.B[RI]?\s+\"?(" + CONSTANT.pattern + r")\b", line)
            if m and current:
                out.setdefault(current, [])
                if m.group(1) not in out[current]:
                    out[current].append(m.group(1))
            continue
        if in_item:
            continue
        para.append(line)
        # Every word in italics counts: another one ("arg", "old_ss.ss_flags") makes the
        # paragraph about more than one value.
        for a, b in re.findall(r"^\.I[RB]?\s+([\w.]+)|\\fI([\w.]+)\\f", line):
            said.add(a or b)
    return out, [m for m in masks if m in out]


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
        listed, masks = param_constants(text, params)
        consts = {p: c for p, c in listed.items() if (page, p) not in MISREAD}
        masks = [m for m in masks if m in consts]
        pages.append((page, names, summary.strip(), params, writes, consts, masks))
    print("# Generated by specs-db/tools/syscall-man.py from the Linux man-pages, section 2")
    print(f"# (Debian manpages-dev {version}). Each entry is one page's NAME line: the calls it")
    print("# documents together and what they do, and from its SYNOPSIS each call's parameter names")
    print("# in order (`params`, for calls with a prototype there) and the ones it writes through")
    print("# (`writes`: pointers to a struct not declared const), and from its DESCRIPTION the")
    print("# constants it lists as a parameter's values (`constants`: the items of a list a paragraph")
    print("# introduces by naming the parameter, \".I prot is a combination of the following access")
    print("# flags:\"); `masks`, those of them whose values that paragraph says are OR-ed together (\"a")
    print("# bit mask\", \"zero or more\", \"combination of\"), so that a call passes one with others.")
    print("# Do not edit by hand; regenerate.")
    for page, names, summary, params, writes, consts, masks in pages:
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
        if consts:
            print("constants = { " + ", ".join(
                f"{n} = [" + ", ".join(toml_str(x) for x in c) + "]" for n, c in consts.items()
            ) + " }")
        if masks:
            print("masks = [" + ", ".join(toml_str(m) for m in masks) + "]")
        print(f"source = {toml_str(f'man-pages {version}, {page}(2) NAME')}")


if __name__ == "__main__":
    main()
