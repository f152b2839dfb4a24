#!/usr/bin/env python3
"""Writes specs-db/tracepoint-docs.toml: the kernel's own description of each tracepoint.

kgentd knows a tracepoint of the host by its name and fields (tracefs). The kernel says more in
its trace headers: the kernel-doc or block comment above each TRACE_EVENT / DEFINE_EVENT /
DECLARE_EVENT_CLASS, and a header comment for some systems. This script reads those words out of
a kernel source tree, keeps the events this host has (/sys/kernel/tracing/events/SYS/EVENT), and
writes them as data, each with the file it came from, so the daemon never needs the kernel
source. It invents nothing: an event without a comment is left out, and a system without a
header comment gets the hand-written line of specs-db/tools/tracepoint-systems.toml, which names
the Documentation/ file or Kconfig help it paraphrases.

Sources, in order of precedence for an event's doc:
  1. the comment directly above the event's own macro (kernel-doc: its summary line and the
     first sentences of its description);
  2. the event's paragraph or section in Documentation/trace/events-SYS.rst (kmem, power);
  3. the comment above the DECLARE_EVENT_CLASS a DEFINE_EVENT instantiates.

Usage (stdlib only):
  specs-db/tools/tracepoint-docs.py --tree /usr/src/linux='Linux 6.12.118' \
      [--tree /tmp/newer='torvalds/linux at abc123'] > specs-db/tracepoint-docs.toml

Several --tree options: an event (or system) comes from the first tree that defines it; a later
tree holds only the headers of events the earlier ones lack (a partial checkout is fine).
"""

import argparse
import os
import re
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEMS_TOML = os.path.join(HERE, "tracepoint-systems.toml")
MAX_DOC = 200

# Macros that define an event (first argument: its name) or instantiate a class (class, name).
NAMED_FIRST = re.compile(r"^(TRACE_EVENT(?:_CONDITION|_FN|_FN_COND|_SYSCALL)?)$")
NAMED_SECOND = re.compile(r"^(DEFINE_EVENT(?:_PRINT|_CONDITION|_FN)?)$")
CLASS = re.compile(r"^(DECLARE_EVENT_CLASS|DECLARE_EVENT_SYSCALL_CLASS)$")
MACRO_CALL = re.compile(r"^[ \t]*([A-Z_][A-Z0-9_]*)\s*\(\s*(\w+)\s*(?:,\s*(\w+))?", re.M)
SYSTEM_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+TRACE_SYSTEM[ \t]+(\w+)[ \t]*$", re.M)
CODE_NOTE = re.compile(
    r"tracepoint class(es)?\.?$|\bevent with (only|arguments)\b|^pass flags\b|\bwe pass\b", re.I
)
COMMENT = re.compile(r"/\*.*?\*/", re.S)
LEGAL = re.compile(
    r"SPDX|\bcopyright\b|\(c\)|\blicen[cs]e\b|\bGPL\b|free software|\bauthors?\b|written by|"
    r"@\w+\.\w+|all rights reserved",
    re.I,
)


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def sentences(text, limit=MAX_DOC):
    """The first one or two sentences of `text`, at most `limit` characters."""
    text = collapse(text)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(@])", text)
    out = ""
    for p in parts[:2]:
        candidate = f"{out} {p}".strip()
        if out and len(candidate) > limit:
            break
        out = candidate
    if len(out) > limit:
        cut = out[: limit - 1].rsplit(" ", 1)[0]
        out = cut.rstrip(",;:") + "…"
    out = out.rstrip(":;,").strip()
    if out and out[-1] not in ".!?…)":
        out += "."
    return out[0].upper() + out[1:] if out else out


def comment_lines(raw):
    """A C comment's text lines, without the /* */ and leading asterisks."""
    body = raw[2:-2]
    if body.startswith("*"):
        body = body[1:]
    return [re.sub(r"^\s*\*? ?", "", line).rstrip() for line in body.split("\n")]


def paragraphs(lines):
    out, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def usable(text):
    """Words worth keeping: prose of three words or more, not a separator, a licence, a
    section marker ("Group events") or a note about the code ("tcp event with arguments sk",
    "simple inode-based error tracepoint class")."""
    letters = sum(c.isalpha() for c in text)
    return (
        letters >= 10
        and len(text.split()) >= 3
        and not LEGAL.search(text)
        and not CODE_NOTE.search(text)
    )


def describe(raw, preamble=False):
    """The doc of a comment: a kernel-doc block's summary and description, or the first
    prose paragraph of a plain comment; None when it holds no usable prose. A header's
    preamble skips notes and drops a leading "file.h - "."""
    paras = paragraphs(comment_lines(raw))
    if not paras:
        return None
    head = " ".join(paras[0])
    kdoc = re.match(r"^(?:(?:TRACE_EVENT|DEFINE_EVENT)\s*\(?\s*)?([\w:]+)\s*\)?\s+-\s+(.*)$", head)
    if kdoc and not preamble:
        summary = re.split(r"\s@\w+\s*:", f" {kdoc.group(2)}")[0].strip()
        body = " ".join(" ".join(p) for p in paras[1:] if not re.match(r"^@\w+\s*:", p[0]))
        text = summary.rstrip(".") + "." + (f" {body}" if body else "")
    else:
        prose = [" ".join(p) for p in paras if not re.match(r"^@\w+\s*:", p[0])]
        if preamble:
            # a header's description comes before its notes and definition lists
            intro = []
            for p in prose:
                if p.endswith(":"):
                    break
                if not re.match(r"^note\b", p, re.I):
                    intro.append(re.sub(r"^[\w.-]+\.h\s+-\s+", "", p))
            prose = intro
        prose = [p for p in prose if usable(p)]
        if not prose:
            return None
        text = prose[0]
    doc = sentences(re.sub(r"@(\w)", r"\1", text))
    return doc if usable(doc) else None


def comment_above(src, pos, comments):
    """The comment that ends right before `pos` (only whitespace between) and starts a line."""
    for start, end in comments:
        if end > pos:
            break
        if src[end:pos].strip() == "":
            line_start = src.rfind("\n", 0, start) + 1
            if src[line_start:start].strip() == "":
                return src[start:end]
    return None


def comment_spans(src):
    return [(m.start(), m.end()) for m in COMMENT.finditer(src)]


def macro_args(src, open_paren):
    """The argument text of a macro call whose '(' is at `open_paren`."""
    depth, i = 0, open_paren
    while i < len(src):
        c = src[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return src[open_paren + 1 : i]
        i += 1
    return src[open_paren + 1 :]


def split_args(text):
    out, depth, cur = [], 0, ""
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
    out.append(cur.strip())
    return out


def wrappers(src):
    """Macros a header defines that expand to event definitions:
    name → (parameters, body), e.g. DEFINE_INODE_EVENT(name) → DEFINE_EVENT(xfs_inode_class, name, ...)."""
    out = {}
    joined = src.replace("\\\n", " ")
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+([A-Z_][A-Z0-9_]*)\(([^)]*)\)(.*)$", joined, re.M):
        body = m.group(3)
        if re.search(r"\b(TRACE_EVENT\w*|DEFINE_EVENT\w*)\s*\(", body):
            params = [p.strip() for p in m.group(2).split(",")]
            out[m.group(1)] = (params, body)
    return out


def expand(params, body, args):
    for p, a in zip(params, args):
        body = re.sub(rf"\b{re.escape(p)}\b", a, body)
    return re.sub(r"\s*##\s*", "", body)


class Header:
    """One trace header: its systems, events, classes and comments."""

    def __init__(self, rel, src):
        self.rel = rel
        self.src = src
        self.comments = comment_spans(src)
        self.systems = [(m.start(), m.group(1)) for m in SYSTEM_DEFINE.finditer(src)]
        # events: name → (system, class or None, own doc or None)
        self.events = {}
        self.classes = {}
        self.doc = self.top_doc()
        self.scan()

    def system_at(self, pos):
        current = self.systems[0][1] if self.systems else None
        for start, name in self.systems:
            if start <= pos:
                current = name
        return current

    def top_doc(self):
        """The header's own description: the first prose comment before its first #if (the
        include guard); comments further down belong to events or definitions."""
        guard = re.search(r"^[ \t]*#[ \t]*if", self.src, re.M)
        limit = guard.start() if guard else 0
        for start, end in self.comments:
            if start >= limit:
                break
            doc = describe(self.src[start:end], preamble=True)
            if doc:
                return doc
        return None

    def scan(self):
        local = wrappers(self.src)
        in_define = self.define_spans()
        for m in MACRO_CALL.finditer(self.src):
            if any(a <= m.start() < b for a, b in in_define):
                continue
            macro = m.group(1)
            system = self.system_at(m.start())
            if not system:
                continue
            own = comment_above(self.src, m.start(), self.comments)
            own_doc = describe(own) if own else None
            if NAMED_FIRST.match(macro):
                self.add_event(m.group(2), system, None, own_doc)
            elif NAMED_SECOND.match(macro) and m.group(3):
                self.add_event(m.group(3), system, m.group(2), own_doc)
            elif CLASS.match(macro):
                self.classes.setdefault(m.group(2), own_doc)
            elif macro in local:
                params, body = local[macro]
                paren = self.src.index("(", m.start())
                args = split_args(macro_args(self.src, paren))
                text = expand(params, body, args)
                for e in re.finditer(r"\b(TRACE_EVENT\w*|DEFINE_EVENT\w*)\s*\(\s*(\w+)\s*(?:,\s*(\w+))?", text):
                    if NAMED_FIRST.match(e.group(1)):
                        self.add_event(e.group(2), system, None, own_doc)
                    elif NAMED_SECOND.match(e.group(1)) and e.group(3):
                        self.add_event(e.group(3), system, e.group(2), own_doc)

    def define_spans(self):
        spans = []
        for m in re.finditer(r"^[ \t]*#[ \t]*define\b(?:[^\n]*\\\n)*[^\n]*", self.src, re.M):
            spans.append((m.start(), m.end()))
        return spans

    def add_event(self, name, system, klass, doc):
        prev = self.events.get(name)
        if prev is None or (prev[2] is None and doc):
            self.events[name] = (system, klass, doc)


def trace_headers(root, arch):
    """Relative paths of the headers of a tree that define a TRACE_SYSTEM (other arches skipped)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        parts = rel_dir.split(os.sep)
        if parts[0] == "arch" and len(parts) > 1 and parts[1] != arch:
            dirnames[:] = []
            continue
        if parts[0] in ("Documentation", "tools", "samples", "scripts", ".git"):
            dirnames[:] = []
            continue
        dirnames.sort()
        for f in sorted(filenames):
            if not f.endswith(".h"):
                continue
            path = os.path.join(dirpath, f)
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    src = fh.read()
            except OSError:
                continue
            if SYSTEM_DEFINE.search(src):
                yield os.path.normpath(os.path.join(rel_dir, f)), src


def rst_docs(root, system):
    """Event → (doc, file) from Documentation/trace/events-SYSTEM.rst: the paragraph that
    introduces the literal block listing the event, else the title of its section."""
    rel = f"Documentation/trace/events-{system}.rst"
    path = os.path.join(root, rel)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    out, title, para, closed = {}, None, [], False
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line and re.match(r"^[=\-~^]{3,}\s*$", nxt):
            title, para, closed = re.sub(r"^[\d.]+\s*", "", line), [], False
            i += 2
            continue
        if line.endswith("::"):
            if line[:-2].strip():
                para = ([] if closed else para) + [line[:-2].strip()]
            intro = " ".join(para)
            doc = sentences(intro) if usable(intro) else (sentences(title) if title else None)
            i += 1
            # the literal block: indented lines, one event and its format per line
            while i < len(lines) and (not lines[i].strip() or lines[i][:1] in " \t"):
                tok = lines[i].split()
                if doc and len(tok) > 1 and re.match(r"^\w+$", tok[0]) and re.search(r"[=%]", lines[i]):
                    out.setdefault(tok[0], (doc, rel))
                i += 1
            para, closed = [], False
            continue
        if not line:
            closed = True
        else:
            if closed:
                para, closed = [], False
            para.append(line)
        i += 1
    return out


def host_events(tracefs):
    out = {}
    for system in sorted(os.listdir(tracefs)):
        d = os.path.join(tracefs, system)
        if not os.path.isdir(d):
            continue
        out[system] = {e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))}
    return out


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", action="append", required=True, metavar="DIR=LABEL",
                    help="a kernel source tree and how each doc cites it; repeat, first wins")
    ap.add_argument("--about", action="append", default=[], metavar="TEXT",
                    help="a line for the output's header: where the trees came from")
    ap.add_argument("--tracefs", default="/sys/kernel/tracing/events")
    ap.add_argument("--arch", default="x86", help="the only arch/ directory read")
    args = ap.parse_args()

    host = host_events(args.tracefs)
    with open(SYSTEMS_TOML, "rb") as fh:
        written = tomllib.load(fh).get("system", {})
    trees = [(t.partition("=")[0], t.partition("=")[2] or t) for t in args.tree]

    events = {}  # (system, event) → (doc, source), or None when the kernel says nothing
    systems = {s: {} for s in host}  # system → header, doc, source
    for root, label in trees:
        headers = [Header(rel, src) for rel, src in trace_headers(root, args.arch)]
        classes = {}
        for h in headers:
            for c, doc in h.classes.items():
                if doc:
                    classes.setdefault(c, (doc, h.rel))
        for h in headers:
            for _, system in h.systems:
                entry = systems.get(system)
                if entry is None or not h.events:
                    continue
                entry.setdefault("header", h.rel)
                if h.doc and "doc" not in entry:
                    entry["doc"], entry["source"] = h.doc, f"{h.rel} ({label})"
        rst = {s: rst_docs(root, s) for s in host}
        for h in headers:
            for name, (system, klass, doc) in h.events.items():
                if name not in host.get(system, ()) or (system, name) in events:
                    continue
                if doc:
                    found = (doc, f"{h.rel} ({label})")
                elif name in rst[system]:
                    found = (rst[system][name][0], f"{rst[system][name][1]} ({label})")
                elif klass in classes:
                    found = (classes[klass][0], f"{classes[klass][1]} ({label}), class {klass}")
                else:
                    found = None
                events[(system, name)] = found
    for system, entry in systems.items():
        w = written.get(system)
        if w and "doc" not in entry:
            entry["doc"], entry["source"] = collapse(w["doc"]), w["source"]
        if w and "header" not in entry and "header" in w:
            entry["header"] = w["header"]
    events = {k: v for k, v in events.items() if v}

    missing = sorted(s for s, e in systems.items() if "doc" not in e)
    if missing:
        print(f"warning: systems without a doc: {' '.join(missing)}", file=sys.stderr)
    print(
        f"{len(events)} of {sum(len(e) for e in host.values())} host events and "
        f"{len(systems) - len(missing)} of {len(systems)} systems have a doc",
        file=sys.stderr,
    )

    out = sys.stdout
    out.write("# The kernel's own description of each tracepoint of this host, with its source.\n")
    out.write("#\n# Generated by specs-db/tools/tracepoint-docs.py; do not edit by hand (the\n")
    out.write("# hand-written system lines live in specs-db/tools/tracepoint-systems.toml).\n")
    out.write("# Kernel sources read, first wins:\n")
    for line in args.about or [label for _, label in trees]:
        out.write(f"#   {line}\n")
    out.write(f"# Kept: the events of this host's tracefs (kernel {os.uname().release}).\n#\n")
    out.write("# [system.NAME]: doc, source (where the doc comes from), header (the file that\n")
    out.write("# defines the TRACE_SYSTEM). [[event]]: name SYSTEM:EVENT, doc, source. Events\n")
    out.write("# the kernel does not describe are left out.\n")
    for system in sorted(systems):
        e = systems[system]
        if "doc" not in e:
            continue
        out.write(f"\n[system.{system}]\ndoc = {toml_str(e['doc'])}\nsource = {toml_str(e['source'])}\n")
        if "header" in e:
            out.write(f"header = {toml_str(e['header'])}\n")
    for system, name in sorted(events):
        doc, source = events[(system, name)]
        out.write(f"\n[[event]]\nname = {toml_str(f'{system}:{name}')}\n")
        out.write(f"doc = {toml_str(doc)}\nsource = {toml_str(source)}\n")


if __name__ == "__main__":
    main()
