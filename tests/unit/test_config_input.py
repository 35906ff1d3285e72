"""What json.loads accepts but onespace cannot use: each becomes a one-line
ConfigError naming the file or JSON path, never a traceback or a secret."""

import json
import logging

import pytest

from onespace import config
from onespace.shunt.routes import ConfigWatcher

SECRET = 'in-put-SECRET-7'
URL_PASSWORD = 'SuperSecretPW'


def mapping(**extra):
    item = {'account': 'AUTH_a', 'container': 'c1', 'aws_bucket': 'b',
            'aws_identity': 'id', 'aws_secret': SECRET, 'protocol': 's3',
            'merge_namespaces': True}
    item.update(extra)
    return item


def write(tmp_path, text):
    """``text`` as is: these files are not what json.dumps writes."""
    path = tmp_path / 'onespace.json'
    path.write_text(text, encoding='utf-8')
    return str(path)


def problems(tmp_path, text):
    """The ConfigError lines of loading ``text``, checked to be safe."""
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, text))
    for line in info.value.problems:
        assert '\n' not in line
        assert SECRET not in line and URL_PASSWORD not in line
        line.encode('utf-8')  # printable
    return info.value.problems


def containers(*items):
    return '{"containers": [%s]}' % ', '.join(items)


# ------------------------------------------------- 1. too big, too deep

def test_integer_over_the_digit_limit(tmp_path):
    path = write(tmp_path, '{"containers": [], "workers": %s}' % ('9' * 5000))
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert info.value.problems == [
        '%s: invalid JSON: a number has too many digits' % path]


def test_nesting_too_deep_for_the_parser(tmp_path):
    depth = 100000
    path = write(tmp_path, '{"x": %s%s}' % ('[' * depth, ']' * depth))
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert info.value.problems == ['%s: invalid JSON: nested too deeply' % path]


def criteria(depth, operator='NOT'):
    crit = {'x-color': 'blue'}
    for _ in range(depth):
        crit = {'NOT': crit} if operator == 'NOT' else {operator: [crit]}
    return crit


@pytest.mark.parametrize('operator', ['NOT', 'AND'])
def test_selection_criteria_too_deep_for_validation(tmp_path, operator):
    # 400 levels parse, but used to raise RecursionError in the validator
    doc = {'containers': [mapping(selection_criteria=criteria(400, operator))]}
    lines = problems(tmp_path, json.dumps(doc))
    assert len(lines) == 1
    assert lines[0].startswith('containers[0].selection_criteria.%s'
                               % operator)
    assert lines[0].endswith(': nested more than %d levels deep'
                             % config.MAX_DEPTH)


def test_deepest_accepted_nesting_validates(tmp_path):
    # root, containers, [0], selection_criteria, then one level per NOT
    doc = {'containers': [mapping(
        selection_criteria=criteria(config.MAX_DEPTH - 4))]}
    assert config.load(write(tmp_path, json.dumps(doc))).mappings


# ------------------------------------------------- 2. lone surrogates

def test_lone_surrogate_value(tmp_path):
    text = containers(json.dumps(mapping(container='bad\ud800')))
    assert '\\ud800' in text
    assert problems(tmp_path, text) == [
        'containers[0].container: not valid UTF-8 (lone surrogate)']


def test_lone_surrogate_in_secret_is_not_echoed(tmp_path):
    text = containers(json.dumps(mapping(aws_secret=SECRET + '\udc00')))
    assert problems(tmp_path, text) == [
        'containers[0].aws_secret: not valid UTF-8 (lone surrogate)']


def test_lone_surrogate_key_is_shown_escaped(tmp_path):
    assert problems(tmp_path, '{"containers": [], "k\\udfff": 1}') == [
        '["k\\udfff"]: key is not valid UTF-8 (lone surrogate)']


def test_surrogate_pair_is_fine(tmp_path):
    text = containers(json.dumps(mapping(container='emoji-\U0001f600')))
    assert config.load(write(tmp_path, text)).mappings[0]['container'] \
        == 'emoji-\U0001f600'


def test_defaults_command_reports_surrogate(tmp_path, capsys):
    path = write(tmp_path, containers(json.dumps(mapping(container='\ud800'))))
    assert config.check_main(['defaults', path]) == 1
    assert capsys.readouterr().out == \
        'containers[0].container: not valid UTF-8 (lone surrogate)\n'


def test_shunt_keeps_previous_table_on_surrogate(tmp_path, caplog):
    path = write(tmp_path, containers(json.dumps(mapping())))
    watcher = ConfigWatcher(path, 0, logging.getLogger('t'))
    assert watcher.current().route('AUTH_a', 'c1') is not None
    write(tmp_path, containers(json.dumps(mapping(container='c2\ud800'))))
    with caplog.at_level(logging.ERROR):
        table = watcher.current()
    assert table.route('AUTH_a', 'c1') is not None
    assert 'keeping the previous configuration' in caplog.text
    assert 'containers[0].container: not valid UTF-8' in caplog.text


# ------------------------------------------------- 3. NaN and infinity

@pytest.mark.parametrize('number', ['NaN', 'Infinity', '-Infinity', '1e400',
                                    '-1e400'])
def test_non_finite_number(tmp_path, number):
    text = '{"containers": [], "poll_interval": %s}' % number
    assert problems(tmp_path, text) == [
        'poll_interval: must be a finite number (NaN, Infinity and numbers '
        'over 1e308 are not accepted)']


def test_non_finite_numbers_in_lists_name_their_index(tmp_path):
    text = '{"containers": [], "x": [1.5, NaN]}'
    assert problems(tmp_path, text)[0].startswith('x[1]: must be a finite')


# ------------------------------------------------- 4. URL passwords

def test_defaults_command_masks_url_password(tmp_path, capsys):
    endpoint = 'http://admin:%s@127.0.0.1:21000/' % URL_PASSWORD
    path = write(tmp_path, containers(json.dumps(mapping(
        aws_endpoint=endpoint))))
    assert config.check_main(['defaults', path]) == 0
    out = capsys.readouterr().out
    assert URL_PASSWORD not in out and SECRET not in out
    printed = json.loads(out)['containers'][0]
    assert printed['aws_endpoint'] == 'http://***@127.0.0.1:21000/'
    assert printed['aws_secret'] == '***'


@pytest.mark.parametrize('value, shown', [
    ('http://u:pw@host/x?q#f', 'http://***@host/x?q#f'),
    ('https://token@host', 'https://***@host'),
    ('http://u:pw@[::1', '***'),            # unreadable: hidden whole
    ('http://host/a@b', 'http://host/a@b'),  # '@' in the path only
    ('someone@example.com', 'someone@example.com'),
])
def test_redact_hides_url_userinfo(value, shown):
    assert config.redact({'list': [value]}) == {'list': [shown]}


def test_display_endpoint_unchanged():
    assert config._display_endpoint('http://a:b@h:1/v1/') == 'http://h:1/v1'
    assert config._display_endpoint('http://h/') == 'http://h'


# ------------------------------------------------- 5. duplicate keys

def test_duplicate_top_level_key(tmp_path):
    text = '{"containers": [%s], "containers": []}' % json.dumps(mapping())
    assert problems(tmp_path, text) == [
        'containers: duplicate key (the file sets it more than once)']


def test_duplicate_nested_key_reported_once(tmp_path):
    item = json.dumps(mapping())[:-1] + \
        ', "aws_secret": "other", "aws_secret": "third"}'
    assert problems(tmp_path, containers(json.dumps(mapping()), item)) == [
        'containers[1].aws_secret: duplicate key (the file sets it more than '
        'once)']


def test_every_input_problem_is_listed(tmp_path):
    text = '{"containers": [], "a": NaN, "a": 1, "b": "\\ud800"}'
    assert problems(tmp_path, text) == [
        'a: duplicate key (the file sets it more than once)',
        'b: not valid UTF-8 (lone surrogate)']
