#!/usr/bin/python3
"""Describe the SDK models az deserializes, for drydock's CLI to print what az prints.

az prints a command's result as knack's todict over the Python SDK's model:
every attribute of the model (null when the response lacks it) under its
Python name in camelCase (osDiskSizeGB -> osDiskSizeGb), flattened attributes
(properties.x) lifted, dictionaries' keys untouched, datetimes as Python's
isoformat, and keys the model does not know kept as sent (additional
properties). This script reads those models from the az installed here, at
the api-versions az's 'latest' profile uses for each command, and writes

  internal/cli/azmodel/models.json      the models: per SDK package, per model,
                                        [output key, REST key, type] per attribute
                                        (embedded in drydock; azmodel.Render uses it)
  internal/cli/azmodel/testdata/*.az.json
                                        what the SDK and knack make of each
                                        testdata/*.arm.json ({"model": root,
                                        "arm": response}), for azmodel's tests

Regenerate after changing ROOTS, a fixture, or the az it describes, with
Debian's az and its Python (not pyenv's python3, which lacks the azure
packages):

  /usr/bin/python3 scripts/gen-az-models.py      # from the repository root

and commit models.json and the testdata. It describes azure-cli 2.45.0
(Debian's package) today; the version is recorded in models.json.
"""

import importlib
import json
import os
import re
import sys
from enum import Enum

from azure.cli.core import __version__ as AZ_VERSION
from azure.cli.core.commands import AzCliCommandInvoker
from azure.cli.core.profiles import AZURE_API_PROFILES, ResourceType
from knack.util import todict, to_camel_case

# The models drydock's CLI renders, by the name its Go code uses: the SDK
# (an az resource type), the operation group whose api-version az uses, and
# the model the operation deserializes.
ROOTS = [
    # az group create|show|list
    ("ResourceGroup", ResourceType.MGMT_RESOURCE_RESOURCES, "resource_groups", "ResourceGroup"),
    # az acr create|show|list|update
    ("Registry", ResourceType.MGMT_CONTAINERREGISTRY, "registries", "Registry"),
    # az identity create|show|list
    ("Identity", ResourceType.MGMT_MSI, "user_assigned_identities", "Identity"),
    # az aks create|show|list|update
    ("ManagedCluster", ResourceType.MGMT_CONTAINERSERVICE, "managed_clusters", "ManagedCluster"),
    # az aks nodepool add|show|list|scale
    ("AgentPool", ResourceType.MGMT_CONTAINERSERVICE, "agent_pools", "AgentPool"),
    # az role assignment create|list
    ("RoleAssignment", ResourceType.MGMT_AUTHORIZATION, "role_assignments", "RoleAssignment"),
    # az role definition list
    ("RoleDefinition", ResourceType.MGMT_AUTHORIZATION, "role_definitions", "RoleDefinition"),
]

# The msrest types the Go renderer implements (besides models, [T] and {T}).
BASIC_TYPES = {"str", "bool", "int", "long", "float", "object", "iso-8601", "date"}

# msrest's split of a flattened key on dots that are not escaped.
FLATTEN = re.compile(r"(?<!\\)\.")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "internal", "cli", "azmodel")


def api_version(resource_type, operation_group):
    """The api-version az's 'latest' profile uses for an operation group."""
    version = AZURE_API_PROFILES["latest"][resource_type]
    if isinstance(version, str):
        return version
    return version.profile.get(operation_group, version.default_api_version)


def models_module(resource_type, version):
    return importlib.import_module("{}.v{}.models".format(resource_type.import_prefix, version.replace("-", "_")))


def package_name(resource_type, version):
    # azure.mgmt.resource.resources -> resource.resources@2021-04-01
    return "{}@{}".format(resource_type.import_prefix[len("azure.mgmt."):], version)


def deserializer_for(module):
    """The Deserializer the SDK's operations use for this models module."""
    classes = {k: v for k, v in vars(module).items() if isinstance(v, type)}
    model_base = next(c for c in classes.values() if hasattr(c, "_attribute_map")).__mro__[-2]
    serialization = sys.modules[model_base.__module__]
    return serialization.Deserializer(classes), classes


def element_type(t):
    """The type inside any number of [..] and {..}."""
    while t[:1] in "[{" and t[-1:] in "]}":
        t = t[1:-1]
    return t


def describe(module, root):
    """Every model reachable from root: name -> [[output key, REST key, type], ...]."""
    deserialize, classes = deserializer_for(module)
    models, pending = {}, [root]
    while pending:
        name = pending.pop()
        if name in models:
            continue
        cls = classes[name]
        if cls._attribute_map.get("additional_properties", {}).get("key", "") != "":
            sys.exit("{}: {} has a real additionalProperties attribute; the renderer does not know it".format(module.__name__, name))
        if getattr(cls, "_subtype_map", None):
            sys.exit("{}: {} is polymorphic (_subtype_map); the renderer does not classify".format(module.__name__, name))
        # What todict walks is the deserialized instance's __dict__: constants
        # held by the class do not print, and each attribute prints under its
        # Python name in camelCase.
        empty = deserialize(name, {})
        attrs = []
        for attr, value in vars(empty).items():
            if attr.startswith("_") or callable(value) or attr == "additional_properties":
                continue
            desc = cls._attribute_map.get(attr)
            if desc is None or value is not None:
                sys.exit("{}: {}.{} is not a plain attribute".format(module.__name__, name, attr))
            key, typ = desc["key"], desc["type"]
            segments = FLATTEN.split(key)
            if any("\\" in s for s in segments) or key == "":
                sys.exit("{}: {}.{} has key {!r}".format(module.__name__, name, attr, key))
            inner = element_type(typ)
            if inner in classes:
                if issubclass(classes[inner], Enum):
                    sys.exit("{}: {}.{} is an enum type ({}); the renderer does not map enums".format(module.__name__, name, attr, inner))
                pending.append(inner)
            elif inner not in BASIC_TYPES:
                sys.exit("{}: {}.{} has type {!r}, which the renderer does not know".format(module.__name__, name, attr, typ))
            attrs.append([to_camel_case(attr), key, typ])
        models[name] = attrs
    return models


def render_models(doc):
    """models.json: one attribute per line, so that a regeneration diffs well."""
    lines = ["{"]
    lines.append('  "az": {},'.format(json.dumps(doc["az"])))
    lines.append('  "generator": {},'.format(json.dumps(doc["generator"])))
    lines.append('  "roots": {')
    roots = sorted(doc["roots"].items())
    for i, (name, (package, model)) in enumerate(roots):
        lines.append("    {}: [{}, {}]{}".format(json.dumps(name), json.dumps(package), json.dumps(model), "," if i < len(roots) - 1 else ""))
    lines.append("  },")
    lines.append('  "packages": {')
    packages = sorted(doc["packages"].items())
    for i, (package, models) in enumerate(packages):
        lines.append("    {}: {{".format(json.dumps(package)))
        names = sorted(models)
        for j, name in enumerate(names):
            lines.append("      {}: [".format(json.dumps(name)))
            attrs = models[name]
            for k, attr in enumerate(attrs):
                lines.append("        {}{}".format(json.dumps(attr), "," if k < len(attrs) - 1 else ""))
            lines.append("      ]{}".format("," if j < len(names) - 1 else ""))
        lines.append("    }}{}".format("," if i < len(packages) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    doc = {"az": AZ_VERSION, "generator": "scripts/gen-az-models.py", "roots": {}, "packages": {}}
    modules = {}
    for name, resource_type, operation_group, model in ROOTS:
        version = api_version(resource_type, operation_group)
        module = models_module(resource_type, version)
        package = package_name(resource_type, version)
        modules[name] = module
        doc["roots"][name] = [package, model]
        doc["packages"].setdefault(package, {}).update(describe(module, model))
    with open(os.path.join(OUT_DIR, "models.json"), "w") as f:
        f.write(render_models(doc))

    # Golden outputs: the SDK's deserializer and az's todict over each fixture.
    testdata = os.path.join(OUT_DIR, "testdata")
    for fixture in sorted(os.listdir(testdata)):
        if not fixture.endswith(".arm.json"):
            continue
        with open(os.path.join(testdata, fixture)) as f:
            case = json.load(f)
        deserialize, _ = deserializer_for(modules[case["model"]])
        _, model = doc["roots"][case["model"]]
        arm = case["arm"]
        if isinstance(arm, list):
            result = [deserialize(model, item) for item in arm]
        else:
            result = deserialize(model, arm)
        out = todict(result, AzCliCommandInvoker.remove_additional_prop_layer)
        with open(os.path.join(testdata, fixture[: -len(".arm.json")] + ".az.json"), "w") as f:
            f.write(json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
