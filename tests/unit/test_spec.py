"""`spec:inputs` checked and resolved as GitLab does (lib/ci/inputs/*.rb), message for message."""

from __future__ import annotations

import pytest

from lambda_ci import spec

SPECS = {
    "name": None,  # the minimal spec: a required string
    "stage": {"default": "test"},
    "count": {"type": "number", "default": 1},
    "enabled": {"type": "boolean", "default": False},
    "tags": {"type": "array", "default": []},
    "env": {"type": "string", "default": "dev", "options": ["dev", "prod"]},
    "size": {"type": "number", "default": 1, "options": [1, 2, 3]},
    "version": {"type": "string", "default": "v1.0", "regex": r"^v\d+\.\d+$"},
}

NO_MATCH = "does not match required RegEx pattern"
# A number input's options have their own wording (NumberInput#validate_options): "the allowed options".
NOT_IN_THE_OPTIONS = "cannot be used because it is not in the list of the allowed options"


def resolve(given, specs=SPECS):
    return spec.resolve(specs, given)


def errors(given, specs=SPECS) -> list[str]:
    return resolve(given, specs)[1]


def test_defaults_fill_what_is_not_given_and_values_keep_their_types():
    values, problems = resolve({"name": "app", "count": 3, "enabled": True, "tags": ["a"]})
    assert problems == []
    assert values == {"name": "app", "stage": "test", "count": 3, "enabled": True, "tags": ["a"],
                      "env": "dev", "size": 1, "version": "v1.0"}


def test_null_means_not_given():
    values, problems = resolve({"name": "app", "stage": None})
    assert problems == [] and values["stage"] == "test"
    assert errors({"name": None}) == ["`name` input: required value has not been provided"]


@pytest.mark.parametrize(("given", "problem"), [
    ({}, "`name` input: required value has not been provided"),
    ({"name": "a", "count": "many"}, "`count` input: provided value is not a number"),
    ({"name": "a", "count": True}, "`count` input: provided value is not a number"),
    ({"name": "a", "enabled": "yes"}, "`enabled` input: provided value is not a boolean"),
    ({"name": "a", "tags": "a,b"}, "`tags` input: provided value is not an array"),
    ({"name": "a", "env": "foo"},
     "`env` input: `foo` cannot be used because it is not in the list of allowed options"),
    ({"name": "a", "size": 5}, f"`size` input: `5` {NOT_IN_THE_OPTIONS}"),
    ({"name": "a", "version": "1.0"}, f"`version` input: provided value {NO_MATCH}"),
    ({"name": "a", "other": 1, "more": 2}, "unknown input arguments: other, more"),
])
def test_gitlabs_words(given, problem):
    assert errors(given) == [problem]


def test_text_is_read_as_json_for_numbers_booleans_and_arrays():
    # Ci::Inputs::BaseInput#coerced_value: how a value typed in the UI or an API, or quoted in YAML, works.
    given = {"name": "a", "count": "512", "enabled": "true", "tags": '["x", "y"]', "size": "2"}
    values, problems = resolve(given)
    assert problems == []
    assert (values["count"], values["enabled"], values["tags"], values["size"]) == (512, True, ["x", "y"], 2)


def test_a_string_input_takes_any_value_as_rubys_to_s():
    # GitLab coerces string inputs with to_s: it has no "is not a string" error any more.
    values, problems = resolve({"name": 123, "stage": True, "env": "dev", "version": "v2.5"})
    assert problems == []
    assert (values["name"], values["stage"]) == ("123", "true")
    values, problems = resolve({"name": ["a", "b"]})
    assert problems == [] and values["name"] == '["a", "b"]'


def test_defaults_are_checked_like_given_values():
    specs = {
        "count": {"type": "number", "default": "x"},
        "flag": {"type": "boolean", "default": None},
        "list": {"type": "array", "default": "a"},
        "env": {"default": "qa", "options": ["dev"]},
        "tag": {"default": "latest", "regex": "^v"},
    }
    assert errors({}, specs) == [
        "`count` input: default value is not a number",
        "`flag` input: default value is not a boolean",
        "`list` input: default value is not an array",
        "`env` input: `qa` cannot be used because it is not in the list of allowed options",
        f"`tag` input: default value {NO_MATCH}",
    ]


def test_a_bad_default_and_a_bad_value_are_both_reported():
    specs = {"count": {"type": "number", "default": "x"}}
    assert errors({"count": "y"}, specs) == ["`count` input: default value is not a number",
                                              "`count` input: provided value is not a number"]


def test_each_check_of_a_value_reports_type_then_options_then_regex():
    specs = {"size": {"type": "number", "default": 1, "options": [1, 2]}}
    assert errors({"size": "big"}, specs) == [
        "`size` input: provided value is not a number",
        f"`size` input: `big` {NOT_IN_THE_OPTIONS}",
    ]


def test_errors_come_in_gitlabs_order():
    specs = {"a": None, "b": {"type": "map"}, "c": {"type": "number", "default": 0}}
    assert errors({"c": "x", "zz": 1}, specs) == [
        "unknown input arguments: zz",
        "unknown input specification for `b` (valid types: array, boolean, number, string)",
        "`a` input: required value has not been provided",
        "`c` input: provided value is not a number",
    ]


def test_an_input_of_an_unknown_type_is_not_an_input_at_all():
    assert errors({"b": 1}, {"b": {"type": "map"}}) == [
        "unknown input arguments: b",
        "unknown input specification for `b` (valid types: array, boolean, number, string)",
    ]


def test_options_and_regex_only_where_gitlab_allows_them():
    specs = {"flag": {"type": "boolean", "default": True, "options": [True]},
             "count": {"type": "number", "default": 1, "regex": "^1$"}}
    assert errors({}, specs) == ["`flag` input: Options can only be used with string and number inputs",
                                 "`count` input: RegEx validation can only be used with string inputs"]


def test_array_options_name_every_item_that_is_not_allowed():
    specs = {"envs": {"type": "array", "default": ["dev"], "options": ["dev", "prod"]}}
    assert errors({"envs": ["dev", "qa", "uat"]}, specs) == [
        "`envs` input: qa, uat cannot be used because it is not in the list of allowed options"]


def test_string_options_compare_as_text_and_true_is_not_one():
    specs = {"n": {"default": "1", "options": [1, 2]},
             "size": {"type": "number", "default": 1, "options": [1]}}
    assert errors({"n": 2}, specs) == []
    assert errors({"size": True}, specs) == [
        "`size` input: provided value is not a number",
        f"`size` input: `true` {NOT_IN_THE_OPTIONS}",
    ]


def test_regex_is_an_unanchored_re2_search():
    specs = {"arn": {"default": "role/a", "regex": "role/"},
             "zip": {"default": "a.zip", "regex": r"^.+\.zip$"}}
    assert errors({"arn": "arn:aws:iam::1:role/x"}, specs) == []
    assert errors({"arn": ""}, specs) == [f"`arn` input: provided value {NO_MATCH}"]
    # RE2's `$` is the end of the text: a trailing line break does not match (Python's `$` would).
    assert errors({"zip": "a.zip\n"}, specs) == [f"`zip` input: provided value {NO_MATCH}"]
    assert errors({}, {"x": {"default": "a", "regex": "[$]"}}) == [f"`x` input: default value {NO_MATCH}"]


def test_an_invalid_regex_is_reported():
    assert errors({}, {"x": {"default": "a", "regex": "("}}) == ["`x` input: invalid regular expression"]


def test_header_helpers():
    header = {"spec": {"component": ["sha", "name", "sha"], "inputs": {"a": None}}}
    assert spec.component_fields(header) == ["sha", "name"]
    assert spec.inputs_spec(header) == {"a": None}
    assert spec.component_fields(None) == [] and spec.inputs_spec({"spec": {}}) == {}
