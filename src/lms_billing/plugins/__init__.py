"""The plugin manager factory, the registry of built-in plugins, and adapters that turn
LMS service clients into plugins."""

from lms_billing.plugins.directory import DirectoryPlugin, directory_plugin
from lms_billing.plugins.manager import BUILTIN_PLUGINS, PluginHost, get_plugin_manager

__all__ = [
    "BUILTIN_PLUGINS",
    "DirectoryPlugin",
    "PluginHost",
    "directory_plugin",
    "get_plugin_manager",
]
