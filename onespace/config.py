"""Load and validate the onespace configuration file.

The file is 1space's JSON format (see schemas/onespace.schema.json). Checks
run in two layers: the JSON Schema (shared with the Ansible roles and any
other tool) and a few semantic checks a schema cannot express. Before
both, what Python's json accepts but JSON or onespace cannot use (repeated
keys, lone surrogates, NaN and infinite numbers, deep nesting) is refused
on its own, since the later layers would crash or print it. Every
problem is reported as one line ``<json.path>: <reason>`` so operators can
fix all of them in one go, and no line ever contains a secret.
"""

import argparse
import collections
import copy
import difflib
import hashlib
import json
import math
import os
import re
import sys
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from onespace import naming

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'schemas', 'onespace.schema.json')

#: Keys whose values are credentials: never printed, redacted in logs.
SECRET_KEYS = frozenset({'aws_secret'})

#: S3 rejects multipart parts smaller than this (except the last one).
S3_MIN_PART_SIZE = 5 * 1024 * 1024

REDACTED = '***'

#: Deepest nesting accepted: far beyond any real config, and shallow enough
#: for the recursive schema validator (about 4 stack frames per level).
MAX_DEPTH = 64

_schema_cache = None


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems, path=None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.path = path
        super().__init__('\n'.join(self.problems))

    def __str__(self):
        return '\n'.join(self.problems)


# ---------------------------------------------------------------- schema

def load_schema():
    """Return the JSON Schema (parsed once; callers must not mutate it)."""
    global _schema_cache
    if _schema_cache is None:
        with open(SCHEMA_PATH, encoding='utf-8') as f:
            _schema_cache = json.load(f)
    return _schema_cache


def _resolve(schema, root):
    """Follow a local ``$ref``, keeping sibling keywords (2020-12 style)."""
    if not isinstance(schema, dict) or '$ref' not in schema:
        return schema
    target = root
    for part in schema['$ref'].lstrip('#/').split('/'):
        target = target[part]
    merged = dict(_resolve(target, root))
    merged.update((k, v) for k, v in schema.items() if k != '$ref')
    return merged


def _allowed_keys(schema):
    return sorted(schema.get('properties', {}))


# ---------------------------------------------------------------- secrets

def _looks_secret(key):
    """Keys named like a secret, including typos of one ("aws_secrte")."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return (lowered in SECRET_KEYS or 'secret' in lowered
            or 'password' in lowered
            or bool(difflib.get_close_matches(lowered, SECRET_KEYS,
                                              cutoff=0.8)))


def find_secrets(doc):
    """Every value stored under a secret-looking key, as text (plus any
    password written into a URL)."""
    found = set()
    if isinstance(doc, str) and '@' in doc:
        found |= _url_password(doc)
    if isinstance(doc, dict):
        for key, value in doc.items():
            if _looks_secret(key) and not isinstance(value, (dict, list)):
                if value not in (None, ''):
                    found.add(str(value))
            else:
                found |= find_secrets(value)
    elif isinstance(doc, list):
        for item in doc:
            found |= find_secrets(item)
    return found


def _url_password(text):
    try:
        password = urlsplit(text).password
    except ValueError:
        return set()
    return {password} if password else set()


def redact(doc):
    """Copy of ``doc`` with secret values replaced by ``***``."""
    if isinstance(doc, dict):
        return {k: REDACTED if _looks_secret(k) else redact(v)
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(item) for item in doc]
    if isinstance(doc, str) and '@' in doc:
        # a password written into a URL is a secret too (see find_secrets)
        try:
            return _hide_userinfo(doc, REDACTED + '@')
        except ValueError:  # unreadable URL: it may still hold a password
            return REDACTED
    return doc


def _can_show(path, value, secrets):
    """May ``value`` appear in a message? Not if it is, or holds, a secret."""
    if path and _looks_secret(path[-1]):
        return False
    texts = (str(value), repr(value),
             json.dumps(value, ensure_ascii=False, default=str))
    return not any(secret in text for secret in secrets for text in texts)


# ---------------------------------------------------------------- messages

def scrub(line, secrets):
    """The line with every configured secret masked, longest first (one may
    contain another): defence in depth for logs and reports."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        line = line.replace(secret, REDACTED)
    return line


def printable(text):
    """``text`` with control and other non-printable characters (and ``\\``)
    escaped: names come from users, and a newline or terminal escape in one
    must not forge a log line or status row, or reach the operator's terminal."""
    return "".join(c if c.isprintable() and c != "\\" else
                   c.encode("unicode_escape").decode("ascii") for c in str(text))


def error_line(error, secrets=()):
    """An exception as one line, ``<Type>: <message>``, secrets masked."""
    text = "%s: %s" % (type(error).__name__, error) if str(error) else type(error).__name__
    return scrub(" ".join(text.split()), secrets)


def format_path(path):
    """``['containers', 2, 'protocol']`` -> ``containers[2].protocol``."""
    out = ''
    for part in path:
        if isinstance(part, int):
            out += '[%d]' % part
        elif re.fullmatch(r'[^\s.\[\]"\']+', part) and _is_utf8(part):
            out += ('.' if out else '') + part
        else:
            # escape a key that is not UTF-8, or the line cannot be printed
            out += '[%s]' % json.dumps(part, ensure_ascii=not _is_utf8(part))
    return out or '(root)'


_TYPE_NAMES = {
    'string': 'a string', 'integer': 'an integer', 'number': 'a number',
    'boolean': 'a boolean', 'object': 'an object',
    'array': 'a list', 'null': 'null',
}


def _json_type(value):
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    for name, kind in (('number', float), ('string', str),
                       ('object', dict), ('array', list)):
        if isinstance(value, kind):
            return name
    return 'null'


def _got(kind, value, show):
    """Suffix naming the bad value; only its type when it may be secret."""
    if kind == 'type':
        if show and not isinstance(value, (dict, list)):
            return ', got %s' % json.dumps(value, ensure_ascii=False)
        return ', got %s' % _TYPE_NAMES[_json_type(value)]
    if isinstance(value, dict):
        return ', got keys: %s' % (', '.join(map(str, value)) or 'none')
    if isinstance(value, list):
        return ', got %d items' % len(value)
    if show:
        return ', got %s' % json.dumps(value, ensure_ascii=False)
    return ''


def _reason(error, show):
    """A readable, secret-free reason for one jsonschema error."""
    kind, expected, value = (error.validator, error.validator_value,
                             error.instance)
    custom = _custom_message(error)
    if custom:
        return custom + _got(kind, value, show)
    if kind == 'enum':
        if show:
            return '%r is not one of %r' % (value, expected)
        return 'must be one of %r' % (expected,)
    if kind == 'type':
        reason = 'must be %s' % _TYPE_NAMES.get(expected, expected)
    elif kind in _COMPARISONS:
        reason = 'must be %s %s' % (_COMPARISONS[kind], expected)
    elif kind in ('minLength', 'minItems', 'minProperties') and expected == 1:
        return 'must not be empty'
    elif kind == 'pattern':
        reason = 'must match %s' % expected
    else:
        return 'does not satisfy the schema rule %r' % kind
    return reason + _got(kind, value, show)


_COMPARISONS = {'minimum': '>=', 'exclusiveMinimum': '>',
                'maximum': '<=', 'exclusiveMaximum': '<'}


def _custom_message(error):
    """Our own wording for a rule, kept in the schema as ``x-error``."""
    if isinstance(error.schema, dict):
        return error.schema.get('x-error')
    return None


def _error_lines(error, secrets):
    """Turn one jsonschema error into (path, validator, line, custom)."""
    path = list(error.absolute_path)
    custom = _custom_message(error) is not None
    if error.validator == 'additionalProperties' \
            and error.validator_value is False:
        return _unknown_key_lines(error, path)
    if error.validator == 'required':
        reason = _custom_message(error) or 'required key is missing'
        return [(path + [key], 'required',
                 '%s: %s' % (format_path(path + [key]), reason), custom)
                for key in error.validator_value
                if isinstance(error.instance, dict)
                and key not in error.instance]
    show = _can_show(path, error.instance, secrets)
    line = '%s: %s' % (format_path(path), _reason(error, show))
    return [(path, error.validator, line, custom)]


def _unknown_key_lines(error, path):
    """One line per unknown key, with a did-you-mean hint for typos."""
    allowed = _allowed_keys(error.schema)
    lines = []
    for key in error.instance:
        if key in allowed:
            continue
        line = '%s: unknown key (allowed: %s)' % (
            format_path(path + [key]), ', '.join(allowed))
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            line += "; did you mean '%s'?" % close[0]
        lines.append((path + [key], 'additionalProperties', line, False))
    return lines


def _path_sort_key(path):
    return [(0, part, '') if isinstance(part, int) else (1, 0, part)
            for part in path]


def _keep_root_causes(entries):
    """A wrong type explains every other error at its path: keep only one
    type error there, preferring our own wording."""
    typed = {tuple(e[0]) for e in entries if e[1] == 'type'}
    entries = sorted(entries, key=lambda e: not e[3])
    kept, seen = [], set()
    for path, kind, line, _ in entries:
        key = tuple(path)
        if key in typed and (kind != 'type' or key in seen):
            continue
        if kind == 'type':
            seen.add(key)
        kept.append((path, line))
    return kept


def _schema_problems(doc, secrets):
    validator = Draft202012Validator(load_schema())
    entries = []
    for error in validator.iter_errors(doc):
        entries.extend(_error_lines(error, secrets))
    kept = _keep_root_causes(entries)
    kept.sort(key=lambda e: (_path_sort_key(e[0]), e[1]))
    return _unique(line for _, line in kept)


def _unique(lines):
    return list(dict.fromkeys(lines))


# ---------------------------------------------------------------- semantics

def _entries(doc, key):
    """(index, dict) for every object in the list ``doc[key]``."""
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items)
            if isinstance(item, dict)]


def _check_regexes(doc):
    problems = []
    for section in ('containers', 'migrations'):
        for i, item in _entries(doc, section):
            pattern = item.get('exclude_pattern')
            if not isinstance(pattern, str):
                continue
            try:
                re.compile(pattern)
            except re.error as e:
                problems.append(
                    '%s[%d].exclude_pattern: not a valid regular expression '
                    '(%s)' % (section, i, e))
    return problems


def _check_endpoints(doc):
    """The schema checks the shape; the port must also be a number."""
    problems = []
    for section in ('containers', 'migrations'):
        for i, item in _entries(doc, section):
            url = item.get('aws_endpoint')
            if not isinstance(url, str):
                continue
            try:
                urlsplit(url).port
            except ValueError:
                problems.append('%s[%d].aws_endpoint: invalid port in URL'
                                % (section, i))
    return problems


def _check_segment_sizes(doc, secrets):
    problems = []
    for i, item in _entries(doc, 'containers'):
        size = item.get('min_segment_size')
        if item.get('protocol', 's3') != 's3' or not isinstance(size, int) \
                or isinstance(size, bool) or size >= S3_MIN_PART_SIZE:
            continue
        shown = size if _can_show([], size, secrets) else 'a smaller value'
        problems.append(
            'containers[%d].min_segment_size: must be >= %d (5 MiB, the '
            'smallest S3 multipart part) for protocol s3, got %s'
            % (i, S3_MIN_PART_SIZE, shown))
    return problems


def _destination(item):
    endpoint = item.get('aws_endpoint')
    if isinstance(endpoint, str):
        endpoint = endpoint.rstrip('/')
    return json.dumps([item.get('account'), item.get('container'),
                       item.get('protocol', 's3'), endpoint,
                       item.get('aws_bucket')], default=str)


def _check_duplicates(doc):
    """Two mappings for the same data would fight over the same progress."""
    problems, first = [], {}
    for i, item in _entries(doc, 'containers'):
        key = _destination(item)
        if key in first:
            problems.append(
                'containers[%d]: duplicate of containers[%d] (same account, '
                'container, protocol, aws_endpoint and aws_bucket)'
                % (i, first[key]))
        else:
            first[key] = i
    return problems


def _remote_space(item):
    """(namespace, name prefix, exact) a mapping writes its remote names in,
    or None when that cannot be told here.  S3: the bucket's keys under the
    mapping's key prefix; Swift: the remote account's container names (one
    container, or for a per-account mapping those starting with aws_bucket)."""
    fields = ('account', 'container', 'aws_bucket')
    if not all(isinstance(item.get(f), str) for f in fields):
        return None
    endpoint = str(item.get('aws_endpoint') or '').rstrip('/')
    per_account = item['container'] == '/*'
    if item.get('protocol', 's3') == 's3':
        custom = item.get('custom_prefix')
        if per_account and custom is None:
            return None  # a hash prefix per container: never shared
        if custom is not None and not isinstance(custom, str):
            return None
        prefix = naming.s3_listing_prefix(item['account'], item['container'], custom)
        return ('s3', endpoint, item['aws_bucket']), prefix, False
    return (('swift', endpoint, str(item.get('remote_account') or '')),
            item['aws_bucket'], not per_account)


def _spaces_overlap(a, b):
    (space_a, name_a, exact_a), (space_b, name_b, exact_b) = a, b
    if space_a != space_b:
        return False
    if exact_a and exact_b:
        return name_a == name_b
    if exact_a:
        return name_a.startswith(name_b)
    if exact_b:
        return name_b.startswith(name_a)
    return name_a.startswith(name_b) or name_b.startswith(name_a)


def _removes_remote_or_local(item):
    """Does the mapping propagate deletes or archive (remove local copies)?"""
    return item.get('retain_local') is False or item.get('propagate_delete', True)


def _check_shared_destinations(doc):
    """Two mappings writing into one remote namespace overwrite each other's
    copies; with deletes propagated or local copies archived that loses data."""
    problems, seen = [], []
    for i, item in _entries(doc, 'containers'):
        space = _remote_space(item)
        if space is None:
            continue
        for j, other, other_space in seen:
            if _destination(item) == _destination(other):
                continue  # a duplicate: _check_duplicates says so
            if (_removes_remote_or_local(item) or _removes_remote_or_local(other)) \
                    and _spaces_overlap(space, other_space):
                problems.append(
                    'containers[%d]: writes where containers[%d] writes (same remote '
                    'and overlapping names); with deletes propagated or local copies '
                    'archived, one would remove or overwrite the other\'s data: give '
                    'each its own bucket, container or custom_prefix' % (i, j))
                break
        seen.append((i, item, space))
    return problems


def _check_migrator_process(doc, secrets):
    settings = doc.get('migrator_settings') if isinstance(doc, dict) else None
    if not isinstance(settings, dict):
        return []
    process = settings.get('process', 0)
    processes = settings.get('processes', 1)
    if not all(isinstance(v, int) and not isinstance(v, bool)
               for v in (process, processes)):
        return []
    if process < processes:
        return []
    shown = process if _can_show([], process, secrets) else 'a larger value'
    return ['migrator_settings.process: must be less than processes (%s), '
            'got %s' % (processes, shown)]


def _natural_key(line):
    """Sort ``containers[10]`` after ``containers[2]``."""
    return [(0, int(part), '') if part.isdigit() else (1, 0, part)
            for part in re.split(r'(\d+)', line.split(': ', 1)[0])]


def _semantic_problems(doc, secrets):
    problems = (_check_regexes(doc) + _check_endpoints(doc)
                + _check_segment_sizes(doc, secrets) + _check_duplicates(doc)
                + _check_shared_destinations(doc)
                + _check_migrator_process(doc, secrets))
    return sorted(problems, key=_natural_key)


def validate(doc):
    """Every problem of ``doc`` as ``<json.path>: <reason>`` lines.

    Schema problems come first, sorted by path, then semantic ones. An
    empty list means the document is valid. No line contains a secret.
    """
    secrets = find_secrets(doc)
    problems = _schema_problems(doc, secrets)
    if isinstance(doc, dict):
        problems += _semantic_problems(doc, secrets)
    return _unique(problems)


# ---------------------------------------------------------------- defaults

def fill_defaults(doc, schema=None, root=None):
    """Copy of ``doc`` with schema defaults in every object and list item."""
    root = root if root is not None else load_schema()
    schema = _resolve(schema if schema is not None else root, root)
    if isinstance(doc, dict):
        props = schema.get('properties', {})
        out = {}
        for key, value in doc.items():
            sub = props.get(key)
            out[key] = fill_defaults(value, sub, root) if sub is not None \
                else copy.deepcopy(value)
        for key, sub in props.items():
            sub = _resolve(sub, root)
            if key not in out and 'default' in sub:
                out[key] = fill_defaults(copy.deepcopy(sub['default']),
                                         sub, root)
        return out
    if isinstance(doc, list) and isinstance(schema.get('items'), dict):
        return [fill_defaults(item, schema['items'], root) for item in doc]
    return copy.deepcopy(doc)


def _sha256(values):
    text = json.dumps(values, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _hide_userinfo(url, shown=''):
    """``url`` with its ``user:password@`` part replaced by ``shown``."""
    parts = urlsplit(url)
    if '@' not in parts.netloc:
        return url
    netloc = parts.netloc.rsplit('@', 1)[1]
    return parts._replace(netloc=shown + netloc).geturl()


def _display_endpoint(url):
    """Endpoint without any user:password@ part, for labels."""
    return _hide_userinfo(url).rstrip('/')


def _remote(item):
    """Human name of the remote side: protocol, endpoint, bucket."""
    protocol = item.get('protocol', 's3')
    bucket = item.get('aws_bucket')
    if item.get('remote_account'):
        bucket = '%s/%s' % (item['remote_account'], bucket)
    endpoint = item.get('aws_endpoint')
    if not endpoint:
        return '%s AWS/%s' % (protocol, bucket)
    endpoint = _display_endpoint(endpoint)
    if protocol == 's3':
        return '%s %s/%s' % (protocol, endpoint, bucket)
    return '%s %s %s' % (protocol, endpoint, bucket)


class _Entry(dict):
    """A ``containers[]`` or ``migrations[]`` entry: its position and identity."""

    #: Fields deciding where data goes; changing one restarts progress.
    IDENTITY_FIELDS = ()

    def __init__(self, data, index=0):
        super().__init__(data)
        self._index = index

    @property
    def index(self):
        return self._index

    @property
    def identity(self):
        return _sha256([self.get(f) for f in self.IDENTITY_FIELDS])


class Mapping(_Entry):
    """One ``containers[]`` entry with defaults filled in."""

    #: Fields deciding where data goes; changing one restarts progress.
    IDENTITY_FIELDS = ('account', 'container', 'protocol', 'aws_endpoint',
                       'aws_bucket', 'custom_prefix', 'remote_account',
                       'aws_identity')

    @property
    def is_per_account(self):
        return self.get('container') == '/*'

    @property
    def label(self):
        return 'containers[%d] (%s/%s -> %s)' % (
            self._index, self.get('account'), self.get('container'),
            _remote(self))


class Migration(_Entry):
    """One ``migrations[]`` entry with defaults filled in.

    ``container`` defaults to ``aws_bucket`` (except for "/*"), as in 1space.
    """

    IDENTITY_FIELDS = ('account', 'container', 'protocol', 'aws_endpoint',
                       'aws_bucket', 'prefix', 'remote_account',
                       'aws_identity')

    def __init__(self, data, index=0):
        super().__init__(data, index)
        if 'container' not in self and self.get('aws_bucket') != '/*':
            self['container'] = self.get('aws_bucket')

    @property
    def is_all_buckets(self):
        return self.get('aws_bucket') == '/*'

    #: as for a ``containers[]`` mapping: every container of the account
    is_per_account = is_all_buckets

    @property
    def label(self):
        local = '%s/%s' % (self.get('account'), self.get('container', '*'))
        return 'migrations[%d] (%s -> %s)' % (self._index, _remote(self),
                                               local)


class Config:
    """A validated configuration; defaults filled in, input untouched.

    Build it with load(); the constructor trusts ``raw`` to be valid.
    """

    def __init__(self, raw, path=None):
        self.path = path
        self.raw = raw
        self.data = fill_defaults(raw)
        self.settings = {k: v for k, v in self.data.items()
                         if k not in ('containers', 'migrations')}
        self.migrator_settings = self.data['migrator_settings']
        self.mappings = [Mapping(m, i)
                         for i, m in enumerate(self.data['containers'])]
        self.migrations = [Migration(m, i)
                           for i, m in enumerate(self.data['migrations'])]

    def secrets(self):
        """Secret values to scrub from log lines."""
        return find_secrets(self.raw)

    def redacted(self):
        """Full configuration with defaults and secrets replaced by ***."""
        return redact(self.data)


# ---------------------------------------------------------------- loading

def _read_json(path):
    """Parse the file; any failure becomes a one-line ConfigError."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError('%s: no such file' % path, path)
    except UnicodeDecodeError as e:
        raise ConfigError('%s: not UTF-8 text (%s)' % (path, e.reason), path)
    except OSError as e:
        raise ConfigError('%s: cannot read (%s)' % (path, e.strerror), path)
    try:
        doc = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as e:
        raise ConfigError('%s: invalid JSON at line %d column %d: %s'
                          % (path, e.lineno, e.colno, e.msg), path)
    except RecursionError:
        raise ConfigError('%s: invalid JSON: nested too deeply' % path, path)
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits()
        raise ConfigError('%s: invalid JSON: a number has too many digits'
                          % path, path)
    problems = _input_problems(doc, [])
    if problems:
        raise ConfigError(problems, path)
    return doc


class _RepeatedKeys(dict):
    """A JSON object that names some keys more than once (json keeps the
    last value); ``repeated`` lists them for _input_problems to report."""

    def __init__(self, pairs, repeated):
        super().__init__(pairs)
        self.repeated = repeated


def _json_object(pairs):
    """json's object_pairs_hook: a dict that remembers repeated keys."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    counts = collections.Counter(key for key, _ in pairs)
    return _RepeatedKeys(obj, [key for key in obj if counts[key] > 1])


def _is_utf8(text):
    """False for a string with a lone surrogate ("\\ud800" in JSON), which
    parses but cannot be written out, sent or logged as UTF-8."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def _input_problems(node, path):
    """What json.loads accepts but onespace cannot use: repeated keys, lone
    surrogates, NaN and infinite numbers, and nesting the (recursive)
    checks after this one cannot walk. Lines name paths, never values."""
    if len(path) > MAX_DEPTH:
        return ['%s: nested more than %d levels deep'
                % (format_path(path), MAX_DEPTH)]
    problems = []
    if isinstance(node, str) and not _is_utf8(node):
        problems.append('%s: not valid UTF-8 (lone surrogate)'
                        % format_path(path))
    elif isinstance(node, float) and not math.isfinite(node):
        # NaN passes "minimum: 0"; as poll_interval NaN busy-loops and
        # Infinity (also what 1e400 parses to) never runs a second pass
        problems.append('%s: must be a finite number (NaN, Infinity and '
                        'numbers over 1e308 are not accepted)'
                        % format_path(path))
    elif isinstance(node, dict):
        for key in getattr(node, 'repeated', ()):
            problems.append('%s: duplicate key (the file sets it more than '
                            'once)' % format_path(path + [key]))
        for key, value in node.items():
            if not _is_utf8(key):
                problems.append('%s: key is not valid UTF-8 (lone surrogate)'
                                % format_path(path + [key]))
            problems += _input_problems(value, path + [key])
    elif isinstance(node, list):
        for i, item in enumerate(node):
            problems += _input_problems(item, path + [i])
    return problems


def load(path):
    """Read, validate and return the configuration at ``path``.

    Raises ConfigError listing every problem (never any secret).
    """
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise ConfigError('%s: top level must be a JSON object, got %s'
                          % (path, _TYPE_NAMES[_json_type(raw)]), path)
    problems = validate(raw)
    if problems:
        raise ConfigError(problems, path)
    return Config(raw, path)


# ---------------------------------------------------------------- CLI

def _parser():
    parser = argparse.ArgumentParser(
        prog='onespace-config',
        description='Check onespace configuration files.')
    sub = parser.add_subparsers(dest='command', required=True)
    check = sub.add_parser('check', help='validate configuration files')
    check.add_argument('files', nargs='+', metavar='FILE')
    sub.add_parser('schema', help='print the JSON Schema')
    defaults = sub.add_parser(
        'defaults', help='print a configuration with defaults filled in '
                         '(secrets shown as ***)')
    defaults.add_argument('file', metavar='FILE')
    return parser


def _cmd_check(files):
    status = 0
    for path in files:
        try:
            load(path)
        except ConfigError as e:
            status = 1
            if len(files) > 1:
                print('%s:' % path)
            for line in e.problems:
                print(line)
        else:
            print('%s: OK' % path)
    return status


def _cmd_defaults(path):
    try:
        config = load(path)
    except ConfigError as e:
        print(str(e))
        return 1
    print(json.dumps(config.redacted(), indent=2, ensure_ascii=False))
    return 0


def check_main(argv=None):
    """``onespace-config check|schema|defaults``: 0 ok, 1 problems, 2 usage."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    if args.command == 'schema':
        print(json.dumps(load_schema(), indent=2, ensure_ascii=False))
        return 0
    if args.command == 'defaults':
        return _cmd_defaults(args.file)
    return _cmd_check(args.files)


if __name__ == '__main__':
    sys.exit(check_main())
