"""The config service: hot reloads of strategy, risk, OMS and fee parameters, versioned and audited.

* ``diff``     what changed between two configurations (text, secrets redacted) and what needs a restart
* ``service``  ``ConfigService``: the running version, ``record_start``, ``reload`` → applied | rejected | unchanged
* ``watcher``  ``ConfigWatcher`` (a change of the file's content) and the SIGHUP flag
* ``messages`` ``SettingsChanged``: the new configuration, told to every actor of a symbol's tree at once
"""

from actors.config.diff import HOT_TABLES, RESTART_KEYS, settings_diff
from actors.config.messages import SettingsChanged
from actors.config.service import Applied, ConfigService, Rejected, ReloadResult, Unchanged
from actors.config.watcher import ConfigWatcher, ReloadRequest, install_reload_signal

__all__ = ["HOT_TABLES", "RESTART_KEYS", "Applied", "ConfigService", "ConfigWatcher", "Rejected", "ReloadRequest",
           "ReloadResult", "SettingsChanged", "Unchanged", "install_reload_signal", "settings_diff"]
