"""The governance domain's models, one module per subdomain."""

from governance.models.catalog import (
    Credit,
    CreditRole,
    Likeness,
    Release,
    ReleaseTrack,
    Right,
    RightsShare,
    TerritoryMode,
    Work,
    WorkKind,
)
from governance.models.consent import ConsentMatrixVersion, ConsentRule, ConsentRuleVersion
from governance.models.identity import (
    ApiToken,
    ApiTokenManager,
    Membership,
    Party,
    PartyKind,
    Posture,
    Role,
)
from governance.models.imports import ImportFormat, ImportJob, ImportStatus

__all__ = [
    "ApiToken",
    "ApiTokenManager",
    "ConsentMatrixVersion",
    "ConsentRule",
    "ConsentRuleVersion",
    "Credit",
    "CreditRole",
    "ImportFormat",
    "ImportJob",
    "ImportStatus",
    "Likeness",
    "Membership",
    "Party",
    "PartyKind",
    "Posture",
    "Release",
    "ReleaseTrack",
    "Right",
    "RightsShare",
    "Role",
    "TerritoryMode",
    "Work",
    "WorkKind",
]
