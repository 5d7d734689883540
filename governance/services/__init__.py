"""State changes of the governance domain: named actions, each one transaction, one module per
subdomain. The identity actions are re-exported here, where the API and the demo find them."""

from governance.services.identity import (
    api_token_issue,
    api_token_revoke,
    api_token_touch,
    default_token_expiry,
    membership_add,
    membership_remove,
    party_create,
    token_create_for,
    user_create,
)

__all__ = [
    "api_token_issue",
    "api_token_revoke",
    "api_token_touch",
    "default_token_expiry",
    "membership_add",
    "membership_remove",
    "party_create",
    "token_create_for",
    "user_create",
]
