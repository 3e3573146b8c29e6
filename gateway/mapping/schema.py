"""The mapping language: every key a mapping file may use, and nothing else.

Read this module to learn the whole language; `loader.py` reads files with these
schemas and `engine.py` turns the result into plain functions. The prose version
for admins is `mappings/README.md`.

Naming rule used throughout dialect files: a field or argument is named the way
*this dialect* names it, except on the right-hand side of a `rename`/`args` pair
(the canonical name) and in `drop`/`absent` (canonical names this dialect lacks).
"""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

CONVERTER_NAMES: set[str] = set()  # filled by converters.py at import time


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# --------------------------------------------------------------------------- canonical.yaml


class ArgSpecField(fields.Field):
    """`required`, `optional` (omitted = the server decides), or `{default: VALUE}`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if value in ("required", "optional"):
            return {"kind": value}
        if isinstance(value, dict) and set(value) == {"default"}:
            return {"kind": "default", "default": value["default"]}
        raise ValidationError("must be `required`, `optional` or `{default: VALUE}`")


class ShapeField(fields.Field):
    """Where objects sit in a result: an object type name, or {field: shape}."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return _check_shape(value)


def _check_shape(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _check_shape(v) for k, v in value.items()}
    raise ValidationError("a shape is an object type name or a mapping of field to shape")


class CanonicalMethodSchema(_Strict):
    about = fields.String()
    args = fields.Dict(keys=fields.String(), values=ArgSpecField(), load_default=dict)
    result = ShapeField(load_default=None, allow_none=True)
    # another canonical method doing the same with the same arguments (4.22's deprecated aliases):
    # a backend that maps only one of the two serves both with it
    same_as = fields.String()
    kind = fields.String(required=True, validate=validate.OneOf(["read", "write"]))  # changes nothing | something
    repo = fields.String()  # the argument naming the repository the call is about (routes match it)
    repo_group = fields.String()  # the argument naming the repository group the call is about
    # the answer lists repositories (groups), each named by this field: merged across backends
    lists = fields.Dict(keys=fields.String(validate=validate.OneOf(["repo", "repo_group"])), values=fields.String(),
                        validate=validate.Length(equal=1))


# --------------------------------------------------------------------------- composed calls
# A step is one canonical call made on the backend. Its `args` are a template: a string `$name` is the
# call's canonical argument `name` (left out when the call left it out), `$step.field.sub` a field of an
# earlier step's answer (by its `as`), `$each` the item of `each`; `{convert: C, value: T, with: {...}}`
# computes a value with a converter; anything else is taken as written.


class CheckSchema(_Strict):
    call = fields.String(required=True)  # a canonical read
    args = fields.Dict(keys=fields.String(), load_default=dict)  # template


class StepSchema(_Strict):
    call = fields.String(required=True)  # canonical method
    args = fields.Dict(keys=fields.String(), load_default=dict)  # template
    as_ = fields.String(data_key="as")  # name of its answer, for later steps and the result
    when = fields.Raw()  # template: the step runs only when this is truthy
    each = fields.String()  # `parents($path)`: the step runs once per parent path, `$each` being it
    unless_found = fields.Nested(CheckSchema)  # a read first: the step is made only where it fails (missing)


class ComposedSchema(_Strict):
    """A canonical method answered, where a backend lacks it, by other canonical methods it has."""

    about = fields.String()
    takes = fields.List(fields.String())  # the arguments it can honour; any other (not at its default) is refused
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(min=1))
    result = fields.Raw(required=True)  # template of the canonical answer, e.g. {convert: C, value: $step}


class _OneOrManyNames(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
            raise ValidationError("a field name or a list of field names")
        return list(items)


class CompareObjectSchema(_Strict):
    """What legitimately differs for one object type between two instances holding the same data."""

    instance = fields.List(fields.String(), load_default=list)  # fields each instance has its own value of
    key = _OneOrManyNames()  # what identifies an object of this type on both: a list of them is a set by it
    unordered = fields.List(fields.String(), load_default=list)  # list fields whose order means nothing


class CompareSchema(_Strict):
    """How the shadow diff compares two instances' canonical answers (`compare:` of canonical.yaml)."""

    objects = fields.Dict(keys=fields.String(), values=fields.Nested(CompareObjectSchema), load_default=dict)
    # {method: reason}: reads whose answer is about the instance itself; never compared
    not_compared = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class CanonicalViewsSchema(_Strict):
    """Web views, downloads, hg and git over HTTP: where a repository's name ends in a path."""

    after_repo = fields.List(fields.String(), load_default=list)  # the first of these segments starts the view


class CanonicalSchema(_Strict):
    about = fields.String()
    views = fields.Nested(CanonicalViewsSchema, load_default=lambda: CanonicalViewsSchema().load({}))
    compare = fields.Nested(CompareSchema, load_default=lambda: CompareSchema().load({}))
    objects = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.String()),
        load_default=dict,
    )
    methods = fields.Dict(keys=fields.String(), values=fields.Nested(CanonicalMethodSchema), required=True)
    composed = fields.Dict(keys=fields.String(), values=fields.Nested(ComposedSchema), load_default=dict)

    @validates_schema
    def _shapes_name_known_objects(self, data: dict, **kwargs: Any) -> None:
        known = set(data.get("objects", {}))
        for obj, children in data.get("objects", {}).items():
            for field, kind in children.items():
                if kind not in known:
                    raise ValidationError(f"unknown object type `{kind}`", f"objects.{obj}.{field}")
        for obj in data["compare"]["objects"]:
            if obj not in known:
                raise ValidationError(f"unknown object type `{obj}`", f"compare.objects.{obj}")
        for name in data["compare"]["not_compared"]:
            if name not in data["methods"]:
                raise ValidationError(f"`{name}` is no method of this file", f"compare.not_compared.{name}")
        for name, method in data["methods"].items():
            for path, kind in _shape_leaves(method.get("result")):
                if kind not in known:
                    raise ValidationError(f"unknown object type `{kind}`", f"methods.{name}.result{path}")
            for key in ("repo", "repo_group"):
                if key in method and method[key] not in method["args"]:
                    raise ValidationError(f"`{method[key]}` is no argument of `{name}`", f"methods.{name}.{key}")
            if "repo" in method and "repo_group" in method:
                raise ValidationError("a call is about a repository or a repository group, not both", f"methods.{name}")
            target = data["methods"].get(method.get("same_as", name))
            if target is None:
                raise ValidationError(f"`{method['same_as']}` is no method of this file", f"methods.{name}.same_as")
            if target["args"] != method["args"] or target.get("result") != method.get("result"):
                raise ValidationError(f"`{method['same_as']}` takes other arguments or answers another shape",
                                      f"methods.{name}.same_as")


def _shape_leaves(shape: Any, path: str = ""):
    if isinstance(shape, str):
        yield path, shape
    elif isinstance(shape, dict):
        for k, v in shape.items():
            yield from _shape_leaves(v, f"{path}.{k}")


# --------------------------------------------------------------------------- dialect files


class ConverterName(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in CONVERTER_NAMES:
            raise ValidationError(f"unknown converter `{name}` (known: {', '.join(sorted(CONVERTER_NAMES))})")
        return name


def _renames() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class ObjectRulesSchema(_Strict):
    """How one object type (or a method's top-level result) differs in this dialect."""

    rename = _renames()  # {dialect field: canonical field}
    drop = fields.List(fields.String(), load_default=list)  # canonical fields this dialect lacks
    keep = fields.List(fields.String(), load_default=None)  # this dialect's fields: any other is dropped going down
    fill = fields.Dict(keys=fields.String(), load_default=dict)  # dialect fields added when missing
    values = fields.Dict(keys=fields.String(), values=ConverterName(), load_default=dict)
    enum = fields.Dict(  # {dialect field: {dialect value: canonical value}}
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.String()), load_default=dict
    )
    # a converter for the whole object, for what field rules cannot say (one field becoming three);
    # it sits next to the canonical side: first going down, last going up
    convert = ConverterName()


DEFAULT_FETCH_AT_MOST = 50


class FetchSchema(_Strict):
    """Fill a result field this dialect expects by one more canonical (read) call, or one per list item."""

    into = fields.String(required=True)  # canonical result field to fill (with `each`: a field of each item)
    method = fields.String(required=True)  # canonical method to call
    args = _renames()  # {arg of the fetch call: arg of the original call} (with `each`: a field of the item)
    each = fields.String()  # a canonical result field holding a list: one read per item
    where = fields.Dict(keys=fields.String(), load_default=dict)  # only the items with these field values
    drop = fields.List(fields.String(), load_default=list)  # canonical fields of the fetched object left out
    at_most = fields.Integer(validate=validate.Range(min=0), load_default=DEFAULT_FETCH_AT_MOST)  # reads per call
    convert = ConverterName()  # what of the fetched answer is the field's value (its `up`)


class ResultRulesSchema(ObjectRulesSchema):
    convert = ConverterName()  # a converter for the whole result, where no field rule can say it; stands alone
    # {this dialect's field: object rules}: more rules for the object in that field of this method's answer,
    # besides its type's (1.x create_users_group answers the new group without its members)
    within = fields.Dict(keys=fields.String(), values=fields.Nested(ObjectRulesSchema), load_default=dict)
    from_field = fields.String()  # the dialect's result is this canonical field's bare value
    fetch = fields.List(fields.Nested(FetchSchema), load_default=list)
    # read up from this dialect's server (it is the backend):
    extra = fields.List(fields.String(), load_default=list)  # its fields canonical answers lack: left out
    implied = fields.Dict(keys=fields.String(), load_default=dict)  # canonical fields it leaves implicit: {field: value}
    from_call = _renames()  # {canonical field: canonical argument}: the server did not repeat the call's value


class PathSchema(_Strict):
    """One canonical path argument ("parent/child") that this dialect gives in two parts."""

    parent = fields.String(required=True)  # this dialect's argument holding the parent's path
    name = fields.String(required=True)  # this dialect's argument holding the last part
    # canonical argument naming the object being changed: its path supplies a part the call leaves out
    current = fields.String()
    inbound_only = fields.Boolean(load_default=False)  # accepted from callers; this dialect's server takes the path
    # read as two parts only when the call gives `parent`; else the name argument already holds the path
    only_with_parent = fields.Boolean(load_default=False)


class ArgFromSchema(_Strict):
    """A canonical argument this dialect's server requires where canonical lets it default (to the caller):
    read from one more call to the same server before the call itself."""

    method = fields.String(required=True)  # canonical method to call (without arguments)
    field = fields.String(required=True)  # the field of its result that holds the value


class MethodSchema(_Strict):
    about = fields.String()
    canonical = fields.String()  # canonical method name (default: the same name)
    alias_of = fields.String()  # inbound-only second spelling of another method of this dialect
    unsupported = fields.String()  # this dialect's server cannot do it; the text says why
    args = _renames()  # {dialect arg: canonical arg}
    aliases = _renames()  # inbound only: {older spelling: dialect arg}
    absent = fields.List(fields.String(), load_default=list)  # canonical args this dialect lacks
    # canonical args this dialect lacks because its server always behaves as VALUE ({arg: VALUE}):
    # asking for that value is served, any other is refused. Listed in `absent` too once loaded.
    always = fields.Dict(keys=fields.String(), load_default=dict)
    # like `always`, and this dialect's callers are served as if they had sent VALUE ({arg: VALUE}):
    # their server always did it (Kallithea's get_changeset always listed the changed files)
    as_if = fields.Dict(keys=fields.String(), load_default=dict)
    optional = fields.List(fields.String(), load_default=list)  # canonical required args this dialect's callers may omit
    required = fields.List(fields.String(), load_default=list)  # canonical optional args this dialect's server required
    paths = fields.Dict(keys=fields.String(), values=fields.Nested(PathSchema), load_default=dict)  # {canonical arg: parts}
    values = fields.Dict(keys=fields.String(), values=ConverterName(), load_default=dict)
    defaults = fields.Dict(keys=fields.String(), load_default=dict)  # sent to this backend when omitted
    args_from = fields.Dict(keys=fields.String(), values=fields.Nested(ArgFromSchema), load_default=dict)
    # canonical calls made on the backend before this one: what this dialect's server did itself (1.x
    # create_repo created the missing parent groups), or what it needs to behave as canonical says
    before = fields.List(fields.Nested(StepSchema), load_default=list)
    result = fields.Nested(ResultRulesSchema, load_default=lambda: ResultRulesSchema().load({}))

    @validates_schema(pass_original=True)
    def _one_kind(self, data: dict, original: dict, **kwargs: Any) -> None:
        if "alias_of" in original and set(original) - {"alias_of", "about"}:
            raise ValidationError("`alias_of` stands alone: the alias takes every rule of its target")
        if "unsupported" in original and set(original) - {"unsupported", "canonical", "about"}:
            raise ValidationError("an `unsupported` method takes no other rules")
        result = original.get("result") or {}
        if "convert" in result and set(result) - {"convert"}:
            raise ValidationError("`convert` stands alone: the converter answers for the whole result", "result")
        for rule in ("always", "as_if"):
            both = set(data.get("absent", ())) & set(data.get(rule, {}))
            if both:
                raise ValidationError(f"`{sorted(both)[0]}` is in `absent` and `{rule}`: `{rule}` alone says it", rule)
        both = set(data.get("always", {})) & set(data.get("as_if", {}))
        if both:
            raise ValidationError(f"`{sorted(both)[0]}` is in `always` and `as_if`: `as_if` alone says it", "as_if")

    @post_load
    def _always_is_absent(self, data: dict, **kwargs: Any) -> dict:
        data["always"] = {**data.get("always", {}), **data.get("as_if", {})}
        data["absent"] = [*data.get("absent", ()), *data["always"]]
        return data


class EnvelopeSchema(_Strict):
    key_fields = fields.List(fields.String(), validate=validate.Length(min=1), required=True)
    send_key_as = fields.String(required=True)
    required = fields.List(fields.String(), required=True)  # top-level keys, checked in this order
    id_when_key_missing = fields.String(validate=validate.OneOf(["null", "echo"]), load_default="echo")
    layout = fields.String(validate=validate.OneOf(["compact", "pretty"]), load_default="compact")
    unknown_args = fields.String(validate=validate.OneOf(["reject", "drop"]), load_default="drop")
    # a method this file does not list, when the backend speaks this dialect too: refuse it here, or
    # forward it as sent and let the server answer (it alone knows every method it has)
    unknown_methods = fields.String(validate=validate.OneOf(["refuse", "forward"]), load_default="refuse")
    key_order = fields.List(  # the order of the answer's top-level keys, as this dialect's server writes them
        fields.String(validate=validate.OneOf(["id", "result", "error"])),
        validate=lambda v: sorted(v) == ["error", "id", "result"] or _fail("must name id, result and error once each"),
        load_default=lambda: ["id", "result", "error"],
    )
    # a key field present but empty or null: the invalid-key error (1.x, Kallithea), or as if missing (4.x)
    empty_key = fields.String(validate=validate.OneOf(["invalid", "missing"]), load_default="invalid")
    # a successful answer to a falsy id (0, "", null, false): the usual envelope, or the bare JSON string ""
    falsy_id_success = fields.String(validate=validate.OneOf(["envelope", "empty_string"]), load_default="envelope")
    canonical_header = fields.Boolean(load_default=False)  # answer with X-Rcgate-Canonical-Method
    # this server URL-decodes the whole request body before parsing it (RhodeCode 1.x: `+` became a
    # space): as a backend, rcgate escapes `%` and `+` so that every value arrives as sent
    url_decodes_body = fields.Boolean(load_default=False)
    # rcgate's own refusals (error ids) that this dialect's server gave only after it had accepted the
    # key: on those, rcgate first asks the backend whether the key is good (one read), and a bad key
    # gets the invalid-key error, as the server would have answered
    after_key = fields.List(fields.String(validate=lambda v: v in ERROR_IDS or _fail(f"`{v}` is no error id")),
                            load_default=list)


def _fail(message: str) -> bool:
    raise ValidationError(message)


ERROR_IDS = {
    # protocol errors, produced by rcgate itself
    "empty_body": "the request has no body",
    "body_too_large": "the request body is over the configured limit ({limit} bytes)",
    "too_deep": "arrays and objects in the body nest deeper than the configured limit ({limit} levels)",
    "parse_error": "the body is not valid JSON ({reason}, {raw})",
    "not_an_object": "the body is JSON but not an object",
    "missing_key": "no key field in the request",
    "missing_field": "a required top-level field is missing ({field})",
    "invalid_key": "the key was refused",
    "method_not_allowed": "method name starts with `_`",
    "method_not_string": "the method is not a string ({pytype}: its Python type, {pyrepr}: as Python 2 prints it)",
    "unknown_method": "no such method ({method})",
    "method_not_ascii": "no such method, and its name is not ASCII ({method})",
    "missing_arg": "a required argument is missing ({arg})",
    "unknown_args": "arguments the method does not take ({args})",
    "unsupported": "the method cannot be served ({method}, {reason})",
    "unsupported_arg": "an argument the backend cannot take ({arg})",
    "path_needs_name": "a path argument given by id where the backend takes a path ({arg}, {method})",
    "repo_by_id": "a repository given by numeric id while routes send repositories to several backends ({arg}, {value})",
    "backend_unavailable": "the backend could not be reached or answered garbage ({reason})",
    "internal_error": "an unexpected failure",
}


class VersionSchema(_Strict):
    """An older version of a dialect, as an overlay on its file: each rule it names replaces the same rule
    of the same method or object type; every other rule is the file's."""

    about = fields.String()
    # {method: [argument, ...]}: a call that uses one of these argument names was written for this version
    spellings = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), load_default=dict)
    errors = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    methods = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    objects = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)


class ViewKeySchema(_Strict):
    query = fields.String()  # the query parameter this server reads a key from on a web view
    header = fields.String()  # ... or the header (`Authorization` is sent as "Bearer <key>")

    @validates_schema
    def _one(self, data: dict, **kwargs: Any) -> None:
        if len(data) != 1:
            raise ValidationError("give one of `query` or `header`")


def _view_path(value: str) -> bool:
    if not value.startswith("{repo}/") and not value.startswith("_"):
        raise ValidationError("a view path starts with `{repo}/` (a repository's view) or `_` (the server's own)")
    return True


class ViewsSchema(_Strict):
    """How this dialect's server takes web views: its key, and its paths that differ from canonical ones."""

    key = fields.Nested(ViewKeySchema, required=True)
    # {this dialect's path: the canonical (modern RhodeCode) path}, `{repo}` standing for the repository
    paths = fields.Dict(keys=fields.String(validate=_view_path), values=fields.String(validate=_view_path),
                        load_default=dict)


class DialectSchema(_Strict):
    dialect = fields.String(required=True)
    views = fields.Nested(ViewsSchema, required=True)  # web views: where its server reads a key, paths
    about = fields.String()
    envelope = fields.Nested(EnvelopeSchema, required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    methods = fields.Dict(keys=fields.String(), values=fields.Nested(MethodSchema), required=True)
    objects = fields.Dict(keys=fields.String(), values=fields.Nested(ObjectRulesSchema), load_default=dict)
    # canonical methods this dialect's server cannot serve as a backend: {canonical method: reason};
    # its callers never had them (to them they do not exist, unlike a method declared `unsupported`)
    cannot_serve = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    # this dialect's methods its server allows a super-admin only; where the server says so ambiguously
    # (Kallithea: "Internal server error"), rcgate asks who the caller is and answers `access_denied`
    admin_only = fields.List(fields.String(), load_default=list)
    # older versions of this dialect, each answered as a dialect of its own, `<dialect>@<version>`
    versions = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[0-9][0-9.]*$")),
                           values=fields.Nested(VersionSchema), load_default=dict)

    @validates_schema
    def _protocol_errors_present(self, data: dict, **kwargs: Any) -> None:
        missing = sorted(set(ERROR_IDS) - set(data.get("errors", {})))
        if missing:
            raise ValidationError(f"missing texts for: {', '.join(missing)}", "errors")
