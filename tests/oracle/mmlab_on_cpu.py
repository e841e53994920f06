"""Imports mmdetection 3.3.0 and mmsegmentation 1.2.2 on a machine with mmcv-lite, without editing
any installed file. Import this module before mmdet/mmseg.

Two things stand in the way, and both are handled here in memory only:

1. mmcv-lite ships no compiled ops, but `mmdet.models` and `mmseg.models` import `mmcv.ops` (and
   submodules such as `mmcv.ops.nms`) at package import for their detection heads and losses. The
   backbones the export tests build (ResNet, MobileNetV2) call none of them. A meta-path finder
   answers every `mmcv.ops*` import with a placeholder module whose attributes raise when called,
   so an op that *is* used fails loudly instead of computing something wrong.
2. mmdet 3.3.0 and mmseg 1.2.2 assert `mmcv < 2.2.0` at import, while the only mmcv without compiled
   ops on PyPI that installs here is mmcv-lite 2.2.0. The check reads `mmcv.__version__`; it is set
   to "2.1.0" for this process. Nothing of mmcv 2.2 that the backbones use differs (ConvModule,
   build_norm_layer, build_conv_layer come from mmcv.cnn, which mmcv-lite ships in full).
"""

import importlib.abc
import importlib.machinery
import sys
import types

import mmcv

MMCV_VERSION_SEEN = mmcv.__version__


class AbsentOp:
    """An attribute of the placeholder `mmcv.ops`: usable as a name or a base class, fails if run."""

    def __init__(self, name):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} needs mmcv's compiled ops, which mmcv-lite does not ship")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return AbsentOp(f"{self._name}.{name}")

    def __mro_entries__(self, bases):
        return (object,)


class AbsentOpsModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return AbsentOp(f"{self.__name__}.{name}")


class AbsentOpsFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "mmcv.ops" or name.startswith("mmcv.ops."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = AbsentOpsModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, AbsentOpsFinder())
mmcv.__version__ = "2.1.0"
