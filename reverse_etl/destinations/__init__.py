"""Every destination, by the `type` a sync definition names. One module per destination over `base`."""

from __future__ import annotations

from .base import Destination
from .braze import BrazeDestination
from .file import FileDestination
from .google_ads import GoogleAdsDestination
from .hubspot import HubSpotDestination
from .klaviyo import KlaviyoDestination
from .mailchimp import MailchimpDestination
from .meta import MetaDestination
from .postgres import PostgresDestination
from .salesforce import SalesforceDestination
from .webhook import WebhookDestination

DESTINATIONS: dict[str, type[Destination]] = {
    cls.type_name: cls
    for cls in (
        FileDestination,
        PostgresDestination,
        WebhookDestination,
        HubSpotDestination,
        KlaviyoDestination,
        MetaDestination,
        GoogleAdsDestination,
        MailchimpDestination,
        BrazeDestination,
        SalesforceDestination,
    )
}
