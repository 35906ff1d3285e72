#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: onespace developers
# Apache License 2.0 (see the repository's LICENSE)
"""Put a paste filter into a Swift server's pipeline, or take it out."""

from __future__ import annotations

import os
import re
import tempfile

DOCUMENTATION = r"""
---
module: swift_pipeline_filter
short_description: Put a paste filter into a Swift server's pipeline, or take it out
description:
  - Edits a Swift paste.deploy config (e.g. C(/etc/swift/proxy-server.conf)) in place.
  - With I(state=present) the filter stands in the C(pipeline) of C([pipeline:main]) right
    before the first of I(before) (whatever else the pipeline holds), or right before the
    last element (the app) when none of them is in the pipeline; a filter found elsewhere is
    moved there. Its C([filter:NAME]) section is added, or its I(options) are set in it.
  - With I(state=absent) the filter leaves the pipeline and its section is removed.
  - Only the pipeline's words and the filter's section change; the rest of the file
    (comments, other sections, continuation lines of the pipeline) stays byte-identical.
    A file that already is as asked for is not written.
  - Supports check mode and diff mode.
options:
  path:
    description: The server config file; it must exist and have a C([pipeline:main]).
    type: path
    required: true
  name:
    description: Name of the filter in the pipeline (the section is C([filter:NAME])).
    type: str
    required: true
  state:
    description: Whether the filter is in the pipeline.
    type: str
    choices: [present, absent]
    default: present
  before:
    description: The filter goes right before the first of these pipeline elements.
    type: list
    elements: str
    default: [slo, dlo]
  options:
    description:
      - Options set in the filter's section with I(state=present), e.g. C(use) and
        C(conf_file). Other options already in the section are kept.
    type: dict
    default: {}
  validate:
    description:
      - Command that checks the new file before it replaces the old one; C(%s) is the new
        file's path. The file is not changed when the command fails.
    type: str
author: onespace developers
"""

EXAMPLES = r"""
- name: Put cloud-shunt before slo/dlo in the proxy pipeline
  swift_pipeline_filter:
    path: /etc/swift/proxy-server.conf
    name: cloud-shunt
    options:
      use: egg:onespace#cloud-shunt
      conf_file: /etc/onespace/onespace.json
"""

RETURN = r"""
pipeline:
  description: The pipeline after the change.
  returned: always
  type: list
  elements: str
previous_pipeline:
  description: The pipeline before the change.
  returned: always
  type: list
  elements: str
"""

PIPELINE_SECTION = "pipeline:main"
SECTION_RE = re.compile(r"^\[([^\]]+)\][ \t]*$")
OPTION_RE = re.compile(r"^([^\s=:][^=:]*?)[ \t]*[=:][ \t]*(.*)$")
COMMENT_PREFIXES = ("#", ";")


class PipelineError(ValueError):
    """The file cannot be edited as asked (the message says why)."""


# ---- reading the file (pure) -------------------------------------------------
def _lines(text):
    """The file's lines with their start offsets, line endings kept."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line))
        pos += len(line)
    return out


def _sections(lines):
    """{section name: (index of its header line, index after its last line)}."""
    found, current = {}, None
    for i, (_, line) in enumerate(lines):
        m = SECTION_RE.match(line.rstrip("\r\n"))
        if m:
            if current is not None:
                found.setdefault(current[0], (current[1], i))
            current = (m.group(1).strip(), i)
    if current is not None:
        found.setdefault(current[0], (current[1], len(lines)))
    return found


def _value_lines(lines, start, end):
    """Indexes of the lines of the option whose first line is ``start``.

    configparser's rules: indented lines continue the value, comment lines
    (at any indent) are skipped, blank lines belong to it only when an
    indented line follows.
    """
    out, blanks = [start], []
    for i in range(start + 1, end):
        raw = lines[i][1].rstrip("\r\n")
        if not raw.strip():
            blanks.append(i)
        elif raw.strip().startswith(COMMENT_PREFIXES):
            continue
        elif raw[0] in " \t":
            out.extend(blanks + [i])
            blanks = []
        else:
            break
    return out


def pipeline_tokens(text, section=PIPELINE_SECTION):
    """The words of ``pipeline`` in ``[section]`` as (word, start, end) offsets."""
    lines = _lines(text)
    sections = _sections(lines)
    if section not in sections:
        raise PipelineError("no [%s] section" % section)
    first, end = sections[section]
    for i in range(first + 1, end):
        line_start, line = lines[i]
        m = OPTION_RE.match(line.rstrip("\r\n"))
        if not m or line.lstrip().startswith(COMMENT_PREFIXES) or \
                m.group(1).strip().lower() != "pipeline":
            continue
        tokens = []
        for j in _value_lines(lines, i, end):
            offset, body = lines[j]
            if j == i:
                offset, body = line_start + m.start(2), m.group(2)
            elif body.strip().startswith(COMMENT_PREFIXES):
                continue
            for w in re.finditer(r"\S+", body.rstrip("\r\n")):
                tokens.append((w.group(), offset + w.start(), offset + w.end()))
        if not tokens:
            raise PipelineError("the pipeline of [%s] is empty" % section)
        return tokens
    raise PipelineError("[%s] has no 'pipeline' option" % section)


def pipeline(text, section=PIPELINE_SECTION):
    return [t[0] for t in pipeline_tokens(text, section)]


def target_pipeline(names, name, before):
    """Where ``name`` belongs: right before the first of ``before``, else before the app."""
    rest = [n for n in names if n != name]
    spot = next((i for i, n in enumerate(rest) if n in before), len(rest) - 1)
    return rest[:spot] + [name] + rest[spot:]


# ---- editing (pure) ----------------------------------------------------------
def _remove_token(text, start, end):
    """Cut a word with the blanks after it (or, at the end of its line, before it);
    a continuation line that held only this word goes away."""
    line_start = text.rfind("\n", 0, start) + 1
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after] not in "\r\n":
        return text[:start] + text[after:]
    before = start
    while before > line_start and text[before - 1] in " \t":
        before -= 1
    if before == line_start:
        line_end = text.find("\n", end)
        return text[:line_start] + ("" if line_end < 0 else text[line_end + 1:])
    return text[:before] + text[after:]


def remove_from_pipeline(text, name, section=PIPELINE_SECTION):
    while True:
        hits = [t for t in pipeline_tokens(text, section) if t[0] == name]
        if not hits:
            return text
        text = _remove_token(text, hits[-1][1], hits[-1][2])


def insert_into_pipeline(text, name, before, section=PIPELINE_SECTION):
    """``name`` right before its target element (``target_pipeline``), on that element's line."""
    text = remove_from_pipeline(text, name, section)
    tokens = pipeline_tokens(text, section)
    names = [t[0] for t in tokens]
    spot = target_pipeline(names, name, before).index(name)
    start = tokens[spot][1]
    return text[:start] + name + " " + text[start:]


def _section_lines(text, section):
    lines = _lines(text)
    return lines, _sections(lines).get(section)


def remove_section(text, section):
    """Drop ``[section]`` (header to the next header); at the end of the file also
    the blank lines before it, so that add then remove gives the old bytes back."""
    lines, span = _section_lines(text, section)
    if span is None:
        return text
    first, end = span
    start = lines[first][0]
    stop = lines[end][0] if end < len(lines) else len(text)
    if end == len(lines):
        while first > 0 and not lines[first - 1][1].strip():
            first -= 1
        start = lines[first][0]
    return text[:start] + text[stop:]


def set_section_options(text, section, options):
    """Add ``[section]`` at the end with ``options``, or set them in the existing one."""
    lines, span = _section_lines(text, section)
    if span is None:
        body = "".join("%s = %s\n" % (k, v) for k, v in options.items())
        if text and not text.endswith("\n"):
            text += "\n"
        return text + ("\n" if text else "") + "[%s]\n%s" % (section, body)
    first, end = span
    missing = dict(options)
    out = [line for _, line in lines[:first + 1]]
    last_option = first
    for i in range(first + 1, end):
        line = lines[i][1]
        m = OPTION_RE.match(line.rstrip("\r\n"))
        if m and not line.lstrip().startswith(COMMENT_PREFIXES):
            last_option = i
            key = m.group(1).strip()
            if key in missing:
                value = str(missing.pop(key))
                if m.group(2).strip() != value:
                    eol = line[len(line.rstrip("\r\n")):] or "\n"
                    line = "%s = %s%s" % (key, value, eol)
        out.append(line)
    # keys not there yet go after the section's last option
    added = ["%s = %s\n" % (k, v) for k, v in missing.items()]
    if added and not out[last_option].endswith("\n"):
        out[last_option] += "\n"
    out[last_option + 1:last_option + 1] = added
    out.extend(line for _, line in lines[end:])
    return "".join(out)


def rewrite(text, name, state="present", before=("slo", "dlo"), options=None,
            section=PIPELINE_SECTION):
    """The whole file with the filter present (in its place, with ``options``) or absent."""
    current = pipeline(text, section)
    if state == "absent":
        return remove_section(remove_from_pipeline(text, name, section), "filter:" + name)
    if current != target_pipeline(current, name, before):
        text = insert_into_pipeline(text, name, before, section)
    return set_section_options(text, "filter:" + name, options or {})


# ---- the module glue ------------------------------------------------------------
def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            before=dict(type="list", elements="str", default=["slo", "dlo"]),
            options=dict(type="dict", default={}),
            validate=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    if not os.path.isfile(path):
        module.fail_json(msg="%s does not exist (is this a Swift proxy node?)" % path)
    with open(path, encoding="utf-8", newline="") as f:
        old = f.read()
    options = {k: str(v) for k, v in p["options"].items()}
    try:
        previous = pipeline(old)
        new = rewrite(old, p["name"], p["state"], p["before"], options)
    except PipelineError as e:
        module.fail_json(msg="%s: %s" % (path, e))
    result = dict(changed=new != old, path=path, pipeline=pipeline(new),
                  previous_pipeline=previous)
    if module._diff:
        result["diff"] = dict(before=old, after=new, before_header=path, after_header=path)
    if new == old or module.check_mode:
        module.exit_json(**result)

    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path),
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(new)
        if p["validate"]:
            if "%s" not in p["validate"]:
                module.fail_json(msg="validate must contain %%s: %s" % p["validate"])
            rc, out, err = module.run_command(p["validate"].replace("%s", tmp))
            if rc != 0:
                module.fail_json(msg="%s was not changed: the new file failed '%s' (rc %d): %s"
                                 % (path, p["validate"], rc, " / ".join((err or out).strip().splitlines()[-3:])),
                                 **result)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
