"""The pipeline rewrite of roles/onespace_shunt/library/swift_pipeline_filter.py."""

import configparser
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "swift_pipeline_filter",
    os.path.join(HERE, "..", "..", "roles", "onespace_shunt", "library", "swift_pipeline_filter.py"))
spf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(spf)

OPTIONS = {"use": "egg:onespace#cloud-shunt", "conf_file": "/etc/onespace/onespace.json"}
SECTION = "\n[filter:cloud-shunt]\nuse = egg:onespace#cloud-shunt\nconf_file = /etc/onespace/onespace.json\n"

ONE_LINE = """\
[DEFAULT]
bind_port = 8080

[pipeline:main]
pipeline = catch_errors healthcheck proxy-logging bulk slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy

[filter:slo]
use = egg:swift#slo
"""

# continuation lines, a comment inside the value, comments elsewhere
MULTI_LINE = """\
# the proxy
[pipeline:main]
# keep tempauth early
pipeline = catch_errors gatekeeper healthcheck
    proxy-logging cache tempauth
# large objects
    dlo slo versioned_writes
    proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
"""


def present(text):
    return spf.rewrite(text, "cloud-shunt", "present", ["slo", "dlo"], OPTIONS)


def absent(text):
    return spf.rewrite(text, "cloud-shunt", "absent", ["slo", "dlo"], OPTIONS)


def as_configparser_sees_it(text):
    """What paste.deploy reads: the pipeline words and the filter section."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    section = None
    if parser.has_section("filter:cloud-shunt"):
        section = {k: v for k, v in parser["filter:cloud-shunt"].items() if k not in parser.defaults()}
    return parser.get("pipeline:main", "pipeline").split(), section


def test_one_line_pipeline_gets_the_filter_before_slo_and_its_section():
    new = present(ONE_LINE)
    assert new == ONE_LINE.replace("bulk slo", "bulk cloud-shunt slo") + SECTION
    words, section = as_configparser_sees_it(new)
    assert words == ["catch_errors", "healthcheck", "proxy-logging", "bulk", "cloud-shunt",
                     "slo", "dlo", "proxy-logging", "proxy-server"]
    assert section == OPTIONS


def test_multi_line_pipeline_before_dlo_when_it_comes_first_and_comments_kept():
    new = present(MULTI_LINE)
    assert new == MULTI_LINE.replace("    dlo slo", "    cloud-shunt dlo slo") + SECTION
    words, _ = as_configparser_sees_it(new)
    assert words[5:9] == ["tempauth", "cloud-shunt", "dlo", "slo"]
    assert spf.pipeline(new) == words


def test_already_present_in_place_is_left_untouched():
    once = present(MULTI_LINE)
    assert present(once) == once
    assert present(present(ONE_LINE)) == present(ONE_LINE)


def test_in_a_wrong_place_it_is_moved():
    wrong = MULTI_LINE.replace("    proxy-logging proxy-server",
                               "    proxy-logging cloud-shunt proxy-server")
    wrong = wrong.replace("pipeline = catch_errors", "pipeline = cloud-shunt catch_errors")
    new = present(wrong)
    assert new == present(MULTI_LINE)


def test_alone_on_a_continuation_line_in_a_wrong_place():
    wrong = MULTI_LINE.replace("    dlo slo", "    cloud-shunt\n    dlo slo")
    wrong = wrong.replace("    dlo slo versioned_writes", "    dlo slo versioned_writes cloud-shunt")
    # moved: the line that held it alone goes away
    assert present(wrong + SECTION) == present(MULTI_LINE)


def test_without_slo_or_dlo_it_goes_before_the_app():
    text = "[pipeline:main]\npipeline = catch_errors proxy-logging proxy-server\n"
    assert spf.pipeline(present(text)) == ["catch_errors", "proxy-logging", "cloud-shunt",
                                           "proxy-server"]
    assert present(present(text)) == present(text)


def test_absent_removes_filter_and_section_and_gives_the_old_bytes_back():
    for text in (ONE_LINE, MULTI_LINE):
        assert absent(present(text)) == text
        assert absent(text) == text


def test_absent_from_a_continuation_line_and_a_section_in_the_middle():
    text = MULTI_LINE.replace("    dlo slo", "    cloud-shunt\n    dlo slo")
    text = text.replace("[app:proxy-server]",
                        "[filter:cloud-shunt]\nuse = egg:onespace#cloud-shunt\n\n[app:proxy-server]")
    assert absent(text) == MULTI_LINE


def test_section_options_are_updated_in_place_and_other_options_kept():
    text = ONE_LINE.replace("bulk slo", "bulk cloud-shunt slo") + (
        "\n[filter:cloud-shunt]\n# ours\nuse = egg:onespace#cloud-shunt\n"
        "conf_file = /old/path.json\nreload_interval = 30\n\n[filter:dlo]\nuse = egg:swift#dlo\n")
    new = present(text)
    assert new == text.replace("/old/path.json", "/etc/onespace/onespace.json")
    _, section = as_configparser_sees_it(new)
    assert section == dict(OPTIONS, reload_interval="30")


def test_missing_option_is_added_after_the_section_s_last_option():
    text = ONE_LINE + "\n[filter:cloud-shunt]\nuse = egg:onespace#cloud-shunt\n\n[filter:x]\nuse = y\n"
    new = present(text)
    assert "use = egg:onespace#cloud-shunt\nconf_file = /etc/onespace/onespace.json\n\n[filter:x]" in new


def test_crlf_line_ends_and_no_final_newline():
    text = "[pipeline:main]\r\npipeline = bulk\r\n  slo proxy-server"
    new = present(text)
    assert new.startswith("[pipeline:main]\r\npipeline = bulk\r\n  cloud-shunt slo proxy-server\n")
    # the section needed a line end before it; that one stays
    assert absent(new) == text + "\n"


@pytest.mark.parametrize("text, message", [
    ("[DEFAULT]\nbind_port = 80\n", r"no \[pipeline:main\] section"),
    ("[pipeline:main]\n# pipeline = proxy-server\n", "has no 'pipeline' option"),
    ("[pipeline:main]\npipeline =\n", "is empty"),
])
def test_bad_files_are_named(text, message):
    with pytest.raises(spf.PipelineError, match=message):
        present(text)


def test_other_sections_named_pipeline_are_not_touched():
    text = "[pipeline:other]\npipeline = slo proxy-server\n" + ONE_LINE
    new = present(text)
    assert new.startswith("[pipeline:other]\npipeline = slo proxy-server\n")
    assert spf.pipeline(new)[4] == "cloud-shunt"
