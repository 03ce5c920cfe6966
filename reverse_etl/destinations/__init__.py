"""Every destination, by the `type` a sync definition names. One module per destination over `base`."""

from __future__ import annotations

from .base import Destination
from .file import FileDestination
from .hubspot import HubSpotDestination
from .postgres import PostgresDestination
from .webhook import WebhookDestination

DESTINATIONS: dict[str, type[Destination]] = {
    cls.type_name: cls for cls in (FileDestination, PostgresDestination, WebhookDestination, HubSpotDestination)
}
