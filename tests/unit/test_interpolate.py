"""`$[[ ]]` interpolation, block for block as GitLab does it (lib/gitlab/ci/config/interpolation/)."""

from __future__ import annotations

import pytest

from lambda_ci.interpolate import Context, InterpolationError, interpolate, message, to_s

INPUTS = {
    "name": "orders-api",
    "count": 512,
    "big": 1e16,
    "ratio": 0.5,
    "enabled": True,
    "off": False,
    "tags": ["a", "b"],
    "rules": [{"if": "$CI_COMMIT_BRANCH"}],
    "text": "String with \" and ' and  blanks",
    "csv": "a, b,,c ",
    "vars": "$FOO-${FOO}-%FOO%-$NOPE",
}
INVALID_PATTERN = "invalid pattern used for interpolation. valid pattern is $[[ inputs.input ]]"
CHECK_FUNCTION = "check that the function name, arguments, and types are correct"
COMPONENT = {"name": "build", "sha": "f" * 40, "version": None, "reference": "main"}


def render(document, inputs=None, variables=None, masked=frozenset()):
    context = Context({"inputs": INPUTS if inputs is None else inputs, "component": COMPONENT},
                      variables or {}, masked)
    return interpolate(document, context)


def errors_of(document, **kwargs) -> list[str]:
    with pytest.raises(InterpolationError) as caught:
        render(document, **kwargs)
    return caught.value.errors


# --- typed values and Ruby's to_s --------------------------------------------------------------------


@pytest.mark.parametrize(("block", "typed"), [
    ("$[[ inputs.count ]]", 512),
    ("$[[ inputs.enabled ]]", True),
    ("$[[ inputs.tags ]]", ["a", "b"]),
    ("$[[ inputs.rules ]]", [{"if": "$CI_COMMIT_BRANCH"}]),
    ("$[[inputs.name]]", "orders-api"),
    ("$[[ component.version ]]", None),
])
def test_a_string_that_is_exactly_one_block_takes_the_value_with_its_type(block, typed):
    assert render({"value": block}) == {"value": typed}


@pytest.mark.parametrize(("text", "rendered"), [
    ("n=$[[ inputs.count ]]", "n=512"),
    ("on=$[[ inputs.enabled ]] off=$[[ inputs.off ]]", "on=true off=false"),
    ("tags=$[[ inputs.tags ]]", 'tags=["a", "b"]'),
    ("$[[ inputs.tags ]]\n", '["a", "b"]\n'),  # a block scalar's line break makes it a string
    (" $[[ inputs.count ]]", " 512"),
    ("$[[ inputs.count ]]$[[ inputs.count ]]", "512512"),  # two blocks are a string even with no text
    ("big=$[[ inputs.big ]] ratio=$[[ inputs.ratio ]]", "big=1.0e+16 ratio=0.5"),
    ("rules=$[[ inputs.rules ]]", 'rules=[{:if=>"$CI_COMMIT_BRANCH"}]'),
    ("v=$[[ component.version ]]", "v="),  # nil.to_s
    ("$[[ component.name ]]@$[[ component.reference ]]", "build@main"),
])
def test_a_block_inside_a_larger_string_is_replaced_by_rubys_to_s(text, rendered):
    assert render(text) == rendered


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), (True, "true"), (3, "3"), (3.0, "3.0"), (1e-05, "1.0e-05"), (0.0001, "0.0001"),
    (1e15, "1000000000000000.0"), (-2.5e20, "-2.5e+20"), (float("inf"), "Infinity"),
    (["a", 1, None, False, ["b"]], '["a", 1, nil, false, ["b"]]'),
    ({"key": "v", "with-dash": 1}, '{:key=>"v", :"with-dash"=>1}'),
    (['say "hi"\n', "back\\slash", "#{x}", "tab\t", "\x01", "é"],
     '["say \\"hi\\"\\n", "back\\\\slash", "\\#{x}", "tab\\t", "\\u0001", "é"]'),
])
def test_to_s_is_rubys(value, text):
    assert to_s(value) == text


def test_keys_and_values_are_interpolated_in_place_and_order_is_kept():
    document = {"$[[ inputs.name ]]-deploy": {"script": ["echo $[[ inputs.name ]]"], "when": "manual"},
                "other": {"needs": ["$[[ inputs.name ]]-deploy"]}}
    assert render(document) == {"orders-api-deploy": {"script": ["echo orders-api"], "when": "manual"},
                                "other": {"needs": ["orders-api-deploy"]}}


def test_text_that_is_not_a_block_is_left_exactly_as_it_is():
    # Jinja's own syntax, a lone `$[[`, a one-character block and a line break inside are not blocks.
    for text in ["docker inspect -f '{{ .Id }}' x", "{% raw %} {# c #}", "a $[[ b", "$[[ x ]]",
                 "$[[ inputs\n.name ]]", "$[ inputs.name ]", 42, None, True]:
        assert render({"k": text}) == {"k": text}


def test_matrix_blocks_are_left_for_gitlab_to_resolve_per_job():
    assert render({"OS": "$[[ matrix.OS ]]"}) == {"OS": "$[[ matrix.OS ]]"}


def test_a_value_is_written_into_a_string_with_rubys_gsub_which_reads_backslashes():
    # Template#interpolate_string_node! calls gsub(block, value.to_s): Ruby reads `\\` in the replacement
    # as one backslash, so posix_escape's `a\\b` loses one inside a string (and keeps both on its own).
    inputs = {"path": "a\\b"}
    assert render("$[[ inputs.path | posix_escape ]]", inputs=inputs) == "a\\\\b"
    assert render("cd $[[ inputs.path | posix_escape ]]", inputs=inputs) == "cd a\\b"
    assert render("x $[[ inputs.v ]]", inputs={"v": "\\&\\0!"}) == "x $[[ inputs.v ]]$[[ inputs.v ]]!"


# --- access ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("block", "value"), [
    ("$[[ inputs.tags[1] ]]", "b"),
    ("$[[ inputs.rules[0].if ]]", "$CI_COMMIT_BRANCH"),
])
def test_array_items_are_reached_by_index(block, value):
    assert render(block) == value


@pytest.mark.parametrize(("block", "error"), [
    ("$[[ inputs.nope ]]", "unknown interpolation key: `nope`"),
    ("$[[ secrets.x ]]", "unknown interpolation key: `secrets`"),
    ("$[[ inputs.name.first ]]", "unknown interpolation key: `first`"),
    ("$[[ component.tag ]]", "unknown interpolation key: `tag`"),
    ("$[[ inputs ]]", INVALID_PATTERN),
    ("$[[ | truncate(0, 1) ]]", INVALID_PATTERN),
    ("$[[ inputs.tags[2] ]]", "array index 2 out of bounds (size: 2) in `inputs.tags[2]`"),
    ("$[[ inputs.name[0] ]]", "cannot index into non-array value at [0] in `inputs.name[0]`"),
    ("$[[ inputs.tags[x] ]]", "invalid array index in `inputs.tags[x]`: `x` is not a valid index"),
    ("$[[ inputs.tags[0 ]]", "invalid array index in `inputs.tags[0`: missing closing bracket"),
    ("$[[ inputs.[0] ]]", "invalid indexed access without a key in `inputs.[0]`"),
])
def test_access_errors_are_gitlabs(block, error):
    assert errors_of({"job": {"script": [block]}}) == [error]


def test_an_access_longer_than_1024_bytes_is_refused():
    assert errors_of("$[[ inputs." + "x" * 1024 + " ]]") == ["maximum interpolation expression size exceeded"]


# --- functions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("block", "value"), [
    ("$[[ inputs.name | truncate(0, 6) ]]", "orders"),
    ("$[[ inputs.name | truncate( 7 ,3 ) ]]", "api"),
    ("$[[ inputs.name | truncate(7, 100) ]]", "api"),
    ("$[[ inputs.name | truncate(100, 1) ]]", ""),
    ("$[[ inputs.name | truncate(0, 6 ]]", "orders"),  # GitLab's pattern makes the `)` optional
    ("$[[ inputs.text | posix_escape ]]", "String\\ with\\ \\\"\\ and\\ \\'\\ and\\ \\ blanks"),
    ("$[[ inputs.name | posix_escape ]]", "orders-api"),
    ("$[[ inputs.csv | split(',') ]]", ["a", "b", "c"]),
    ("$[[ inputs.text | split(' ') ]]", ["String", "with", '"', "and", "'", "and", "blanks"]),
    ("$[[ inputs.vars | expand_vars ]]", "bar-bar-bar-$NOPE"),
    ("$[[ inputs.name | truncate(0, 6) | posix_escape | truncate(1, 3) ]]", "rde"),
    ("$[[ inputs.name | ]]", "orders-api"),  # Ruby's split drops the empty trailing function
])
def test_functions(block, value):
    assert render(block, variables={"FOO": "bar"}) == value


def test_posix_escape_quotes_an_empty_string_and_line_breaks():
    assert render("$[[ inputs.v | posix_escape ]]", inputs={"v": ""}) == "''"
    assert render("$[[ inputs.v | posix_escape ]]", inputs={"v": "a\nb;c"}) == "a'\n'b\\;c"


@pytest.mark.parametrize(("block", "error"), [
    ("$[[ inputs.count | truncate(0, 1) ]]",
     "error in `truncate` function: invalid input type: truncate can only be used with string inputs"),
    ("$[[ inputs.tags | posix_escape ]]", "error in `posix_escape` function: invalid input type: "
                                          "posix_escape can only be used with string inputs"),
    ("$[[ inputs.enabled | expand_vars ]]",
     "error in `expand_vars` function: invalid input type: expand_vars can only be used with string inputs"),
    ("$[[ inputs.tags | split(',') ]]",
     "error in `split` function: invalid input type: split can only be used with string inputs"),
    ("$[[ inputs.csv | split('') ]]",
     "error in `split` function: invalid argument: separator cannot be empty"),
    ("$[[ inputs.csv | split(',') | truncate(0, 1) ]]",
     "split() must be the last function in a chain (it returns an array, not a string)"),
    ("$[[ inputs.name | truncate(-1, 2) ]]",
     f"no function matching `truncate(-1, 2)`: {CHECK_FUNCTION}"),
    ("$[[ inputs.name | upper ]]",
     f"no function matching `upper`: {CHECK_FUNCTION}"),
])
def test_function_errors_are_gitlabs(block, error):
    assert errors_of(block) == [error]


def test_a_masked_variable_is_never_expanded():
    errors = errors_of("$[[ inputs.vars | expand_vars ]]", variables={"FOO": "secret"}, masked={"FOO"})
    assert errors == ["error in `expand_vars` function: "
                      "variable expansion error: masked variables cannot be expanded"]


def test_at_most_three_functions_in_a_block():
    block = "$[[ inputs.name | posix_escape | posix_escape | posix_escape | posix_escape ]]"
    assert errors_of(block) == ["too many functions in interpolation block"]
    assert render(block.replace(" | posix_escape ]]", " ]]")) == "orders-api"


def test_every_unknown_function_is_reported_and_gitlab_shows_the_first_three():
    errors = errors_of("$[[ inputs.name | a | b | c ]]")
    assert len(errors) == 3
    assert message(errors + ["a fourth"]) == ", ".join(errors)


def test_the_first_invalid_block_stops_the_interpolation():
    document = {"a": "$[[ inputs.nope ]]", "b": "$[[ inputs.other ]]"}
    assert errors_of(document) == ["unknown interpolation key: `nope`"]
    assert errors_of({"$[[ inputs.key ]]": "$[[ inputs.value ]]"}) == [
        "unknown interpolation key: `key`"]  # keys come before their values


def test_a_string_over_one_megabyte_is_refused():
    assert errors_of({"script": "$[[ inputs.name ]]" + "x" * 1024 * 1024}) == ["config node too large"]
