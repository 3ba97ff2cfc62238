"""How a stack declares customer-managed keys: the one definition the program (configuration/stack.py writes the tag)
and the pack (encryption.py reads it) share. Plain Python only, like production.py: the program's runtime has no
pulumi_policy.

A stack declares them by either signal: the pack's `customerManagedKeys: true` in its policy config, or the tag
CMK_TAG=CMK_TAG_VALUE the program writes on every resource when `encryption.customerManagedKeys` is on.
"""

from __future__ import annotations

import re

CMK_TAG = "encryption"
CMK_TAG_VALUE = "customer-managed-keys"

# Key Vault Crypto Service Encryption User: read key metadata, wrap and unwrap, nothing else
# (azure-security-docs@1c4310b:articles/key-vault/general/rbac-guide.md:87).
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"

# A Key Vault key URI with a version pins the service to that version; without one, the service follows rotation.
_VERSIONED_KEY_URI = re.compile(r"^https://[^/]+/keys/[^/]+/[0-9a-fA-F]{32}/?$")


def versioned_key_uri(uri: str) -> bool:
    return bool(_VERSIONED_KEY_URI.match(uri.strip()))
