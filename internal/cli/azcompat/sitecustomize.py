"""Compatibility shim for Debian's azure-cli 2.45 (package azure-cli 2.45.0-1).

That az was written for the msrest generation of azure-mgmt-authorization, but
Debian's python3-azure ships the azure-core generation (3.0.0). Two calls break
before any request is sent, against Azure as against drydock:
  - `<operations>.config.subscription_id` (the attribute is now `_config`):
    `az role ...` fails with "AttributeError: 'RoleDefinitionsOperations' object
    has no attribute 'config'" (azure-cli issues 20546 and 26896);
  - `role_assignments.create(..., custom_headers=None)` (the keyword is now
    `headers`): `az aks create|update --attach-acr` retries for two minutes on
    "Session.request() got an unexpected keyword argument 'custom_headers'";
  - `ex.message == "The role assignment already exists."`: msrest's CloudError
    carried ARM's message alone, azure-core's HttpResponseError carries it
    with the code, so `--attach-acr` of a registry already attached retries
    for two minutes and fails with "Could not create a role assignment for
    ACR. Are you an Owner on this subscription?".

Put this directory first on PYTHONPATH when running that az: the operations
classes of azure.mgmt.authorization get `config` back as a read-only alias of
`_config`, their methods take `custom_headers` as `headers`, and the errors
they raise have ARM's message as `message`, as with the SDK that az was
written for. Nothing else changes. Debian's own sitecustomize still runs.
"""

import functools
import importlib.abc
import importlib.machinery
import os
import sys

_PACKAGE = "azure.mgmt.authorization."


def _as_msrest(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if "custom_headers" in kwargs:
            custom = kwargs.pop("custom_headers")
            if custom:
                kwargs["headers"] = {**kwargs.get("headers", {}), **custom}
        try:
            return method(*args, **kwargs)
        except Exception as ex:
            error = getattr(ex, "error", None)
            if getattr(error, "message", None):
                ex.message = error.message
            raise

    return wrapper


def _patch(module):
    for cls in list(vars(module).values()):
        if not (isinstance(cls, type) and cls.__name__.endswith("Operations")):
            continue
        if not hasattr(cls, "config"):
            cls.config = property(lambda self: self._config)
        for name, member in list(vars(cls).items()):
            if callable(member) and not name.startswith("_"):
                setattr(cls, name, _as_msrest(member))


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if not name.startswith(_PACKAGE) or ".operations" not in name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


sys.meta_path.insert(0, _Finder())

# Run the sitecustomize this one shadows (Debian's), if any.
_here = os.path.dirname(os.path.abspath(__file__))
for _dir in sys.path:
    if _dir and os.path.abspath(_dir) != _here and os.path.isfile(os.path.join(_dir, "sitecustomize.py")):
        with open(os.path.join(_dir, "sitecustomize.py")) as _f:
            exec(compile(_f.read(), os.path.join(_dir, "sitecustomize.py"), "exec"), {"__name__": "sitecustomize"})
        break
