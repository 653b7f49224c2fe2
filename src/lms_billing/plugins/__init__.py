"""The plugin manager factory and the registry of built-in plugins."""

from lms_billing.plugins.manager import BUILTIN_PLUGINS, PluginHost, get_plugin_manager

__all__ = ["BUILTIN_PLUGINS", "PluginHost", "get_plugin_manager"]
