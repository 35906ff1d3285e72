"""Tests of onespace.config: schema, messages, secrets, defaults, CLI."""

import copy
import json
import os
import sys

import pytest
from jsonschema import Draft202012Validator

# Let `pytest tests/unit/...` import the package from a plain checkout.
sys.path.insert(0, os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..')))

from onespace import config  # noqa: E402

S3_SECRET = 's3-SECRET-value-1'
SWIFT_SECRET = 'swift-SECRET-value-2'
V3_SECRET = 'keystone3-SECRET-value-3'
V2_SECRET = 'keystone2-SECRET-value-4'
MIG_SECRET = 'migration-SECRET-value-5'
ALL_SECRETS = (S3_SECRET, SWIFT_SECRET, V3_SECRET, V2_SECRET, MIG_SECRET)


def sample():
    """A config shaped like 1space's own sample and test configs."""
    return {
        'containers': [
            {
                'account': 'AUTH_test',
                'aws_bucket': 's3-sync-test',
                'aws_endpoint': 'http://127.0.0.1:10080',
                'aws_identity': 's3-sync-test',
                'aws_secret': S3_SECRET,
                'container': 'sync-s3',
                'copy_after': 0,
                'propagate_delete': True,
                'protocol': 's3',
                'retain_local': True,
            },
            {
                'account': 'AUTH_swift',
                'aws_bucket': 'remote',
                'aws_endpoint': 'http://192.168.22.99/auth/v1.0',
                'aws_identity': 'swift',
                'aws_secret': SWIFT_SECRET,
                'container': 'local',
                'copy_after': 0,
                'propagate_delete': False,
                'protocol': 'swift',
                'retain_local': False,
                'sync_container_metadata': True,
            },
            {
                'account': 'AUTH_\u062acct',
                'container': 'keystone',
                'aws_bucket': 'keystone',
                'aws_endpoint': 'http://1space-keystone:5000/v3',
                'aws_identity': 'tester',
                'aws_secret': V3_SECRET,
                'auth_type': 'keystone_v3',
                'project_name': 'test',
                'user_domain_name': 'default',
                'project_domain_name': 'default',
                'protocol': 'swift',
                'merge_namespaces': True,
                'propagate_delete': True,
                'retain_local': True,
            },
            {
                'account': 'AUTH_\u062acct',
                'container': 'keystone2',
                'aws_bucket': 'keystone2',
                'aws_endpoint': 'http://1space-keystone:5000/v2.0',
                'aws_identity': 'tester',
                'aws_secret': V2_SECRET,
                'auth_type': 'keystone_v2',
                'tenant_name': 'test',
                'protocol': 'swift',
                'merge_namespaces': True,
                'propagate_delete': True,
                'retain_local': True,
            },
            {
                'account': 'AUTH_slashacct',
                'aws_bucket': 'crazy-target:',
                'aws_endpoint': 'http://localhost:8080/auth/v1.0',
                'aws_identity': 'test2:tester2',
                'aws_secret': SWIFT_SECRET,
                'container': '/*',
                'copy_after': 0,
                'merge_namespaces': False,
                'propagate_delete': True,
                'protocol': 'swift',
                'retain_local': True,
            },
            {
                'account': 'AUTH_test',
                'aws_bucket': 's3-filter-test',
                'aws_endpoint': 'http://127.0.0.1:10080',
                'aws_identity': 's3-sync-test',
                'aws_secret': S3_SECRET,
                'container': 'filter-archive-s3',
                'copy_after': 0,
                'selection_criteria': {'OR': [
                    {'x-object-meta-msd': 'boo'},
                    {'NOT': {'x-object-meta-msd': 'b\u00e1r'}}]},
                'merge_namespaces': True,
                'propagate_delete': False,
                'protocol': 's3',
                'retain_local': False,
            },
        ],
        'migrations': [
            {
                'account': 'AUTH_test',
                'aws_endpoint': 'http://localhost:8080/auth/v1.0',
                'aws_identity': 'admin:admin',
                'aws_secret': MIG_SECRET,
                'remote_account': 'AUTH_test2',
                'aws_bucket': '/*',
                'protocol': 'swift',
            },
            {
                'account': 'AUTH_test',
                'aws_bucket': 'migration-s3',
                'aws_endpoint': 'http://127.0.0.1:10080',
                'aws_identity': 's3-sync-test',
                'aws_secret': MIG_SECRET,
                'protocol': 's3',
            },
        ],
        'migrator_settings': {
            'items_chunk': 5,
            'log_file': '/var/log/swift-s3-migrator.log',
            'poll_interval': 1,
            'status_file': '/var/lib/swift-s3-sync/migrator.status',
            'workers': 5,
            'processes': 1,
            'process': 0,
            'log_level': 'debug',
        },
        'devices': '/srv/node',
        'items_chunk': 1000,
        'log_file': '/var/log/swift-s3-sync.log',
        'syslog': {'host': 'localhost', 'port': 514, 'proto': 'udp'},
        'poll_interval': 5,
        'status_dir': '/var/lib/swift-s3-sync',
        'workers': 10,
        'verification_slack': 60,
    }


def write(tmp_path, doc, name='onespace.json'):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


# --------------------------------------------------------------- mutators

def set_key(section, index, key, value):
    def mutate(doc):
        target = doc[section][index] if index is not None else doc[section]
        target[key] = value
    return mutate


def mapping(key, value, index=0):
    return set_key('containers', index, key, value)


def migration(key, value, index=1):
    return set_key('migrations', index, key, value)


def delete(section, index, key):
    def mutate(doc):
        del doc[section][index][key]
    return mutate


def top(key, value):
    def mutate(doc):
        doc[key] = value
    return mutate


def settings(key, value):
    return set_key('migrator_settings', None, key, value)


def rename(section, index, old, new):
    def mutate(doc):
        item = doc[section][index]
        item[new] = item.pop(old)
    return mutate


def duplicate_first_mapping(doc):
    doc['containers'].append(copy.deepcopy(doc['containers'][0]))


def second_mapping_into(**changes):
    """A mapping of another local container, into containers[0]'s bucket."""
    def mutate(doc):
        other = copy.deepcopy(doc['containers'][0])
        other.update(container='other', **changes)
        doc['containers'].append(other)
    return mutate


def same_swift_container(doc):
    other = copy.deepcopy(doc['containers'][1])
    other['container'] = 'other-local'  # into the same remote container
    doc['containers'].append(other)


def drop_endpoint_of_swift_mapping(doc):
    del doc['containers'][1]['aws_endpoint']


INVALID = [
    # (id, mutation, exact path, reason fragment)
    ('protocol-enum', mapping('protocol', 'ftp'),
     'containers[0].protocol', "'ftp' is not one of ['s3', 'swift']"),
    ('typo-key', rename('containers', 0, 'aws_bucket', 'aws_bukcet'),
     'containers[0].aws_bukcet', "did you mean 'aws_bucket'?"),
    ('typo-key-lists-allowed', mapping('retian_local', True),
     'containers[0].retian_local', 'unknown key (allowed: account, '),
    ('typo-key-missing-required',
     rename('containers', 0, 'aws_bucket', 'aws_bukcet'),
     'containers[0].aws_bucket', 'required key is missing'),
    ('missing-secret', delete('containers', 0, 'aws_secret'),
     'containers[0].aws_secret', 'required key is missing'),
    ('missing-account', delete('containers', 2, 'account'),
     'containers[2].account', 'required key is missing'),
    ('missing-container', delete('containers', 0, 'container'),
     'containers[0].container', 'required key is missing'),
    ('copy-after-string', mapping('copy_after', '5'),
     'containers[0].copy_after', 'must be an integer, got "5"'),
    ('copy-after-negative', mapping('copy_after', -1),
     'containers[0].copy_after', 'must be >= 0, got -1'),
    ('retain-local-string', mapping('retain_local', 'false'),
     'containers[0].retain_local', 'must be a boolean'),
    ('container-slash', mapping('container', 'a/b'),
     'containers[0].container', 'container name (no "/")'),
    ('account-empty', mapping('account', ''),
     'containers[0].account', 'account name'),
    ('endpoint-scheme', mapping('aws_endpoint', 'ftp://host/'),
     'containers[0].aws_endpoint', 'http:// or https:// URL'),
    ('endpoint-port', mapping('aws_endpoint', 'http://host:port/'),
     'containers[0].aws_endpoint', 'invalid port'),
    ('swift-needs-endpoint', drop_endpoint_of_swift_mapping,
     'containers[1].aws_endpoint', 'needed for protocol "swift"'),
    ('auth-type-enum', mapping('auth_type', 'keystone', index=2),
     'containers[2].auth_type', "is not one of ['keystone_v2'"),
    ('criteria-empty-and', mapping('selection_criteria', {'AND': []}),
     'containers[0].selection_criteria.AND',
     'must be a non-empty list of criteria'),
    ('criteria-or-not-list', mapping('selection_criteria', {'OR': 'x'}),
     'containers[0].selection_criteria.OR',
     'must be a non-empty list of criteria'),
    ('criteria-empty-object', mapping('selection_criteria', {}),
     'containers[0].selection_criteria', 'exactly one key'),
    ('criteria-two-keys', mapping('selection_criteria',
                                  {'x-a': '1', 'x-b': '2'}),
     'containers[0].selection_criteria', 'got keys: x-a, x-b'),
    ('criteria-not-object', mapping('selection_criteria', ['AND']),
     'containers[0].selection_criteria', 'exactly one key'),
    ('criteria-header-value', mapping('selection_criteria',
                                      {'x-object-meta-a': 1}),
     'containers[0].selection_criteria.x-object-meta-a',
     'must be a string (the header value to match)'),
    ('criteria-nested', mapping('selection_criteria',
                                {'OR': [{'x-a': '1'}, {'AND': [{}]}]}),
     'containers[0].selection_criteria.OR[1].AND[0]', 'exactly one key'),
    ('criteria-not-operand', mapping('selection_criteria', {'NOT': 'x'}),
     'containers[0].selection_criteria.NOT', 'exactly one key'),
    ('exclude-pattern', mapping('exclude_pattern', '([a-z'),
     'containers[0].exclude_pattern', 'not a valid regular expression'),
    ('segment-size-s3', mapping('min_segment_size', 1024),
     'containers[0].min_segment_size', 'must be >= 5242880'),
    ('segment-size-zero', mapping('min_segment_size', 0, index=1),
     'containers[1].min_segment_size', 'must be >= 1'),
    ('max-part-size-small', mapping('max_part_size', 1024 * 1024),
     'containers[0].max_part_size', 'must be >= 5242880'),
    ('max-part-size-large', mapping('max_part_size', 6 * 1024 ** 3),
     'containers[0].max_part_size', 'must be <= 5368709120'),
    ('multipart-threshold-zero', mapping('multipart_threshold', 0),
     'containers[0].multipart_threshold', 'must be >= 1'),
    ('multipart-threshold-large', mapping('multipart_threshold', 6 * 1024 ** 3),
     'containers[0].multipart_threshold', 'must be <= 5368709120'),
    ('remote-delete-after', mapping('remote_delete_after', -5),
     'containers[0].remote_delete_after', 'must be >= 0'),
    ('region-empty', mapping('aws_region', ''),
     'containers[0].aws_region', 'must not be empty'),
    ('duplicate-mapping', duplicate_first_mapping,
     'containers[6]', 'duplicate of containers[0]'),
    ('shared-s3-prefix', second_mapping_into(custom_prefix=''),
     'containers[6]', 'writes where containers[0] writes'),
    ('shared-swift-container', same_swift_container,
     'containers[6]', 'writes where containers[1] writes'),
    ('per-account-s3-prefix', lambda d: d['containers'][0].update(
        container='/*', custom_prefix='pre'),
     'containers[0].custom_prefix', 'not allowed with container "/*"'),
    ('mapping-not-object', lambda d: d['containers'].append('oops'),
     'containers[6]', 'must be an object, got "oops"'),
    ('containers-not-list', top('containers', {}),
     'containers', 'must be a list'),
    ('migration-missing-account', delete('migrations', 0, 'account'),
     'migrations[0].account', 'required key is missing'),
    ('migration-all-with-container', migration('container', 'x', index=0),
     'migrations[0].container', 'must be absent when aws_bucket is "/*"'),
    ('migration-swift-endpoint', lambda d: d['migrations'][0].pop(
        'aws_endpoint'),
     'migrations[0].aws_endpoint', 'required key is missing'),
    ('migration-older-than', migration('older_than', -5),
     'migrations[1].older_than', 'must be >= 0'),
    ('migration-typo', migration('prefx', 'a/'),
     'migrations[1].prefx', "did you mean 'prefix'?"),
    ('migration-exclude-pattern', migration('exclude_pattern', '*.tmp'),
     'migrations[1].exclude_pattern', 'not a valid regular expression'),
    ('migration-propagate-metadata', migration('propagate_account_metadata',
                                               'yes'),
     'migrations[1].propagate_account_metadata', 'must be a boolean'),
    ('migrator-process', settings('process', 1),
     'migrator_settings.process', 'must be less than processes (1), got 1'),
    ('migrator-workers', settings('workers', 0),
     'migrator_settings.workers', 'must be >= 1, got 0'),
    ('migrator-log-level', settings('log_level', 'verbose'),
     'migrator_settings.log_level',
     'must be one of debug, info, warning, error, critical'),
    ('migrator-typo', settings('status_fiel', '/x'),
     'migrator_settings.status_fiel', "did you mean 'status_file'?"),
    ('log-level', top('log_level', 'loud'),
     'log_level', 'must be one of debug, info'),
    ('syslog-proto', lambda d: d['syslog'].update(proto='http'),
     'syslog.proto', "'http' is not one of ['udp', 'tcp']"),
    ('syslog-host', lambda d: d['syslog'].pop('host'),
     'syslog.host', 'required key is missing'),
    ('syslog-port', lambda d: d['syslog'].update(port=70000),
     'syslog.port', 'must be <= 65535'),
    ('top-typo', top('stauts_dir', '/var/lib/x'),
     'stauts_dir', "did you mean 'status_dir'?"),
    ('items-chunk', top('items_chunk', 0), 'items_chunk', 'must be >= 1'),
    ('poll-interval', top('poll_interval', '5'),
     'poll_interval', 'must be a number'),
    ('verification-slack', top('verification_slack', -1),
     'verification_slack', 'must be >= 0'),
    ('statsd-port', top('statsd_port', '8125'),
     'statsd_port', 'must be an integer'),
    ('retry-delay', top('remote_retry_max_delay', 0),
     'remote_retry_max_delay', 'must be > 0'),
]


@pytest.mark.parametrize('mutate,path,fragment',
                         [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_config_reports_path_and_reason(mutate, path, fragment):
    doc = sample()
    mutate(doc)
    problems = config.validate(doc)
    matching = [p for p in problems if p.startswith(path + ': ')]
    assert matching, problems
    assert any(fragment in p for p in matching), matching
    for problem in problems:
        for secret in ALL_SECRETS:
            assert secret not in problem


def test_sample_is_valid():
    assert config.validate(sample()) == []


def test_root_must_be_an_object():
    assert config.validate([]) == ['(root): must be an object, got a list']


def test_problems_sorted_by_path():
    doc = sample()
    doc['workers'] = 0
    doc['containers'][3]['copy_after'] = 'x'
    doc['containers'][0]['copy_after'] = 'y'
    paths = [p.split(':')[0] for p in config.validate(doc)]
    assert paths == ['containers[0].copy_after', 'containers[3].copy_after',
                     'workers']


def test_type_error_hides_other_errors_at_same_path():
    doc = sample()
    doc['containers'][0]['selection_criteria'] = []
    problems = config.validate(doc)
    assert problems == [
        'containers[0].selection_criteria: must be an object with exactly '
        'one key: AND, OR, NOT or a header name, got a list']


def test_each_unknown_key_on_its_own_line():
    doc = sample()
    doc['containers'][0].update(foo=1, bar=2)
    paths = sorted(p.split(':')[0] for p in config.validate(doc))
    assert paths == ['containers[0].bar', 'containers[0].foo']


def test_odd_keys_are_quoted_in_paths():
    doc = sample()
    doc['containers'][0]['selection_criteria'] = {'x.y': 5}
    assert config.validate(doc)[0].startswith(
        'containers[0].selection_criteria["x.y"]: must be a string')


# --------------------------------------------------------------- secrets

@pytest.mark.parametrize('bad_secret', [
    12345, 123.5, True, ['hunter2-in-a-list'], {'k': 'hunter2-in-a-dict'},
])
def test_bad_secret_value_is_never_echoed(bad_secret):
    doc = sample()
    doc['containers'][0]['aws_secret'] = bad_secret
    problems = config.validate(doc)
    assert problems[0].startswith('containers[0].aws_secret: must be a string')
    text = '\n'.join(problems)
    for fragment in ('12345', '123.5', 'hunter2', 'True', 'true'):
        assert fragment not in text


def test_empty_secret():
    doc = sample()
    doc['containers'][0]['aws_secret'] = ''
    assert config.validate(doc) == [
        'containers[0].aws_secret: must not be empty']


def test_typoed_secret_key_value_not_echoed():
    doc = sample()
    doc['containers'][0]['aws_secrte'] = doc['containers'][0].pop(
        'aws_secret')
    problems = config.validate(doc)
    assert 'containers[0].aws_secret: required key is missing' in problems
    assert any(p.startswith('containers[0].aws_secrte: unknown key')
               and "did you mean 'aws_secret'?" in p for p in problems)
    assert S3_SECRET not in '\n'.join(problems)


def test_secret_reused_as_other_value_not_echoed():
    doc = sample()
    doc['containers'][0]['protocol'] = S3_SECRET
    doc['containers'][0]['copy_after'] = S3_SECRET
    problems = config.validate(doc)
    assert 'containers[0].protocol: must be one of [\'s3\', \'swift\']' \
        in problems
    assert 'containers[0].copy_after: must be an integer, got a string' \
        in problems
    assert S3_SECRET not in '\n'.join(problems)


def test_config_error_never_contains_secret(tmp_path):
    doc = sample()
    doc['containers'][0]['aws_secret'] = 999
    doc['containers'][1]['protocol'] = SWIFT_SECRET
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, doc))
    assert '999' not in str(info.value)
    assert SWIFT_SECRET not in str(info.value)
    assert info.value.problems == str(info.value).split('\n')


def test_secrets_collects_every_secret(tmp_path):
    doc = sample()
    doc['containers'][0]['aws_endpoint'] = 'http://user:urlpass@host:80/'
    cfg = config.load(write(tmp_path, doc))
    assert cfg.secrets() == set(ALL_SECRETS) | {'urlpass'}


def test_secret_keys():
    assert 'aws_secret' in config.SECRET_KEYS


# --------------------------------------------------------------- defaults

def test_defaults_filled_without_mutating_input(tmp_path):
    doc = {'containers': [{'account': 'AUTH_a', 'container': 'c',
                           'aws_bucket': 'b', 'aws_identity': 'i',
                           'aws_secret': 's'}],
           'migrations': [{'account': 'AUTH_a', 'aws_bucket': 'src',
                           'aws_identity': 'i', 'aws_secret': 's'}],
           'syslog': {'host': 'logs'}}
    original = copy.deepcopy(doc)
    filled = config.fill_defaults(doc)
    assert doc == original
    m = filled['containers'][0]
    assert m['protocol'] == 's3'
    assert m['aws_region'] == 'us-east-1'
    assert m['retain_local'] is True and m['propagate_delete'] is True
    assert m['merge_namespaces'] is False
    assert m['min_segment_size'] == 5242880
    assert m['multipart_threshold'] == m['max_part_size'] == 5 * 1024 ** 3
    assert m['retain_local_segments'] is True and m['convert_dlo'] is False
    assert 'custom_prefix' not in m and 'aws_endpoint' not in m
    assert filled['syslog'] == {'host': 'logs', 'port': 514, 'proto': 'udp'}
    assert filled['migrator_settings']['ring_name'] == 'container'
    assert filled['migrator_settings']['processes'] == 1
    assert filled['status_dir'] == '/var/lib/onespace'
    assert filled['verification_slack'] == 60
    assert filled['shutdown_timeout'] == 30

    cfg = config.load(write(tmp_path, doc))
    assert cfg.raw == original
    assert cfg.settings['devices'] == '/srv/node'
    assert cfg.settings['workers'] == 10
    assert 'containers' not in cfg.settings
    assert cfg.migrator_settings['status_file'] == \
        '/var/lib/onespace/migrator.status'
    assert cfg.migrations[0]['container'] == 'src'
    assert cfg.migrations[0]['protocol'] == 's3'


def test_empty_config_gets_every_default(tmp_path):
    cfg = config.load(write(tmp_path, {}))
    assert cfg.mappings == [] and cfg.migrations == []
    assert cfg.settings['statsd_port'] == 8125
    assert cfg.settings['statsd_prefix'] == 'onespace'
    assert cfg.settings['remote_retry_max_delay'] == 300
    assert cfg.settings['log_level'] == 'info'
    assert 'syslog' not in cfg.settings


def test_schema_defaults_are_valid_values():
    root = config.load_schema()
    for name, sub in _walk(root):
        if 'default' in sub:
            resolved = config._resolve(sub, root)
            schema = dict(resolved, **{'$defs': root['$defs']})
            Draft202012Validator(schema).validate(sub['default'])


# --------------------------------------------------------------- sample

def test_one_space_sample_loads(tmp_path):
    cfg = config.load(write(tmp_path, sample()))
    assert len(cfg.mappings) == 6 and len(cfg.migrations) == 2
    v3 = cfg.mappings[2]
    assert v3['auth_type'] == 'keystone_v3'
    assert v3['project_domain_name'] == 'default'
    assert cfg.mappings[3]['tenant_name'] == 'test'
    assert cfg.mappings[4].is_per_account
    assert not cfg.mappings[0].is_per_account
    assert cfg.mappings[5]['selection_criteria']['OR'][0] == {
        'x-object-meta-msd': 'boo'}
    assert cfg.migrations[0].is_all_buckets
    assert 'container' not in cfg.migrations[0]
    assert cfg.migrator_settings['items_chunk'] == 5
    assert cfg.migrator_settings['ring_name'] == 'container'
    assert cfg.settings['syslog'] == {'host': 'localhost', 'port': 514,
                                      'proto': 'udp'}
    assert cfg.path.endswith('onespace.json')


def test_labels_and_indexes(tmp_path):
    doc = sample()
    doc['containers'][0]['aws_endpoint'] = 'http://u:pw@127.0.0.1:9000/'
    doc['containers'][0]['container'] = 'photos'
    cfg = config.load(write(tmp_path, doc))
    first = cfg.mappings[0]
    assert first.index == 0 and cfg.mappings[3].index == 3
    assert first.label == ('containers[0] (AUTH_test/photos -> '
                           's3 http://127.0.0.1:9000/s3-sync-test)')
    assert cfg.migrations[1].label == (
        'migrations[1] (s3 http://127.0.0.1:10080/migration-s3 -> '
        'AUTH_test/migration-s3)')
    assert cfg.migrations[1].index == 1
    for item in cfg.mappings + cfg.migrations:
        for secret in ALL_SECRETS + ('pw',):
            assert secret not in item.label


def test_identity():
    base = config.Mapping(sample()['containers'][0], 0)
    same = config.Mapping(dict(base, copy_after=3600, retain_local=False), 4)
    moved = config.Mapping(dict(base, aws_bucket='other'), 0)
    reprefixed = config.Mapping(dict(base, custom_prefix=''), 0)
    assert len(base.identity) == 64
    int(base.identity, 16)
    assert base.identity == same.identity
    assert base.identity != moved.identity
    assert base.identity != reprefixed.identity
    assert base.identity == config.Mapping(dict(base), 0).identity


def test_migration_identity_ignores_implicit_container():
    implicit = config.Migration(sample()['migrations'][1], 1)
    explicit = config.Migration(dict(sample()['migrations'][1],
                                     container='migration-s3'), 1)
    assert implicit.identity == explicit.identity
    assert implicit.identity != config.Migration(
        dict(implicit, aws_bucket='other', container='x'), 1).identity


# --------------------------------------------------------------- loading

def test_load_missing_file(tmp_path):
    path = str(tmp_path / 'nope.json')
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert str(info.value) == '%s: no such file' % path
    assert info.value.path == path


def test_load_invalid_json(tmp_path):
    path = write(tmp_path, '{\n  "workers": 10,\n}\n')
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(
        '%s: invalid JSON at line 3 column 1: ' % path)
    assert '\n' not in str(info.value)


def test_load_top_level_not_object(tmp_path):
    path = write(tmp_path, '[1, 2]')
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert str(info.value) == (
        '%s: top level must be a JSON object, got a list' % path)


def test_load_directory(tmp_path):
    with pytest.raises(config.ConfigError) as info:
        config.load(str(tmp_path))
    assert str(info.value).startswith('%s: cannot read' % tmp_path)


# --------------------------------------------------------------- schema

def _walk(schema, name='(root)'):
    """Every (name, subschema) that describes a config key."""
    yield name, schema
    for key, sub in schema.get('properties', {}).items():
        yield from _walk(sub, key)
    for key, sub in schema.get('$defs', {}).items():
        yield from _walk(sub, key)
    if isinstance(schema.get('items'), dict):
        yield from _walk(schema['items'], name + '[]')


def test_schema_is_valid_draft_2020_12():
    schema = config.load_schema()
    assert schema['$schema'] == \
        'https://json-schema.org/draft/2020-12/schema'
    Draft202012Validator.check_schema(schema)
    assert os.path.isfile(config.SCHEMA_PATH)


def test_every_key_has_type_and_description():
    for name, sub in _walk(config.load_schema()):
        if set(sub) == {'$ref'}:
            continue
        assert 'type' in sub, name
        assert sub.get('description'), name


def test_every_object_rejects_unknown_keys():
    for name, sub in _walk(config.load_schema()):
        if sub.get('type') == 'object' and 'properties' in sub:
            expected = ({'type': 'string'} if name == 'criteria' else False)
            extra = sub.get('additionalProperties')
            if isinstance(extra, dict):
                assert extra['type'] == expected['type'], name
            else:
                assert extra is False, name


# --------------------------------------------------------------- CLI

def test_check_ok(tmp_path, capsys):
    path = write(tmp_path, sample())
    assert config.check_main(['check', path]) == 0
    assert capsys.readouterr().out == '%s: OK\n' % path


def test_check_problems(tmp_path, capsys):
    doc = sample()
    doc['containers'][2]['protocol'] = 'ftp'
    doc['containers'][0]['aws_secret'] = 4242
    path = write(tmp_path, doc)
    assert config.check_main(['check', path]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        'containers[0].aws_secret: must be a string, got an integer',
        "containers[2].protocol: 'ftp' is not one of ['s3', 'swift']",
    ]
    assert '4242' not in out


def test_check_several_files(tmp_path, capsys):
    good = write(tmp_path, sample(), 'good.json')
    bad = write(tmp_path, '{', 'bad.json')
    assert config.check_main(['check', good, bad]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == '%s: OK' % good
    assert lines[1] == '%s:' % bad
    assert lines[2].startswith('%s: invalid JSON at line 1 column 2' % bad)


@pytest.mark.parametrize('argv', [[], ['check'], ['frobnicate'],
                                  ['defaults'], ['check', '--bogus', 'x']])
def test_usage_errors_exit_2(argv, capsys):
    assert config.check_main(argv) == 2
    assert 'usage:' in capsys.readouterr().err


def test_schema_command(capsys):
    assert config.check_main(['schema']) == 0
    assert json.loads(capsys.readouterr().out) == config.load_schema()


def test_defaults_command(tmp_path, capsys):
    path = write(tmp_path, sample())
    assert config.check_main(['defaults', path]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)
    assert printed['containers'][0]['aws_secret'] == '***'
    assert printed['containers'][0]['aws_region'] == 'us-east-1'
    assert printed['migrator_settings']['ring_name'] == 'container'
    for secret in ALL_SECRETS:
        assert secret not in out


def test_defaults_command_invalid(tmp_path, capsys):
    doc = sample()
    doc['workers'] = 0
    assert config.check_main(['defaults', write(tmp_path, doc)]) == 1
    assert capsys.readouterr().out == 'workers: must be >= 1, got 0\n'


def test_separate_remote_names_may_share_a_bucket():
    doc = sample()
    first = doc['containers'][0]

    def add(container, **changes):
        doc['containers'].append(dict(copy.deepcopy(first), container=container, **changes))
    add('other')  # its own default (hash) prefix in the same bucket
    add('a', custom_prefix='one', propagate_delete=False)  # prefixes apart
    add('b', custom_prefix='two')
    # overlapping names ('one/' and 'one/sub/'), but neither deletes nor
    # archives: allowed, as in 1space
    add('c', custom_prefix='one/sub', propagate_delete=False)
    assert config.validate(doc) == []
    add('d', custom_prefix='')  # every key of the bucket, and deletes
    assert [p.split(':')[0] for p in config.validate(doc)] == ['containers[10]']
